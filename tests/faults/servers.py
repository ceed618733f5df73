"""Small purpose-built HTTP servers for misbehaviour the emulator does not offer.

- `serve(app)`: any aiohttp app on a free loopback port, as an async context manager.
- `Proxy`: forwards every request to an upstream (the emulator) and lets a test
  rewrite chosen answers (an HTML 500, a 200 that is not JSON, a huge body,
  a redirect, a 401...). It records what it saw, Authorization headers included,
  so a test can count token requests or check where a token went.
- `Recorder`: a server that answers 200 `{}` to everything and records every
  request's method, path and Authorization header (the "other host").
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

__all__ = ["Proxy", "Recorder", "Seen", "closed_port", "serve"]

# Not forwarded either way (hop-by-hop, or recomputed by aiohttp).
_SKIP_REQUEST = {"host", "content-length", "transfer-encoding", "connection",
                 "accept-encoding"}
_SKIP_RESPONSE = {"content-length", "transfer-encoding", "connection", "content-encoding",
                  "keep-alive"}


@contextlib.asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Run `app` on 127.0.0.1 (a free port); yields its base URL."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True, slots=True)
class Seen:
    method: str
    path: str
    authorization: str | None


Forward = Callable[[], Awaitable[web.Response]]
# hook(request, forward) -> an answer of its own, or None to forward as is.
Hook = Callable[[web.Request, Forward], Awaitable[web.StreamResponse | None]]


@dataclass
class Proxy:
    """A reverse proxy to `upstream`; `hook` may answer instead of (or after) forwarding."""

    upstream: str
    hook: Hook | None = None
    seen: list[Seen] = field(default_factory=list)
    _session: aiohttp.ClientSession | None = None

    def count(self, path_part: str, method: str | None = None) -> int:
        return sum(1 for s in self.seen
                   if path_part in s.path and (method is None or s.method == method))

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[str]:
        app = web.Application(client_max_size=64 << 20)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        async with aiohttp.ClientSession(auto_decompress=False) as session:
            self._session = session
            async with serve(app) as url:
                yield url
        self._session = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(Seen(request.method, request.path,
                              request.headers.get("Authorization")))
        body = await request.read()

        async def forward() -> web.Response:
            assert self._session is not None
            headers = {k: v for k, v in request.headers.items()
                       if k.lower() not in _SKIP_REQUEST}
            async with self._session.request(
                request.method, self.upstream + request.path_qs, headers=headers, data=body,
                allow_redirects=False,
            ) as resp:
                data = await resp.read()
                out = {k: v for k, v in resp.headers.items() if k.lower() not in _SKIP_RESPONSE}
                return web.Response(status=resp.status, body=data, headers=out)

        if self.hook is not None:
            answer = await self.hook(request, forward)
            if answer is not None:
                return answer
        return await forward()


@dataclass
class Recorder:
    """Answers 200 `{}` to anything and remembers what it was sent."""

    seen: list[Seen] = field(default_factory=list)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[str]:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        async with serve(app) as url:
            yield url

    async def _handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.seen.append(Seen(request.method, request.path,
                              request.headers.get("Authorization")))
        return web.json_response({})
