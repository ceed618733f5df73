"""OAuth sessions: the JWT and refresh-token grants, revoke, and bearer checks.

Pure logic over an injected clock; the app maps `OAuthError` / `Unauthorized`
to HTTP. Behaviour follows RingCentral's guide: refresh tokens are single use,
a refresh invalidates the session's previous access token, revoke ends the
whole session, and the bearer scheme is matched case-insensitively (the SDK
sends `bearer`, lowercase).
"""

from __future__ import annotations

import base64
import binascii
import itertools
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .config import EmulatorConfig

__all__ = ["JWT_GRANT", "OAuthError", "Session", "TokenStore", "Unauthorized"]

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SCOPE = "A2PSMS ReadAccounts SMS"
SCOPE_WITHOUT_A2P = "ReadAccounts SMS"


class OAuthError(Exception):
    """An OAuth error answer: `{"error", "error_description", "errors": [...]}`."""

    def __init__(self, status: int, error: str, description: str, code: str) -> None:
        super().__init__(f"{status} {error}: {description}")
        self.status = status
        self.body: dict[str, Any] = {
            "error": error,
            "error_description": description,
            "errors": [{"errorCode": code, "message": description}],
        }


class Unauthorized(Exception):
    """A 401 of an API endpoint, with its RingCentral error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(slots=True)
class Session:
    id: str
    client_id: str
    access_token: str
    access_expires: float
    refresh_token: str | None
    refresh_expires: float


class TokenStore:
    """All sessions of the emulator, looked up by access and refresh token."""

    def __init__(self, config: EmulatorConfig, clock: Callable[[], float],
                 real_seconds: Callable[[float], float] = float) -> None:
        self._config = config
        self._clock = clock
        # Lifetimes are emulated seconds; `expires_in` says real ones (whole, at least 1).
        self._real = real_seconds
        self._by_access: dict[str, Session] = {}
        self._by_refresh: dict[str, Session] = {}
        # Access tokens that timed out, so a 401 can say "expired" (OAU-128)
        # rather than "unknown" (OAU-129).
        self._expired: set[str] = set()
        self._ids = itertools.count(1)

    # -- the token endpoint -------------------------------------------------

    def client_id(self, authorization: str | None) -> str:
        """The client id of a valid `Basic` header, else an `invalid_client` error."""
        bad = OAuthError(401, "invalid_client", "Invalid client", "OAU-123")
        if not authorization:
            raise bad
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() != "basic":
            raise bad
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise bad from None
        cid, sep, secret = decoded.partition(":")
        if not sep or cid != self._config.client_id or secret != self._config.client_secret:
            raise bad
        return cid

    def grant(self, client_id: str, form: Mapping[str, str]) -> dict[str, Any]:
        """Handle one token request; returns the `TokenInfo` body."""
        grant_type = form.get("grant_type", "")
        if grant_type == JWT_GRANT:
            if form.get("assertion", "") != self._config.jwt:
                raise OAuthError(400, "invalid_grant", "Invalid JWT token", "OAU-213")
            session = self._new_session(client_id)
        elif grant_type == "refresh_token":
            session = self._refresh(client_id, form.get("refresh_token", ""))
        else:
            raise OAuthError(400, "unsupported_grant_type", "Unsupported grant type",
                             "OAU-250")
        return self._token_info(session, self._requested_ttl(form))

    def revoke(self, token: str) -> None:
        """End the session of an access or refresh token; unknown tokens are ignored."""
        session = self._by_access.get(token) or self._by_refresh.get(token)
        if session is not None:
            self._forget(session)

    # -- bearer checks ------------------------------------------------------

    def authenticate(self, authorization: str | None) -> Session:
        if authorization is None or not authorization.strip():
            raise Unauthorized("AGW-401", "Authorization header is not specified")
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("AGW-402", "Invalid Authorization header")
        session = self._by_access.get(token)
        if session is None:
            if token in self._expired:
                raise Unauthorized("OAU-128", "Access token expired")
            raise Unauthorized("OAU-129", "Access token corrupted")
        if self._clock() >= session.access_expires:
            self._expired.add(token)
            del self._by_access[token]
            raise Unauthorized("OAU-128", "Access token expired")
        return session

    @property
    def session_count(self) -> int:
        return len({s.id for s in self._by_access.values()})

    # -- internals ----------------------------------------------------------

    def _requested_ttl(self, form: Mapping[str, str]) -> int:
        ttl = self._config.access_token_ttl
        try:
            asked = int(form.get("access_token_ttl", ttl))
        except ValueError:
            return ttl
        # The emulator's own TTL is an upper bound, so tests can make tokens
        # expire quickly even though the SDK always asks for 3600 s.
        return max(1, min(ttl, asked))

    def _new_session(self, client_id: str) -> Session:
        session = Session(
            id=f"emu-session-{next(self._ids)}",
            client_id=client_id,
            access_token="",
            access_expires=0.0,
            refresh_token=None,
            refresh_expires=0.0,
        )
        return session

    def _refresh(self, client_id: str, refresh_token: str) -> Session:
        session = self._by_refresh.get(refresh_token)
        if session is None or session.client_id != client_id:
            raise OAuthError(400, "invalid_grant", "Token not found", "OAU-211")
        if self._clock() >= session.refresh_expires:
            self._forget(session)
            raise OAuthError(400, "invalid_grant", "Token is expired", "OAU-212")
        # Single use: the old refresh token and the old access token die now.
        del self._by_refresh[refresh_token]
        self._by_access.pop(session.access_token, None)
        return session

    def _token_info(self, session: Session, ttl: int) -> dict[str, Any]:
        now = self._clock()
        session.access_token = "EMU-AT-" + secrets.token_urlsafe(24)
        session.access_expires = now + ttl
        self._by_access[session.access_token] = session
        info: dict[str, Any] = {
            "access_token": session.access_token,
            "token_type": "bearer",
            "expires_in": self._lifetime(ttl),
            "scope": SCOPE if self._config.a2p_permission else SCOPE_WITHOUT_A2P,
            "owner_id": self._config.extension_id,
            "endpoint_id": "emu-endpoint-" + session.id.rsplit("-", 1)[-1],
            "session_id": session.id,
        }
        if self._config.issue_refresh_tokens:
            session.refresh_token = "EMU-RT-" + secrets.token_urlsafe(24)
            session.refresh_expires = now + self._config.refresh_token_ttl
            self._by_refresh[session.refresh_token] = session
            info["refresh_token"] = session.refresh_token
            info["refresh_token_expires_in"] = self._lifetime(self._config.refresh_token_ttl)
        return info

    def _lifetime(self, seconds: int) -> int:
        return max(1, int(self._real(seconds)))

    def _forget(self, session: Session) -> None:
        self._by_access.pop(session.access_token, None)
        if session.refresh_token:
            self._by_refresh.pop(session.refresh_token, None)
