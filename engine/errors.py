"""One exception tree for hvsms; every error the library raises is a `HvsmsError`.

Third-party errors (aiohttp, sqlite3, OS) are mapped to these at the boundary
where they happen, so callers catch one root. No exception ever carries request
headers, tokens or secrets.
"""

from __future__ import annotations

from typing import Any

from .logs import redact

__all__ = [
    "ApiError",
    "AuthError",
    "BodySizeMismatch",
    "CarrierStopped",
    "ConfigError",
    "HvsmsError",
    "InputChanged",
    "InputError",
    "JobFailed",
    "JournalError",
    "JournalLocked",
    "JournalUnwritable",
    "LoginRefused",
    "NetworkError",
    "NumberNotReady",
    "OutcomeUnknown",
    "PermissionDenied",
    "RateLimited",
    "RepeatedJob",
    "SenderError",
    "ServerError",
    "register_secret",
]

# Values no error may carry: the app's credentials and the session's tokens,
# registered by `engine.api.auth`. A server that quotes what it was sent
# ("Invalid JWT token eyJ...") must not put them into an error, and so into
# `report.message` and report.json. Bounded: the most recent ones are kept.
_SECRETS: dict[str, None] = {}
_MAX_SECRETS = 256


def register_secret(*values: str | None) -> None:
    """Remember values to scrub from server messages carried by `ApiError`s."""
    for value in values:
        if value and len(value) >= 4:
            _SECRETS.pop(value, None)
            _SECRETS[value] = None
    while len(_SECRETS) > _MAX_SECRETS:
        del _SECRETS[next(iter(_SECRETS))]


class HvsmsError(Exception):
    """Root of every error hvsms raises."""


class ConfigError(HvsmsError):
    """Bad options or credentials given by the caller (usage error)."""


class InputError(HvsmsError):
    """A problem with the input file, with where it is when known.

    `line` and `column` are 1-based; `offset` is a byte offset into the file.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        column: int | None = None,
        offset: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.path = path
        self.line = line
        self.column = column
        self.offset = offset
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path or ""
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = f"{where}: {self.message}" if where else self.message
        if self.offset is not None and self.line is None:
            text += f" (byte offset {self.offset})"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class SenderError(ConfigError):
    """The `from` number is not E.164 or is not an A2P sender of the account."""


class NumberNotReady(SenderError):
    """A sender number's SMS configuration says its messages would fail (a TCR
    campaign not Confirmed, no campaign, an unverified toll-free number); one
    line per number, each with what to do (`engine.registration.refusal`)."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = list(lines)
        super().__init__("refusing to send:" + ("".join(f"\n  {ln}" for ln in self.lines)
                                                 if len(self.lines) > 1 else f" {self.lines[0]}"))


class CarrierStopped(HvsmsError):
    """The job paused before its next batch: the carriers refuse what a number sends
    (`engine.early_stop`). `report` is the job's report (status "paused"); the
    journal resumes it once the text or the number is fixed."""

    def __init__(self, report: Any, *, number: str, code: str, description: str,
                 share: float) -> None:
        self.report, self.number, self.code = report, number, code
        self.description, self.share = description, share
        super().__init__(str(getattr(report, "message", "")) or f"stopped early: {code}")


class JournalError(HvsmsError):
    """The journal cannot be used: wrong schema, changed input file, corrupt."""


class JournalUnwritable(JournalError):
    """The journal cannot be written (a full disk, a read-only folder): the job stops
    before its next request; what was in flight is found on the server on resume."""

    def __init__(self, journal: str, reason: str, free: int | None) -> None:
        self.journal, self.reason, self.free = journal, reason, free
        room = "" if free is None else f"; {_size(free)} free there"
        super().__init__(
            f"{journal}: cannot write the journal ({reason}{room}); nothing more is sent. "
            f"Make room, then: hvsms resume {journal}"
        )


def _size(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB" if n >= 1 << 20 else f"{n / 1024:.0f} KiB"


class InputChanged(JournalError):
    """The input file no longer holds what the journal planned from it: resuming
    would send other messages than the ones planned (and maybe sent)."""


class JournalLocked(JournalError):
    """Another process has the job's journal open: two senders would send twice."""

    def __init__(self, journal: str, holder: str) -> None:
        self.journal, self.holder = journal, holder
        super().__init__(
            f"{journal} is in use by another hvsms process ({holder}); nothing was sent. "
            "Its status can still be read (hvsms status)"
        )


class RepeatedJob(ConfigError):
    """The same file, text, sender and server were sent recently."""

    def __init__(self, message: str, *, journal: str) -> None:
        self.journal = journal
        super().__init__(message)


class NetworkError(HvsmsError):
    """The server could not be reached (DNS, refused, reset before sending)."""


class OutcomeUnknown(NetworkError):
    """The request may have reached the server but no answer came back.

    For a POST this means the batch may or may not exist: never resend blindly.
    """


class BodySizeMismatch(HvsmsError):
    """A streamed request body came out larger or smaller than the size it declared.

    Raised while the body is written: the server cannot have accepted it (the
    Content-Length was not met). Whoever produced the body knows why it changed.
    """

    def __init__(self, written: int, expected: int) -> None:
        self.written, self.expected = written, expected
        self.larger = written > expected
        super().__init__(f"a request body came out {'larger' if self.larger else 'smaller'} "
                         f"than its declared {expected} bytes")


class ApiError(HvsmsError):
    """The API answered with an error status."""

    def __init__(
        self,
        status: int,
        error_code: str | None = None,
        message: str = "",
        *,
        endpoint: str = "",
    ) -> None:
        # Server text: without registered secrets, Authorization values and JWTs.
        message = redact(message, _SECRETS)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.endpoint = endpoint
        detail = f"{error_code}: {message}" if error_code else message
        super().__init__(f"HTTP {status} from {endpoint or 'the API'}: {detail}".rstrip(": "))


class AuthError(ApiError):
    """Authentication failed or the session cannot be renewed."""


class PermissionDenied(AuthError):
    """403: the app lacks a permission (for High Volume SMS, "A2P SMS"); stops the job."""

    def __init__(self, error_code: str | None, *, endpoint: str = "") -> None:
        super().__init__(403, error_code, _NO_A2P_PERMISSION, endpoint=endpoint)


_NO_A2P_PERMISSION = ('the app lacks the A2P SMS permission: add "A2P SMS" to its permissions '
                      "in the RingCentral Developer Console, then log in again")


class LoginRefused(AuthError):
    """The server refused the app's credentials at login; the message says what to check."""


class RateLimited(ApiError):
    """429: the rate-limit group is in its penalty interval."""

    def __init__(self, retry_after: float, group: str | None, *, endpoint: str = "") -> None:
        self.retry_after = retry_after
        self.group = group
        super().__init__(429, "CMN-301", f"rate limited, retry after {retry_after:g}s",
                         endpoint=endpoint)


class ServerError(ApiError):
    """5xx or an answer that is not the expected JSON."""


class JobFailed(HvsmsError):
    """The job stopped before finishing; the journal (if any) can resume it."""
