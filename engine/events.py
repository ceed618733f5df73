"""Receipts and opt-outs as they happen: RingCentral's A2P events over its WebSocket
transport, with polling as the fallback.

For the senders of a running job, one subscription (Medium rate group, not
the Light one sends and polls share) to three filters each: the sender's
batches, its outbound messages and its opt-outs. The connection is the
official SDKs': `POST /restapi/oauth/wstoken`, then the `uri` it names with
the token in the query, a `ConnectionDetails` frame, and REST calls as
`ClientRequest` frames.

Events only make things earlier and cheaper; polling stays the source of truth
for a batch's completion and the job's end. Every event goes through the
journal's one writer, idempotently: a batch's `processedCount` only moves up, a
message's final failure is one row per message id (`Journal.live`), an
opt-out is a set. While events flow the poller may wait longer (`flowing`);
when none came within `silence` seconds while batches are open, or the
connection drops, the poller goes back to its own pace and the feed connects
and subscribes again. Nothing here fails the job: a feed that cannot connect
keeps trying, and polling does the work meanwhile.

The WebSocket URL carries a token: it is never logged, and errors are logged
by their class, not their text (aiohttp puts the URL in some).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

from .api.http import ApiClient
from .codes import PENDING_CODES
from .config import is_loopback
from .errors import HvsmsError, register_secret
from .journal import COMPLETED, BatchRecord, Journal
from .results_store import FAILED_STATUSES

__all__ = ["EventFeed", "EventStats", "LiveOptOuts", "MessageFailure", "alongside",
           "filters_for"]

log = logging.getLogger("engine.events")

SUBSCRIPTION = "/restapi/v1.0/subscription"
RENEW_MARGIN = 0.2  # renew when this share of the subscription's life is left
MAX_BACKOFF = 30.0


def filters_for(sender: str, *, messages: bool = True) -> list[str]:
    """The A2P event filters of one sender (batches, outbound messages, opt-outs).

    Without `messages` (a job that does not fetch delivery results) there is one
    event a batch's progress, not one a message."""
    base = "/restapi/v1.0/account/~/a2p-sms"
    out = [f"{base}/batches?from={sender}", f"{base}/opt-outs?from={sender}"]
    if messages:
        out.insert(1, f"{base}/messages?direction=Outbound&from={sender}")
    return out


@dataclass(frozen=True, slots=True)
class MessageFailure:
    """A message's final failure, told by an event (what the early stop listens to)."""

    sender: str
    recipient: str
    batch_id: str
    seq: int
    status: str
    error_code: str


@dataclass(slots=True)
class EventStats:
    events: int = 0  # notifications received
    applied: int = 0  # of them, those that changed something
    connects: int = 0
    subscriptions: int = 0
    renewals: int = 0
    fallbacks: int = 0  # times polling took over (silence or a drop)
    failures: int = 0  # final failures recorded from events
    opt_outs: int = 0


@dataclass(slots=True)
class LiveOptOuts:
    """Recipients who opted out during the job, per sender (from events)."""

    by_sender: dict[str, set[str]] = field(default_factory=dict)
    version: int = 0  # moves on each new opt-out, so a batch checked before is checked again

    def add(self, sender: str, to: str) -> bool:
        numbers = self.by_sender.setdefault(sender, set())
        if to in numbers:
            return False
        numbers.add(to)
        self.version += 1
        return True

    def discard(self, sender: str, to: str) -> None:
        if to in self.by_sender.get(sender, ()):
            self.by_sender[sender].discard(to)
            self.version += 1

    def of(self, sender: str) -> set[str]:
        return self.by_sender.get(sender, set())


