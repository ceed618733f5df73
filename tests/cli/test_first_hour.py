"""The first hour with real data: credentials that fail fast, the plan's preview and
smart encoding, -q, the ETA, Ctrl-C in every phase. `python -m engine` as a subprocess."""

from __future__ import annotations

import asyncio
import os
import re
import select
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import cfg, opts, until, wait_until

import engine
from engine.emulator import CREATE_BATCH, EmulatorConfig, EmulatorProcess, FaultConfig

from .conftest import REPO, Run, base_env, cli_command, emulator_env
from .helpers import Follow

EMULATOR_DONE = "job completed on the built-in emulator: nothing was sent to phones"


def _csv(workdir: Path, n: int = 2, text: str | None = None) -> Path:
    path = workdir / "r.csv"
    rows = "".join(f"+1415555{i:04d}" + (f",{text}" if text else "") + "\n" for i in range(n))
    path.write_text(("to,text\n" if text else "to\n") + rows, encoding="utf-8")
    return path


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SilentServer:
    """A loopback server that takes connections (the kernel does) and never answers."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"

    def connected(self) -> bool:
        """Whether a client has connected (a connection waits to be accepted)."""
        return bool(select.select([self.sock], [], [], 0)[0])


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield SilentServer(s)


# --- credentials -------------------------------------------------------------------------

def test_server_url_alone_means_the_real_service(run: Run, workdir: Path) -> None:
    done = run("send", str(_csv(workdir)), "--text", "Hi",
               env={"RC_SERVER_URL": "https://platform.ringcentral.com"})
    assert done.returncode == 2
    assert done.stderr.splitlines()[0] == (
        "hvsms: error: incomplete credentials: RC_SERVER_URL is set, so the real RingCentral "
        "service is meant, but RC_APP_CLIENT_ID, RC_APP_CLIENT_SECRET, RC_USER_JWT are not set")
    assert "RC_CLIENT_ID, RC_CLIENT_SECRET, RC_JWT" in done.stderr  # the older names, named
    assert "job completed" not in done.stdout


def test_legacy_variable_names_are_read_with_a_note(
    run: Run, workdir: Path, external_emulator: EmulatorProcess,
) -> None:
    c = external_emulator.credentials
    env = {"RC_SERVER_URL": c.server_url, "RC_CLIENT_ID": c.client_id,
           "RC_CLIENT_SECRET": c.client_secret, "RC_JWT": c.jwt}
    done = run("send", str(_csv(workdir)), "--text", "Hi. Reply STOP to opt out", "--yes",
               env=env)
    assert done.returncode == 0, done.stderr
    assert "note: RC_CLIENT_ID read as RC_APP_CLIENT_ID (RingCentral's current name for it)" \
        in done.stdout
    assert done.stdout.splitlines()[-1] == "job completed (2 accepted, 0 rejected, 0 dropped)"
    ledger = external_emulator.ledger()
    assert ledger["accepted"] == 2
    # The check before planning hands its session to the job: one login (Auth: 5 a minute).
    assert ledger["requests"]["token"] == 1


def test_dotenv_is_read_by_the_cli_and_the_library_alike(
    run: Run, workdir: Path, external_emulator: EmulatorProcess, monkeypatch: pytest.MonkeyPatch,
) -> None:
    dotenv = "".join(f"{k}={v}\n" for k, v in emulator_env(external_emulator).items())
    (workdir / ".env").write_text(dotenv)
    source = _csv(workdir)
    done = run("send", str(source), "--text", "Hi", "--yes")
    assert done.returncode == 0, done.stderr
    assert f"server: {external_emulator.url}" in done.stdout
    assert external_emulator.ledger()["accepted"] == 2
    for name in ("RC_SERVER_URL", "RC_APP_CLIENT_ID", "RC_APP_CLIENT_SECRET", "RC_USER_JWT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(workdir)
    # The CLI just sent this file: the library would refuse to repeat it unless asked.
    report = asyncio.run(engine.send_bulk(source, text="Hi", options=opts(), again=True))
    assert report.status == "completed", report.message
    assert (report.emulator, report.server) == (False, external_emulator.url)
    assert external_emulator.ledger()["accepted"] == 4


def test_the_last_line_says_the_emulator_was_used(run: Run, workdir: Path) -> None:
    done = run("send", str(_csv(workdir)), "--text", "Hi")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == f"{EMULATOR_DONE} (2 accepted, 0 rejected, 0 dropped)"


def test_login_and_sender_are_checked_before_the_file_is_read(
    run: Run, workdir: Path, external_emulator: EmulatorProcess,
) -> None:
    # The last row is unreadable: reading the file first would report that instead.
    source = workdir / "r.csv"
    source.write_bytes(b"to,name\n+14155550100,Ann\n+14155550101,Ren\xe9e\n")
    env = emulator_env(external_emulator)
    done = run("send", str(source), "--text", "Hi", "--from", "+16505550102", "--yes", env=env)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        ("hvsms: error: +16505550102 is not an A2P SMS sender of this account "
        "(A2P senders: +16505550100, +16505550101, +18885550100)")]
    assert "Plan" not in done.stdout
    wrong = run("send", str(source), "--text", "Hi", "--yes",
                env={**env, "RC_APP_CLIENT_SECRET": "not-the-secret"})
    assert wrong.returncode == 1
    assert wrong.stderr.splitlines() == [
        "hvsms: error: HTTP 401 from token: OAU-123: Invalid client",
        ("  hint: check RC_APP_CLIENT_ID and RC_APP_CLIENT_SECRET (the app's client credentials),"
        " and that RC_SERVER_URL is the app's environment (sandbox apps: "
        "https://platform.devtest.ringcentral.com)")]
    jwt = run("send", str(source), "--text", "Hi", "--yes", env={**env, "RC_USER_JWT": "nope"})
    assert jwt.returncode == 1
    assert "  hint: check RC_USER_JWT" in jwt.stderr
    assert external_emulator.ledger()["batches"] == 0


@pytest.mark.parametrize("where", ["dns", "refused"])
def test_unreachable_server_fails_at_once_with_a_hint(run: Run, workdir: Path,
                                                      where: str) -> None:
    url = ("https://hvsms-nonexistent.invalid" if where == "dns"
           else f"http://127.0.0.1:{_closed_port()}")
    env = {"RC_SERVER_URL": url, "RC_APP_CLIENT_ID": "id-123456",
           "RC_APP_CLIENT_SECRET": "secret-123456", "RC_USER_JWT": "jwt-123456"}
    started = time.monotonic()
    done = run("send", str(_csv(workdir)), "--text", "Hi", "--yes", env=env)
    assert time.monotonic() - started < 8  # was 16 s of retries
    assert done.returncode == 1
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"hvsms: error: cannot reach {url}: ")
    hint = ("the host name does not resolve: check RC_SERVER_URL" if where == "dns"
            else "the connection was refused: check the host and port in RC_SERVER_URL")
    assert hint in line
    assert "Traceback" not in done.stderr


# --- progress and interruptions -----------------------------------------------------------

def _interrupt_after(args: list[str], env: dict[str, str], cwd: Path,
                     ready: Callable[[list[str]], bool]) -> tuple[int, str, str]:
    """Start hvsms, SIGINT it once `ready(stdout lines so far)` holds: (exit code, stdout,
    stderr). What it must not wait for takes far longer than the 60 s it gets to exit."""
    proc = subprocess.Popen(cli_command(*args), cwd=cwd, env=base_env(env),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    follow = Follow(proc)
    try:
        wait_until(lambda: ready(list(follow.out)) or proc.poll() is not None, "ready")
        assert proc.poll() is None, f"ended before the signal: {follow.finish()}"
        proc.send_signal(signal.SIGINT)
        out, err = follow.finish(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, out, err


def test_ctrl_c_while_logging_in_is_answered_at_once(workdir: Path,
                                                     silent_server: SilentServer) -> None:
    env = {"RC_SERVER_URL": silent_server.url, "RC_APP_CLIENT_ID": "id-123456",
           "RC_APP_CLIENT_SECRET": "secret-123456", "RC_USER_JWT": "jwt-123456"}
    # Signalled once the login's connection is made: the answer would take the 120 s
    # request timeout, the exit must come before (`_interrupt_after` allows 60 s).
    code, _, err = _interrupt_after(
        ["send", str(_csv(workdir)), "--text", "Hi", "--yes"], env, workdir,
        ready=lambda _: silent_server.connected())
    assert code == 130, err
    assert "Traceback" not in err


async def test_ctrl_c_while_the_library_logs_in_returns_at_once(silent_server: SilentServer,
                                                                tmp_path: Path) -> None:
    source = _csv(tmp_path)
    creds = engine.Credentials(silent_server.url, "id-123456", "secret-123456", "jwt-123456")
    job = engine.job.Job(str(source), text="Hi", sender=None, credentials=creds, journal=None,
                         options=opts(), progress=None)
    task = asyncio.create_task(job.run())
    await until(silent_server.connected, "the login's connection")
    job.stop()
    # The login would wait out the 120 s request timeout; the stop must not.
    report = await asyncio.wait_for(task, 60)
    assert (report.status, report.message) == (
        "interrupted", "interrupted before sending: nothing was sent")
    assert report.journal is None  # nothing was sent: the temporary journal is gone


def _progress_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("sending: ")]


def test_retries_show_in_progress_and_ctrl_c_does_not_wait_for_them(
    workdir: Path, tmp_path: Path,
) -> None:
    # The 503 asks for ten minutes: a stop that waited them out would not exit in 60 s.
    faults = FaultConfig(error_503_share=1.0, retry_after_503=600.0, paths=(CREATE_BATCH,))
    with EmulatorProcess(EmulatorConfig(faults=faults)) as emu:
        env = {**emulator_env(emu), "HVSMS_PROGRESS_INTERVAL": "0.2"}
        code, out, err = _interrupt_after(
            ["send", str(_csv(workdir)), "--text", "Hi", "--yes", "-j", "job.journal"],
            env, workdir, ready=lambda lines: any("retries 1" in line for line in lines))
        assert emu.ledger()["batches"] == 0
        assert emu.ledger()["faults"] == {"error_503": 1}  # no second try before the stop
    assert any(re.search(r"retries [1-9]", line) for line in _progress_lines(out)), out
    assert code == 130, err
    assert "Resume with: hvsms resume job.journal" in out


def test_eta_during_processing_comes_from_the_processed_rate(workdir: Path) -> None:
    with EmulatorProcess(cfg(processing_rate=1000)) as emu:
        env = {**emulator_env(emu), "HVSMS_PROGRESS_INTERVAL": "0.3"}
        done = subprocess.run(
            cli_command("send", str(_csv(workdir, 4000)), "--text", "Hi. Reply STOP to opt out",
                        "--yes", "--max-batch-messages", "2000"),
            cwd=workdir, env=base_env(env), stdin=subprocess.DEVNULL, capture_output=True,
            text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    processing = [line for line in _progress_lines(done.stdout)
                  if "processed" in line and "batches 2/2 submitted, 2 completed" not in line]
    assert processing, done.stdout
    assert all("ETA -" not in line for line in processing), processing


# --- -q ------------------------------------------------------------------------------------

def test_quiet_prints_the_final_line_only(run: Run, workdir: Path,
                                          external_emulator: EmulatorProcess) -> None:
    done = run("send", str(_csv(workdir)), "--text", "Hi", "-q")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"{EMULATOR_DONE} (2 accepted, 0 rejected, 0 dropped)"]
    real = run("send", str(_csv(workdir)), "--text", "Hi", "-q", "--yes",
               env=emulator_env(external_emulator))
    assert real.returncode == 0, real.stderr
    assert real.stdout.splitlines() == ["job completed (2 accepted, 0 rejected, 0 dropped)"]
    assert real.stderr == ""


# --- the plan: preview, smart encoding, opt-out wording -----------------------------------

TYPOGRAPHIC = "Hi \u2014 it\u2019s our \u201cspring sale\u201d\u2026 " + "x" * 50


def test_plan_preview_and_smart_encoding(run: Run, workdir: Path,
                                         external_emulator: EmulatorProcess) -> None:
    source = workdir / "r.csv"
    source.write_text("to,name\n+14155550100,Ann\n+14155550101,Bo\u00a0\n+14155550102,Cy\n"
                      "+14155550103,Di\n", encoding="utf-8")
    text = "{name}: " + TYPOGRAPHIC
    plain = run("send", str(source), "--text", text, "--dry-run", "--no-smart-encoding")
    assert plain.returncode == 0, plain.stderr
    lines = plain.stdout.splitlines()
    start = lines.index("Preview (the first 3 messages, as they will be sent):")
    assert lines[start + 1:start + 3] == [
        ("  line 2, +14155550100: 84 characters, UCS-2 because of \u2014 U+2014, \u2019 U+2019, "
        "\u201c U+201C, \u201d U+201D, \u2026 U+2026, 2 segments"),
        f"    Ann: {TYPOGRAPHIC}"]
    assert "because of U+00A0, \u2014 U+2014" in lines[start + 3]  # the invisible one, named
    assert not any(line.startswith("smart encoding:") for line in lines)
    # By default: the same messages in GSM-7, one segment each, and what that saves.
    smart = run("send", str(source), "--text", text, "--yes",
                env=emulator_env(external_emulator))
    assert smart.returncode == 0, smart.stderr
    out = smart.stdout.splitlines()
    assert ("  line 2, +14155550100: 86 characters, GSM-7, 1 segment" in out)
    assert ('    Ann: Hi - it\'s our "spring sale"... ' + "x" * 50) in out
    assert ("smart encoding: 4 messages 2 -> 1 segments, $0.03 saved (--no-smart-encoding sends "
            "the texts as written)") in out
    assert out.index("Plan") < out.index("smart encoding: 4 messages 2 -> 1 segments, $0.03 saved"
                                          " (--no-smart-encoding sends the texts as written)")
    assert ("warning: the messages say nothing about opting out (e.g. 'Reply STOP to opt out'); "
            "carriers expect it in marketing texts and may filter those without it") in out


def test_report_directories_are_in_the_gitignore_and_its_readme_example() -> None:
    assert "hvsms-report-*/" in (REPO / ".gitignore").read_text().splitlines()
    readme = (REPO / "README.md").read_text()
    example = readme[readme.index("```gitignore"):]
    assert "hvsms-report-*/" in example[:example.index("```", 3)]


def test_no_stray_environment(workdir: Path) -> None:
    # The tests above rely on a clean environment: no RC_* variable leaks in.
    assert not any(k.startswith("RC_") for k in base_env())
    assert os.path.isdir(workdir)
