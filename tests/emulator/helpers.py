"""A thin raw-HTTP client for emulator tests, so every byte on the wire is ours."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import aiohttp

from engine.emulator import Emulator
from engine.emulator.auth import JWT_GRANT

ACCOUNT = "/restapi/v1.0/account/~"
A2P = ACCOUNT + "/a2p-sms"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


class Api:
    """Raw requests against one emulator; `login()` stores a bearer token."""

    def __init__(self, session: aiohttp.ClientSession, emu: Emulator) -> None:
        self.session = session
        self.emu = emu
        self.token: str | None = None
        self.token_info: dict[str, Any] = {}

    def basic(self, client_id: str | None = None, secret: str | None = None) -> str:
        config = self.emu.config
        raw = f"{client_id or config.client_id}:{secret or config.client_secret}"
        return "Basic " + base64.b64encode(raw.encode()).decode()

    async def oauth(self, form: dict[str, str], authorization: str | None = None,
                    path: str = "/restapi/oauth/token") -> Reply:
        headers = {"Authorization": authorization or self.basic()}
        async with self.session.post(self.emu.url + path, data=form, headers=headers) as r:
            body = await r.json() if r.content_type == "application/json" else await r.text()
            return Reply(r.status, dict(r.headers), body)

    async def login(self) -> dict[str, Any]:
        reply = await self.oauth({"grant_type": JWT_GRANT, "assertion": self.emu.config.jwt})
        assert reply.status == 200, reply.body
        self.token_info = reply.body
        self.token = reply.body["access_token"]
        return self.token_info

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def request(self, method: str, path: str, *, params: Any = None,
                      json: Any = None, data: bytes | None = None,
                      headers: dict[str, str] | None = None) -> Reply:
        all_headers = {**self.auth_headers(), **(headers or {})}
        if data is not None:
            all_headers.setdefault("Content-Type", "application/json")
        async with self.session.request(method, self.emu.url + path, params=params, json=json,
                                        data=data, headers=all_headers) as r:
            raw = await r.read()
            body: Any = raw.decode()
            if r.content_type == "application/json":
                body = await r.json()
            return Reply(r.status, dict(r.headers), body)

    async def get(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("POST", path, **kwargs)

    async def send(self, messages: list[dict[str, Any]], *, sender: str = "+16505550100",
                   text: str | None = "Hello") -> Reply:
        body: dict[str, Any] = {"from": sender, "messages": messages}
        if text is not None:
            body["text"] = text
        return await self.post(A2P + "/batches", json=body)


def recipients(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"to": [f"+1415555{start + i:04d}"]} for i in range(n)]