class EventFeed:
    """One job's subscription: `run` until cancelled; what it learns goes to the journal.

    `open_batch(batch_id)` is the job's open batch of that id (None: not ours,
    or already completed by polling); `nudge(rec)` asks the poller to confirm a
    batch an event says is complete; `updated(rec)` is the job's progress hook;
    `flowing(bool)` tells whether events are flowing (the poller may slow down);
    `on_failure` hooks get every final failure the first time it is told.
    """

    def __init__(self, *, client: ApiClient, journal: Journal, senders: list[str],
                 open_batch: Callable[[str], BatchRecord | None],
                 nudge: Callable[[BatchRecord], None],
                 updated: Callable[[BatchRecord], None],
                 flowing: Callable[[bool], None],
                 busy: Callable[[], bool],
                 silence: float = 60.0, messages: bool = True) -> None:
        self.client, self.journal, self.senders = client, journal, senders
        self.open_batch, self.nudge, self.updated = open_batch, nudge, updated
        self.flowing, self.busy, self.silence = flowing, busy, silence
        self.messages = messages
        self.opt_outs = LiveOptOuts()
        self.on_failure: list[Callable[[MessageFailure], None]] = []
        self.stats = EventStats()
        self._flowing = False
        self._done: dict[str, BatchRecord] | None = None  # batch id -> record, loaded on need

    # -- applying events (through the journal's one writer) ------------------------

    def apply(self, envelope: dict[str, Any]) -> bool:
        """Apply one notification; True if it changed anything. Not deduplicated by
        its uuid (that would hold one per message): applying is idempotent."""
        self.stats.events += 1
        body = envelope.get("body")
        path = str(envelope.get("event") or "")
        if not isinstance(body, dict):
            return False
        if "/a2p-sms/opt-outs" in path:
            changed = self._opt_out(body)
        elif "/a2p-sms/messages" in path:
            changed = self._message(body)
        elif "/a2p-sms/batches" in path:
            changed = self._batch(body)
        else:
            changed = False
        self.stats.applied += changed
        return changed

    def _batch(self, body: dict[str, Any]) -> bool:
        rec = self.open_batch(str(body.get("id") or ""))
        if rec is None or rec.state == COMPLETED:
            return False
        processed = _int(body.get("processedCount"))
        status = str(body.get("status") or "")
        changed = False
        if processed is not None and processed > (rec.processed or 0):
            # Only up: a delayed event must not undo a later poll.
            self.journal.record(rec, processed=processed)
            changed = True
        if status == "Completed":
            self.nudge(rec)  # the poller confirms and reads the counts: one source of truth
        if changed:
            self.updated(rec)
        return changed

    def _message(self, body: dict[str, Any]) -> bool:
        status = str(body.get("messageStatus") or "")
        code = str(body.get("errorCode") or "")
        if status not in FAILED_STATUSES or code in PENDING_CODES:
            return False  # delivered ones are counted by the results pages
        batch_id = str(body.get("batchId") or "")
        rec = self.open_batch(batch_id) or self._any_batch(batch_id)
        to = body.get("to")
        recipient = str(to[0]) if isinstance(to, list) and to else str(to or "")
        if rec is None or not recipient:
            return False
        if not self.journal.live.add(message_id=str(body.get("id") or ""), batch_id=batch_id,
                                     seq=rec.seq, recipient=recipient, status=status,
                                     error_code=code):
            return False
        self.stats.failures += 1
        failure = MessageFailure(sender=str(body.get("from") or rec.sender or ""),
                                 recipient=recipient, batch_id=batch_id, seq=rec.seq,
                                 status=status, error_code=code)
        log.info("batch %d: a message failed (%s)", rec.seq, code, extra={
            "event": "message_failed", "batch": rec.seq, "status": status, "error_code": code})
        for hook in self.on_failure:
            hook(failure)
        return True

    def _any_batch(self, batch_id: str) -> BatchRecord | None:
        # A batch polling already completed: its late failures still count.
        if self._done is None or batch_id not in self._done:
            self._done = {r.batch_id: r for r in self.journal.batches() if r.batch_id}
        return self._done.get(batch_id)

    def _opt_out(self, body: dict[str, Any]) -> bool:
        sender, to = str(body.get("from") or ""), str(body.get("to") or "")
        if not sender or not to:
            return False
        if body.get("active") is False:  # opted back in
            self.opt_outs.discard(sender, to)
            return False
        if not self.opt_outs.add(sender, to):
            return False
        self.stats.opt_outs += 1
        log.info("a recipient opted out during the job", extra={"event": "opted_out_live"})
        return True

    # -- the connection --------------------------------------------------------------

    async def run(self) -> None:
        """Connect, subscribe, listen; after a drop or a silence, again (with backoff)."""
        backoff = 1.0
        while True:
            try:
                await self._session()
                backoff = 1.0
            except (HvsmsError, aiohttp.ClientError, OSError, TimeoutError, ValueError,
                    LookupError, TypeError) as exc:
                log.info("events: %s; polling meanwhile", type(exc).__name__,
                         extra={"event": "events_down"})
            self._set_flowing(False)
            await asyncio.sleep(backoff)
            backoff = min(MAX_BACKOFF, backoff * 2)

    async def _session(self) -> None:
        token = await self.client.request("POST", "/restapi/oauth/wstoken", endpoint="wstoken",
                                          group="auth")
        uri, secret = str(token.data["uri"]), str(token.data["ws_access_token"])
        register_secret(secret)
        parts = urlsplit(uri)
        if parts.scheme != "wss" and not (parts.scheme == "ws"
                                          and is_loopback(parts.hostname or "")):
            # The token goes in the URL: never in clear text off this machine.
            raise ValueError("the WebSocket gateway is not wss://")
        session = self.client.session
        async with session.ws_connect(uri, params={"access_token": secret},
                                      heartbeat=None, autoping=True) as ws:
            self.stats.connects += 1
            meta, _ = _split(await ws.receive_str())
            if meta.get("type") != "ConnectionDetails":
                raise ValueError("no ConnectionDetails")
            filters = [f for sender in self.senders
                       for f in filters_for(sender, messages=self.messages)]
            sub = await self._call(ws, "POST", SUBSCRIPTION,
                                   {"eventFilters": filters,
                                    "deliveryMode": {"transportType": "WebSocket"}})
            self.stats.subscriptions += 1
            sub_id, life = str(sub["id"]), float(sub.get("expiresIn") or 900)
            log.info("events: subscribed for %d sender(s)", len(self.senders),
                     extra={"event": "events_subscribed"})
            self._set_flowing(True)
            await self._listen(ws, sub_id, life)

    async def _listen(self, ws: aiohttp.ClientWebSocketResponse, sub_id: str,
                      life: float) -> None:
        loop = asyncio.get_running_loop()
        renew_at = loop.time() + life * (1 - RENEW_MARGIN)
        last = loop.time()
        while True:
            now = loop.time()
            wait = max(0.0, min(renew_at - now, last + self.silence - now))
            try:
                async with asyncio.timeout(wait):
                    msg = await ws.receive()
            except TimeoutError:
                now = loop.time()
                if now >= renew_at:
                    # The answer comes back among the notifications.
                    await self._send(ws, "POST", f"{SUBSCRIPTION}/{sub_id}/renew", None)
                    self.stats.renewals += 1
                    renew_at = now + life * (1 - RENEW_MARGIN)
                    continue
                if self.busy():
                    # Batches are open and nothing came: do not trust this connection.
                    log.info("events: none for %.0fs; polling, subscribing again",
                             self.silence, extra={"event": "events_silent"})
                    return
                last = now
                continue
            if msg.type != aiohttp.WSMsgType.TEXT:
                return  # closed or broken: the caller falls back and reconnects
            last = loop.time()
            if _delivered(msg.data):
                self.stats.events += 1  # most events, and nothing to do: not parsed
                self._set_flowing(True)
                continue
            meta, body = _split(msg.data)
            if meta.get("type") == "ServerNotification" and isinstance(body, dict):
                self._set_flowing(True)
                self.apply(body)

    async def _call(self, ws: aiohttp.ClientWebSocketResponse, method: str, path: str,
                    body: Any) -> dict[str, Any]:
        message_id = await self._send(ws, method, path, body)
        while True:
            meta, answer = _split(await ws.receive_str())
            if meta.get("type") == "ServerNotification" and isinstance(answer, dict):
                self.apply(answer)
            elif meta.get("messageId") == message_id:
                if meta.get("status") != 200 or not isinstance(answer, dict):
                    raise ValueError(f"subscription refused: HTTP {meta.get('status')}")
                return answer

    async def _send(self, ws: aiohttp.ClientWebSocketResponse, method: str, path: str,
                    body: Any) -> str:
        message_id = str(uuid.uuid4())
        frame: list[Any] = [{"type": "ClientRequest", "messageId": message_id,
                             "method": method, "path": path}]
        if body is not None:
            frame.append(body)
        await ws.send_str(orjson.dumps(frame).decode())
        return message_id

    def _set_flowing(self, flowing: bool) -> None:
        if flowing == self._flowing:
            return
        self._flowing = flowing
        if not flowing:
            self.stats.fallbacks += 1
        self.flowing(flowing)


async def alongside(feed: EventFeed | None, work: Coroutine[Any, Any, None]) -> None:
    """`work` (the poller), with the feed listening until it is done."""
    if feed is None:
        await work
        return
    async with asyncio.TaskGroup() as tg:
        listening = tg.create_task(feed.run())
        await work
        listening.cancel()


def _delivered(text: str) -> bool:
    """A message event saying Delivered (a quote inside a text would be escaped)."""
    return '"Delivered"' in text and "/a2p-sms/messages" in text and "ServerNotification" in text


def _split(text: str) -> tuple[dict[str, Any], Any]:
    frame = orjson.loads(text)
    if not isinstance(frame, list) or not frame or not isinstance(frame[0], dict):
        raise ValueError("not a WebSocket gateway frame")
    return frame[0], frame[1] if len(frame) > 1 else None


def _int(value: Any) -> int | None:
    with contextlib.suppress(TypeError, ValueError):
        return int(value)
    return None
