"""`engine.logs`: secrets never reach the log output."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest

from engine.config import Credentials
from engine.logs import RedactingFilter, redact, setup_logging

JWT = ("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwiYXVkIjoiaHR0cHMifQ."
       "c2lnbmF0dXJlLXNpZ25hdHVyZQ")


def test_redact_bearer_basic_jwt_and_params() -> None:
    text = (f"Authorization: Bearer U0pDMDFQMDlQQVMwMHxBQUFL Basic YWJjOmRlZg== "
            f"token {JWT} url ?access_token=abc123&x=1 assertion={JWT}")
    out = redact(text)
    for leaked in ("U0pDMDFQMDlQQVMwMHxBQUFL", "YWJjOmRlZg==", JWT, "abc123", "eyJ"):
        assert leaked not in out
    assert "Bearer ***" in out and "Basic ***" in out and "x=1" in out


def test_redact_credentials_values() -> None:
    creds = Credentials("https://platform.ringcentral.com", "my-client-id-42",
                        "my-very-secret", "not.a.jwt.but.secret")
    f = RedactingFilter(creds.secrets)
    text = f.redact("login with my-client-id-42 my-very-secret not.a.jwt.but.secret done")
    assert text == "login with *** *** *** done"


@pytest.fixture
def captured(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], str]]:
    """The handler writes to whatever sys.stderr is at the time: capsys sees it."""
    try:
        yield lambda: capsys.readouterr().err
    finally:
        root = logging.getLogger()
        for h in list(root.handlers):
            root.removeHandler(h)
        logging.getLogger("engine").setLevel(logging.NOTSET)
        logging.captureWarnings(False)


def test_setup_logging_redacts_messages_args_and_tracebacks(captured: Callable[[], str]) -> None:
    redactor = setup_logging(debug=True)
    redactor.add_secrets(["s3cr3t-value"])
    log = logging.getLogger("engine.test")
    log.debug("token %s for %s", JWT, "s3cr3t-value")
    try:
        raise RuntimeError("failed with Bearer abcdefgh12345678 and s3cr3t-value")
    except RuntimeError:
        log.exception("boom")
    logging.getLogger("aiohttp.client").warning("header Authorization: Bearer zzzzyyyyxxxx")
    out = captured()
    assert "token *** for ***" in out
    assert "Traceback" in out and "RuntimeError" in out
    for leaked in (JWT, "s3cr3t-value", "abcdefgh12345678", "zzzzyyyyxxxx"):
        assert leaked not in out


def test_default_level_hides_info_and_drops_repeated_lines(captured: Callable[[], str]) -> None:
    setup_logging(drop=("built-in emulator",))
    log = logging.getLogger("engine.job")
    log.info("an info line")
    log.warning("running on the built-in emulator")
    log.warning("a warning")
    out = captured()
    assert "an info line" not in out and "built-in emulator" not in out
    assert out == "hvsms: WARNING: a warning\n"
