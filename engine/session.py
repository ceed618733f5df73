"""The session of a job: the API client, the login, the sender(s) and the server check.

An async context manager: on exit the client closes and the login is revoked
(and a built-in emulator, started when no credentials are set, stops).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Self

from .account import open_api, pick_sender
from .api.a2p import A2P
from .api.auth import Auth
from .api.http import ApiClient
from .clock import Clock, announced
from .config import Credentials, JobOptions
from .errors import ApiError, HvsmsError, JournalError
from .hygiene import Blocklist
from .journal import FAILED, PLANNED, SPLIT, BatchRecord, Journal
from .numberset import NumberSet
from .schedule import on_loopback
from .stopping import unless_stopped

__all__ = ["EMULATOR_NOTE", "Session"]

log = logging.getLogger("engine.job")

EMULATOR_NOTE = "no RC_* credentials: running on the built-in emulator; nothing leaves this machine"


class Session:
    """Logged in to one server, as one user, sending from `sender` (numbers joined by
    commas for a pool). Anything that waits on the network gives up on `stop`."""

    def __init__(self, credentials: Credentials | None, options: JobOptions, *,
                 stop: asyncio.Event,
                 on_retry: Callable[[HvsmsError], None] | None = None) -> None:
        self.credentials = credentials
        self.options = options
        self.stop = stop
        self.emulator = False  # the built-in one: nothing reaches a phone
        self.server = ""
        self.sender = ""
        self.owner: str | None = None  # the user the login reports
        self.client: ApiClient | None = None
        self.on_retry = on_retry
        self._a2p: A2P | None = None
        self._consents = True  # v2 consents, until the server says it has none
        self._auth: Auth | None = None
        self._stack = contextlib.AsyncExitStack()

    @property
    def a2p(self) -> A2P:
        assert self._a2p is not None, "the session is not open"
        return self._a2p

    async def __aenter__(self) -> Self:
        await self._stack.__aenter__()
        try:
            await self._open()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    async def _open(self) -> None:
        creds = self.credentials or Credentials.from_env()
        if creds is None:
            # Only when needed: keeps the import light. The fast service keeps a
            # trial run quick (instant receipts, no per-number pace).
            from .emulator import Emulator, EmulatorConfig

            emu = await self._stack.enter_async_context(Emulator(EmulatorConfig.fast()))
            creds = emu.credentials
            self.emulator = True
            log.warning(EMULATOR_NOTE)
        self.server = creds.server_url
        self.client, self._a2p, self._auth = await open_api(
            self._stack, creds, self.options, on_retry=self.on_retry)
        if self.stop.is_set():
            self.client.stopping.set()

    def emulator_clock(self) -> Clock | None:
        """The clock hvsms's own emulator announces in its answers; None for any other
        server (only a server on loopback is believed)."""
        seen = self.client.announced if self.client is not None else None
        if seen is None or not on_loopback(self.server):
            return None
        return announced(*seen)

    async def pick(self, sender: str | None) -> str:
        """Log in (the first request does) and check the sender(s): see `pick_sender`."""
        self.sender = await unless_stopped(pick_sender(self.a2p, sender), self.stop)
        self.owner = self._auth.owner_id if self._auth is not None else None
        return self.sender

    async def check_server(self, journal: Journal) -> None:
        """A job's batches live on one server: refuse, before anything is sent, to
        continue them on another. Identity is the server's data (the user the
        login reports, the job's batches), not the URL alone: a proxy is fine. The
        sender must be the job's too."""
        await self.verify_server(journal)
        journal.set_meta("sender", self.sender)
        journal.set_meta("server", self.server)
        journal.set_meta("emulator", "1" if self.emulator else "0")
        if self.owner is not None:
            journal.set_meta("owner", self.owner)

    async def verify_server(self, journal: Journal) -> None:
        """`check_server` without recording anything: for commands that only read or
        refresh a job (`JournalError` when this is not the job's server)."""
        url, owner = self.server, self.owner
        # Refused (`failed`) batches are on no server; the others may be.
        sent = [b for b in journal.batches() if b.state not in (PLANNED, FAILED, SPLIT)]
        was, was_emulator = journal.meta("server"), journal.meta("emulator") == "1"
        was_owner = journal.meta("owner")
        if sent and was_emulator:
            raise JournalError(
                f"{journal.path}: {len(sent)} batch(es) of this job went to the built-in "
                "emulator of an earlier run, which ended with it (nothing reached a phone); "
                "they can never be completed")
        if sent and was is not None:
            other = was_owner is not None and owner is not None and was_owner != owner
            if not other and was != url:
                other = not await self._holds_batch(sent, can_tell=was_owner is not None)
            if other:
                raise JournalError(
                    f"{journal.path}: {len(sent)} batch(es) of this job are on {was}; "
                    f"{url} is another server or account, so the job cannot continue there "
                    "(nothing was sent)")
        if journal.meta("sender") not in (None, self.sender):
            raise JournalError(f"the job was sending from {journal.meta('sender')}, "
                               f"not {self.sender}")

    async def _holds_batch(self, sent: list[BatchRecord], *, can_tell: bool) -> bool:
        """Whether this server knows one of the job's batches (by another URL)."""
        ids = [b.batch_id for b in sent if b.batch_id]
        if not ids:
            return can_tell  # nothing to look up: the same user is the best evidence
        try:
            await self.a2p.get_batch(ids[0])
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def opt_outs(self) -> Blocklist:
        """Whoever opted out of one of the pool's numbers hears from none of them."""
        numbers = [n for one in self.sender.split(",")
                   for n in await unless_stopped(self._opt_outs(one), self.stop)]
        return Blocklist(NumberSet.from_numbers(numbers), "opted_out",
                         f"opted out of messages from {self.sender}")

    async def _opt_outs(self, sender: str) -> list[str]:
        """v2 consents, or the v1 list where the server has no v2 consents."""
        if self._consents:
            try:
                return [n async for n in self.a2p.consents(sender=sender)]
            except ApiError as exc:
                if exc.status not in (404, 405, 501):
                    raise  # (a 403: the app may not read opt-outs at all)
                self._consents = False
        return [n async for n in self.a2p.opt_outs(sender=sender)]
