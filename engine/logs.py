"""Logging for the command line: one handler on stderr, with secrets redacted.

Only the CLI configures logging (the library just logs to its own
``engine.*`` loggers). Every record passes `RedactingFilter`, which removes
bearer tokens, HTTP Basic credentials, JWT-looking strings and the values of
the active `Credentials` from the message and from any formatted traceback.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import re
import sys
from collections.abc import Iterable
from typing import TextIO

__all__ = ["JsonLinesHandler", "RedactingFilter", "add_json_log", "redact", "setup_logging"]

REDACTED = "***"

# `Bearer <token>` / `Basic <base64>` as in an Authorization header.
_AUTH_HEADER = re.compile(r"\b(Bearer|Basic)(\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
# A JWT: base64url JSON header (`{"` encodes to `eyJ`), then payload and signature.
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*){0,2}")
# Tokens in query strings or form bodies (`access_token=…`, `assertion=…`).
_TOKEN_PARAM = re.compile(
    r"\b(access_token|refresh_token|assertion|client_secret|jwt)(=)[^&\s\"']+", re.IGNORECASE
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with tokens, JWTs and the given secret values replaced by ``***``."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _AUTH_HEADER.sub(rf"\1\2{REDACTED}", text)
    text = _TOKEN_PARAM.sub(rf"\1\2{REDACTED}", text)
    return _JWT.sub(REDACTED, text)


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (and traceback text) with secrets redacted.

    Attach it to handlers, not loggers, so records from every logger pass it.
    `add_secrets` registers more values (the active `Credentials.secrets`).
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self.add_secrets(secrets)

    def add_secrets(self, secrets: Iterable[str]) -> None:
        # Very short values would blank out ordinary words; real secrets are long.
        self._secrets.update(s for s in secrets if s and len(s) >= 4)

    def redact(self, text: str) -> str:
        return redact(text, self._secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not crash logging
            message = f"{record.msg!r} {record.args!r}"
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
            record.exc_info = None  # format from the redacted text only
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever `sys.stderr` is when a record is emitted.

    A live progress display swaps `sys.stderr` for a proxy that prints above
    the display; looking it up late keeps log lines from tearing it.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


class _DropMessages(logging.Filter):
    """Drops records whose message contains one of `needles` (said another way already)."""

    def __init__(self, needles: Iterable[str]) -> None:
        super().__init__()
        self.needles = tuple(needles)

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(n in str(record.msg) for n in self.needles)


def setup_logging(
    *,
    verbose: bool = False,
    debug: bool = False,
    secrets: Iterable[str] = (),
    drop: Iterable[str] = (),
) -> RedactingFilter:
    """Configure the root logger for the CLI; returns the redacting filter.

    Default: warnings and errors. `verbose`: hvsms's info lines too (retries,
    reconciliation). `debug`: everything hvsms logs, with times and logger names.
    `drop`: substrings of messages not to log (the CLI already said them).
    """
    redactor = RedactingFilter(secrets)
    handler = _StderrHandler()
    handler.addFilter(_DropMessages(drop))
    handler.addFilter(redactor)
    if debug:
        fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    elif verbose:
        fmt = "%(levelname)s %(name)s: %(message)s"
    else:
        fmt = "hvsms: %(levelname)s: %(message)s"
    handler.setFormatter(logging.Formatter(fmt))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    logging.getLogger("engine").setLevel(level)
    # aiohttp's own loggers: its access log is noise; its errors still show.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    if not debug:
        # The in-process emulator's server: a client hanging up mid-request is not news.
        logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    logging.captureWarnings(True)
    return redactor


# Attributes every LogRecord has; anything else was passed as `extra=` (event fields).
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime"}


def _module_event(logger: str) -> str:
    """A record without an event is named after its module (`engine.submitter`:
    reconciliation of uncertain POSTs and refused batches)."""
    return logger.rsplit(".", 1)[-1] if logger.startswith("engine.") else "log"


class JsonLinesHandler(logging.Handler):
    """One JSON object per record, for pipelines and schedulers (`--log-json FILE`).

    ``{"time", "level", "event", "logger", "message", ...}``: `event` and the
    other fields come from the record's ``extra=`` (``batch_submitted``,
    ``results_page``, ``retry``, ...); a record without one is named after
    its module (``submitter``, ``poller``, ``job``).
    The file is created 0600 and flushed after every line.
    """

    def __init__(self, path: str) -> None:
        super().__init__(logging.INFO)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.fchmod(fd, 0o600)
        self._file = os.fdopen(fd, "a", encoding="utf-8")

    def emit(self, record: logging.LogRecord) -> None:
        try:
            entry: dict[str, object] = {
                "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                    timespec="milliseconds").replace("+00:00", "Z"),
                "level": record.levelname.lower(),
                "event": getattr(record, "event", None) or _module_event(record.name),
                "logger": record.name,
                "message": record.getMessage(),
            }
            for key, value in vars(record).items():
                if key not in _RECORD_FIELDS and key not in entry:
                    entry[key] = value
            self._file.write(json.dumps(entry, default=str) + "\n")
            self._file.flush()
        except Exception:  # noqa: BLE001 - logging must never break the job
            self.handleError(record)

    def event(self, event: str, **fields: object) -> None:
        """Write an event that no logger made (the CLI's summary)."""
        record = logging.LogRecord("hvsms", logging.INFO, "", 0, event, None, None)
        for key, value in fields.items():
            setattr(record, key, value)
        record.event = event
        self.handle(record)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
        super().close()


def add_json_log(path: str, redactor: RedactingFilter) -> JsonLinesHandler:
    """Send hvsms's info-level events to `path` as JSON lines, next to the stderr log."""
    handler = JsonLinesHandler(path)
    handler.addFilter(redactor)
    engine = logging.getLogger("engine")
    level = engine.getEffectiveLevel()
    root = logging.getLogger()
    for h in root.handlers:
        if h.level == logging.NOTSET:
            h.setLevel(level)  # stderr keeps showing what it showed before
    engine.setLevel(min(level, logging.INFO))
    root.addHandler(handler)
    return handler
