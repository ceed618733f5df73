"""JWT login and token renewal, from one place for the whole job.

The access token is renewed ahead of expiry under a lock, so concurrent tasks
never race to refresh. Where the app issues no refresh token (or the refresh
fails), the JWT is simply presented again. The token endpoint is in the Auth
group (5 per minute), so a failed renewal is an error, never a loop.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from typing import Any

from ..config import Credentials
from ..errors import ApiError, AuthError, HvsmsError, register_secret
from .http import ApiClient

__all__ = ["Auth"]

log = logging.getLogger("engine.auth")

_JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


class Auth:
    """The job's login: JWT grant, renewal ahead of expiry, one renewal after a 401.

    Implements `TokenSource`; the caller makes it the client's (`client.auth = auth`).
    """

    def __init__(self, client: ApiClient, credentials: Credentials) -> None:
        self._client = client
        self._creds = credentials
        self._basic = base64.b64encode(
            f"{credentials.client_id}:{credentials.client_secret}".encode()
        ).decode()
        register_secret(credentials.client_id, credentials.client_secret, credentials.jwt,
                        self._basic)
        self._access: str | None = None
        self._expires = 0.0
        self._refresh: str | None = None
        self._refresh_expires = 0.0
        self._lock = asyncio.Lock()
        # A token issued because the server refused the previous one (401), until
        # some request shows it works; a 401 on it too means renewing is no use.
        self._suspect: str | None = None
        self._refused: AuthError | None = None
        self.logins = 0
        self.refreshes = 0
        self.owner_id: str | None = None  # the user the login reports (`owner_id`)

    def __repr__(self) -> str:
        state = "signed in" if self._access else "signed out"
        return f"<Auth {self._creds.server_url} {state}>"

    async def token(self) -> str:
        """A valid access token, renewed ahead of expiry."""
        if self._refused is not None:
            raise self._refused
        if self._access is not None and time.monotonic() < self._expires:
            return self._access
        async with self._lock:
            if self._access is None or time.monotonic() >= self._expires:
                await self._renew()
            assert self._access is not None
            return self._access

    async def renew(self, rejected: str | None) -> None:
        """The server refused `rejected` (401): renew once, unless someone already did."""
        async with self._lock:
            if self._refused is not None:
                raise self._refused
            if self._access is not None and self._access != rejected:
                return
            if rejected is not None and rejected == self._suspect:
                # The token we just got for a refused one is refused too: one
                # renewal, then a clear failure, never a loop on the Auth group.
                self._refused = AuthError(
                    401, None, "the server refuses a freshly issued access token (check the "
                    "app's permissions, or whether its session was revoked)", endpoint="token")
                raise self._refused
            self._access = None
            await self._renew()
            self._suspect = self._access

    def accepted(self, token: str) -> None:
        """A request with `token` got past authentication (any answer but 401)."""
        if token == self._suspect:
            self._suspect = None

    async def revoke(self) -> None:
        """End the session; errors are ignored, as RingCentral advises.

        Best effort: when the Auth group's rate limit would make it wait, the
        session is left to expire rather than hold up the end of the job.
        """
        token, self._access = self._access, None
        if token is None:
            return
        if self._client.governors["auth"].delay() > 0:
            log.debug("revoke skipped: the Auth group is rate limited")
            return
        try:
            await self._post({"token": token}, path="/restapi/oauth/revoke", endpoint="revoke")
        except HvsmsError as exc:  # best effort at shutdown
            log.debug("revoke failed: %s", type(exc).__name__)

    async def _renew(self) -> None:
        if self._refresh is not None and time.monotonic() < self._refresh_expires:
            try:
                await self._grant({"grant_type": "refresh_token", "refresh_token": self._refresh})
                self.refreshes += 1
                return
            except AuthError:
                log.info("refresh token refused; presenting the JWT again")
        self._refresh = None
        await self._grant({"grant_type": _JWT_GRANT, "assertion": self._creds.jwt})
        self.logins += 1

    async def _grant(self, form: dict[str, str]) -> None:
        data = await self._post(form, path="/restapi/oauth/token", endpoint="token")
        try:
            self._access = str(data["access_token"])
            register_secret(self._access, str(data.get("refresh_token") or ""))
            lifetime = float(data.get("expires_in", 3600))
            if data.get("owner_id"):
                self.owner_id = str(data["owner_id"])
        except (KeyError, TypeError, ValueError):
            raise AuthError(200, None, "token answer without access_token",
                            endpoint="token") from None
        now = time.monotonic()
        # Renew at 90% of the lifetime, and at least 5 s early.
        self._expires = now + max(1.0, min(lifetime * 0.9, lifetime - 5))
        refresh = data.get("refresh_token")
        self._refresh = str(refresh) if refresh else None
        self._refresh_expires = now + float(data.get("refresh_token_expires_in", 0)) * 0.9

    async def _post(self, form: dict[str, str], *, path: str, endpoint: str) -> dict[str, Any]:
        try:
            resp = await self._client.request(
                "POST", path, endpoint=endpoint, form=form, group="auth", authorized=False,
                idempotent=True,  # a repeated login or refresh is harmless
                headers={"Authorization": f"Basic {self._basic}"},
            )
        except AuthError:
            raise
        except ApiError as exc:
            if exc.status in (400, 401, 403):
                raise AuthError(exc.status, exc.error_code, exc.message or "login refused",
                                endpoint=endpoint) from None
            raise
        return resp.data if isinstance(resp.data, dict) else {}
