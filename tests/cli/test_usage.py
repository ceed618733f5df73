"""Bad usage and bad input: exit 2, one or two plain lines, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import SAMPLES, Run

RECIPIENTS = str(SAMPLES / "recipients.csv")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["send", "missing.csv", "--text", "Hi"], "does not exist"),
        (["send", RECIPIENTS, "--text", "Hi", "--to-column", "phone"], "no 'phone' column"),
        (["send", RECIPIENTS, "--text", "Hi", "--from", "4155550100"], "not an E.164 number"),
        (["send", RECIPIENTS], "no text"),
        (["send", RECIPIENTS, "--text", "Hi", "--concurrency", "0"], "concurrency"),
        (["send", RECIPIENTS, "--text", "Hi", "--max-batch-bytes", "10"], "max_batch_bytes"),
        (["send", RECIPIENTS, "--text", "Hi", "--bogus"], "No such option"),
        (["resume", "missing.journal"], "no such journal"),
        (["status", "missing.journal"], "no such journal"),
        (["frobnicate"], "No such command"),
    ],
)
def test_bad_usage_exits_2_without_a_traceback(run: Run, args: list[str], message: str) -> None:
    done = run(*args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert message in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert len(done.stderr.strip().splitlines()) <= 4  # click's usage lines included


def test_bad_column_names_file_line_and_hint(run: Run) -> None:
    done = run("send", RECIPIENTS, "--text", "Hi", "--to-column", "phone")
    first, *rest = done.stderr.strip().splitlines()
    assert first.startswith("hvsms: error: ") and "recipients.csv:1" in first
    assert rest and "hint:" in rest[0]


def test_unreadable_input_is_bad_input(run: Run, tmp_path: Path) -> None:
    xlsx = tmp_path / "list.csv"
    xlsx.write_bytes(b"PK\x03\x04" + b"\0" * 100)
    done = run("send", str(xlsx), "--text", "Hi")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr


def test_debug_shows_the_traceback(run: Run) -> None:
    done = run("send", RECIPIENTS, "--text", "Hi", "--to-column", "phone", "--debug")
    assert done.returncode == 2
    assert "Traceback" in done.stderr


def test_credentials_without_yes_on_a_pipe_refuse(run: Run) -> None:
    # Nothing listens on port 9: the refusal must come before any connection.
    env = {"RC_SERVER_URL": "http://127.0.0.1:9", "RC_APP_CLIENT_ID": "client-id-x",
           "RC_APP_CLIENT_SECRET": "client-secret-x", "RC_USER_JWT": "user-jwt-x"}
    done = run("send", RECIPIENTS, "--text", "Hi", env=env)
    assert done.returncode == 2, done.stderr
    assert "--yes" in done.stderr
    assert "client-secret-x" not in done.stdout + done.stderr


def test_incomplete_credentials_are_a_usage_error(run: Run) -> None:
    done = run("send", RECIPIENTS, "--text", "Hi", env={"RC_APP_CLIENT_ID": "only-this"})
    assert done.returncode == 2
    assert "incomplete credentials" in done.stderr


def test_plain_http_to_a_remote_host_is_refused(run: Run) -> None:
    env = {"RC_SERVER_URL": "http://example.com", "RC_APP_CLIENT_ID": "client-id-x",
           "RC_APP_CLIENT_SECRET": "client-secret-x", "RC_USER_JWT": "user-jwt-x"}
    done = run("send", RECIPIENTS, "--text", "Hi", "--yes", env=env)
    assert done.returncode == 2
    assert "plain http" in done.stderr


def test_help_lists_the_commands(run: Run) -> None:
    done = run("--help")
    assert done.returncode == 0
    for command in ("send", "resume", "status", "emulator"):
        assert command in done.stdout
    emu = run("emulator", "--help")
    assert emu.returncode == 0 and "--port" in emu.stdout
