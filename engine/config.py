"""Settings as frozen dataclasses: `Credentials` (RC_* variables) and `JobOptions`."""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from .errors import ConfigError

__all__ = [
    "DEFAULT_MAX_BATCH_BYTES",
    "DEFAULT_MAX_BATCH_MESSAGES",
    "DEFAULT_SERVER_URL",
    "MAX_BODY_BYTES",
    "Credentials",
    "JobOptions",
    "check_server_url",
    "credentials_from_env",
]

log = logging.getLogger("engine.config")

DEFAULT_SERVER_URL = "https://platform.ringcentral.com"
SANDBOX_HOSTS = frozenset({"platform.devtest.ringcentral.com"})
# The spec's `x-request-max-body-size: 50m`; read as 50 MiB.
MAX_BODY_BYTES = 50 * 1024 * 1024
# Under both readings of "50m" (50 MiB and 50,000,000 bytes) with 1 MiB to spare.
DEFAULT_MAX_BATCH_BYTES = 50_000_000 - 1_048_576
DEFAULT_MAX_BATCH_MESSAGES = 10_000

ENV_VARS = ("RC_SERVER_URL", "RC_APP_CLIENT_ID", "RC_APP_CLIENT_SECRET", "RC_USER_JWT")
# Names from RingCentral's older quick starts, read when the current one is unset.
LEGACY_ENV_VARS = {"RC_APP_CLIENT_ID": "RC_CLIENT_ID", "RC_APP_CLIENT_SECRET": "RC_CLIENT_SECRET",
                   "RC_USER_JWT": "RC_JWT"}
# Any of these set means the user meant the real service (never the emulator);
# the password-flow names come from the oldest quick starts.
_INTENT_VARS = (*ENV_VARS, *LEGACY_ENV_VARS.values(), "RC_USERNAME", "RC_PASSWORD",
                "RC_EXTENSION")
ENV_FILE = ".env"


def is_loopback(host: str) -> bool:
    """A host name or address on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_server_url(url: str) -> str:
    """Refuse plain http except on loopback; returns the URL without a trailing slash."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"server URL must be http(s)://host[:port], got {url!r}")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigError(
            f"refusing plain http to {parts.hostname}: use https (http is only for loopback)"
        )
    if parts.hostname.lower() in SANDBOX_HOSTS:
        # RingCentral: High Volume SMS "is not supported on sandbox environment".
        raise ConfigError(
            f"{parts.hostname} is RingCentral's sandbox, where High Volume SMS does not work: "
            f"use {DEFAULT_SERVER_URL}, or no RC_* credentials to try the built-in emulator"
        )
    return url.rstrip("/")


@dataclass(frozen=True, slots=True)
class Credentials:
    """A RingCentral app's JWT credentials. Secrets never appear in the repr."""

    server_url: str
    client_id: str
    client_secret: str
    jwt: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "server_url", check_server_url(self.server_url))
        for name in ("client_id", "client_secret", "jwt"):
            if not getattr(self, name):
                raise ConfigError(f"credentials: {name} is empty")

    def __repr__(self) -> str:
        return (
            f"Credentials(server_url={self.server_url!r}, client_id='***', "
            "client_secret='***', jwt='***')"
        )

    __str__ = __repr__

    @property
    def secrets(self) -> tuple[str, ...]:
        """The values a log filter must redact."""
        return (self.client_id, self.client_secret, self.jwt)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *,
                 env_file: str | os.PathLike[str] | None = ENV_FILE) -> Credentials | None:
        """Credentials from RC_* variables and ./.env; None when no RC_* variable is set.

        See `credentials_from_env`; its notes (legacy names) are logged here.
        """
        creds, notes = credentials_from_env(environ, env_file=env_file)
        for note in notes:
            log.warning("%s", note)
        return creds


def _read_env_file(path: str | os.PathLike[str] | None) -> dict[str, str]:
    if path is None or not Path(path).is_file():
        return {}
    from dotenv import dotenv_values  # only when there is a file to read

    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def credentials_from_env(
    environ: Mapping[str, str] | None = None, *,
    env_file: str | os.PathLike[str] | None = ENV_FILE,
) -> tuple[Credentials | None, list[str]]:
    """Credentials from the environment, over `env_file` (./.env by default), and notes.

    The library and the CLI both read them this way; a variable in the
    environment wins over the same one in the file. None when no RC_* variable
    is set at all (the built-in emulator). Any one set, even RC_SERVER_URL
    alone, means the real service was meant: the missing ones are a
    `ConfigError` naming them, never a silent fall back to the emulator. The
    older names RC_CLIENT_ID, RC_CLIENT_SECRET and RC_JWT are read when the
    current ones are unset, with a note.
    """
    env = {**_read_env_file(env_file), **(os.environ if environ is None else environ)}
    values = {name: env.get(name, "").strip() for name in _INTENT_VARS}
    if not any(values.values()):
        return None, []
    notes: list[str] = []
    for name, old in LEGACY_ENV_VARS.items():
        if not values[name] and values[old]:
            values[name] = values[old]
            notes.append(f"{old} read as {name} (RingCentral's current name for it)")
    missing = [n for n in ENV_VARS[1:] if not values[n]]
    if missing:
        given = [n for n in _INTENT_VARS if values[n]]
        raise ConfigError(
            f"incomplete credentials: {', '.join(given)} {'is' if len(given) == 1 else 'are'} "
            "set, so the real RingCentral service is meant, but "
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set\n"
            "  hint: set all of RC_SERVER_URL, RC_APP_CLIENT_ID, RC_APP_CLIENT_SECRET and "
            "RC_USER_JWT (environment or ./.env; older quick starts call them RC_CLIENT_ID, "
            "RC_CLIENT_SECRET, RC_JWT), or unset every RC_* variable to use the built-in "
            "emulator"
        )
    creds = Credentials(
        server_url=values["RC_SERVER_URL"] or DEFAULT_SERVER_URL,
        client_id=values["RC_APP_CLIENT_ID"],
        client_secret=values["RC_APP_CLIENT_SECRET"],
        jwt=values["RC_USER_JWT"],
    )
    return creds, notes


@dataclass(frozen=True, slots=True, kw_only=True)
class JobOptions:
    """How a job reads, cleans, packs and sends. All keyword-only and checked."""

    # "to" also finds the usual names (phone, mobile, ...); any name matches
    # case- and space-insensitively.
    to_column: str = "to"
    text_column: str = "text"
    encoding: str = "utf-8"
    delimiter: str | None = None  # None: detected from the header and first rows
    # Swap typographic characters for GSM-7 look-alikes when that avoids UCS-2.
    smart_encoding: bool = True
    max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES
    # One guide page says at most 10,000 texts per request (another: no count
    # limit, about 50 MB): 10,000 unless raised; None: by bytes only.
    max_batch_messages: int | None = DEFAULT_MAX_BATCH_MESSAGES
    concurrency: int = 4
    # hygiene
    region: str = "US"
    validate: Literal["possible", "strict"] = "possible"
    dedupe: bool = True
    suppress: str | None = None
    fetch_opt_outs: bool = True
    empty_variables: Literal["send", "drop"] = "drop"
    # A sender pool: a local number of the pool for a recipient of its area code.
    match_area_code: bool = False
    price_per_segment: float = 0.007
    # network
    request_timeout: float = 120.0
    connect_timeout: float = 10.0
    max_retries: int = 6
    # Light-group requests per minute until the server's X-Rate-Limit headers
    # say otherwise (RingCentral's documented default; apps can have others).
    light_limit: int = 50
    poll_interval: float = 2.0
    max_poll_interval: float = 60.0
    fetch_delivery: bool = True
    # A2P events over RingCentral's WebSocket transport (`engine.events`); polling
    # takes over when none came for `events_silence` seconds while batches are open.
    events: bool = True
    events_silence: float = 60.0
    drain_timeout: float = 30.0
    # Encoded messages kept from planning for the first send of their batch.
    hot_bytes: int = 32 << 20
    # Uncertain POSTs: how long the server gets to show a batch before we resend.
    reconcile_after: float = 5.0
    # Pacing: seconds of each sender's throughput kept queued on the server at
    # most (None: no pacing, every batch at once); `rate`: messages/s of every
    # sender instead of its type's (toll-free 8, local 1), not learned.
    horizon: float | None = 600.0
    rate: float | None = None
    # Quiet hours: "HH:MM-HH:MM" in each recipient's local time (by area code),
    # "any" (off), or None: 08:00-21:00 for a real service, off for an emulator
    # on loopback. "states" narrows the window by stricter state rules.
    window: str | None = None
    quiet_hours: Literal["federal", "states"] = "federal"
    # Most messages per sender per UTC day (None: no cap of ours); never exceeded.
    # It only lowers the number's own (its tier's: `engine.registration`).
    daily_cap: int | None = None
    # Pause when a number's first results show carrier filtering (`engine.early_stop`).
    early_stop: bool = True

    def __post_init__(self) -> None:
        if self.max_batch_bytes < 1024:
            raise ConfigError("max_batch_bytes must be at least 1024")
        if self.max_batch_bytes > MAX_BODY_BYTES:
            raise ConfigError(f"max_batch_bytes must be at most {MAX_BODY_BYTES} (the API's 50 MB)")
        if self.max_batch_messages is not None and self.max_batch_messages < 1:
            raise ConfigError("max_batch_messages must be at least 1")
        if self.light_limit < 1:
            raise ConfigError("light_limit must be at least 1")
        if not 1 <= self.concurrency <= 64:
            raise ConfigError("concurrency must be between 1 and 64")
        if self.delimiter is not None and (len(self.delimiter) != 1
                                           or self.delimiter in '"\r\n'):
            raise ConfigError(f"delimiter must be one character (not a quote or a newline), "
                              f"got {self.delimiter!r}")
        if self.validate not in ("possible", "strict"):
            raise ConfigError("validate must be 'possible' or 'strict'")
        if self.empty_variables not in ("send", "drop"):
            raise ConfigError("empty_variables must be 'send' or 'drop'")
        self._check_campaign()
        for name in ("request_timeout", "connect_timeout", "poll_interval", "max_poll_interval",
                     "events_silence"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive")

    def _check_campaign(self) -> None:
        """Pacing, quiet hours and caps (engine.pacing, engine.quiet_hours)."""
        for name in ("horizon", "rate"):
            if getattr(self, name) is not None and not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be positive (or None)")
        if self.daily_cap is not None and self.daily_cap < 1:
            raise ConfigError("daily_cap must be at least 1")
        if self.quiet_hours not in ("federal", "states"):
            raise ConfigError("quiet_hours must be 'federal' or 'states'")
        if self.window is not None:
            from .quiet_hours import parse_window

            parse_window(self.window)  # raises ConfigError with the reason

    def to_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
