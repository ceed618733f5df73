"""Push-notification subscriptions and the A2P events they carry (pure: no I/O).

RingCentral's High Volume SMS event filters (developer guide, "events" and
the event-filter pages):

- `/restapi/v1.0/account/~/a2p-sms/batches[?from=+E164]` and
  `.../batches/{batchId}`: the batch object (`processedCount`, `status`,
  `cost` once Completed), whenever its progress changes;
- `.../a2p-sms/messages?direction=Outbound[&from=+E164][&batchId=...]`: a
  message object each time a message reaches a final status (Delivered,
  DeliveryFailed, SendingFailed; SMS-CAR-104 is not final, so not sent);
- `.../a2p-sms/opt-outs[?from=+E164]`: `{from, to, active}` (active: opted out).

Events are found by comparing the state with what was last told, tick by
tick (`EventSource.tick`): the emulator computes progress from its clock, so
there is nothing to hook into. A subscription sees what happens after it
exists; nothing is replayed (the engine's polling covers a gap).

Assumptions where the sources are silent: a WebSocket subscription lives
`expiresIn` seconds (default 900, emulated; at most a day) unless renewed;
the envelope's `event` is the matched filter with the account id filled in.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import numpy as np

from .batch import Batch
from .responses import ApiError, format_time
from .state import EmulatorState

__all__ = [
    "DEFAULT_EXPIRES_IN",
    "Event",
    "EventFilter",
    "EventSource",
    "Subscription",
    "Subscriptions",
    "parse_filter",
]

DEFAULT_EXPIRES_IN = 900
MAX_EXPIRES_IN = 86_400
FINAL_BELOW = 250  # shown codes below QUEUED/SENT/SHOWN_PENDING are final outcomes

_FILTER = re.compile(
    r"^/restapi/v1\.0/account/(?P<account>~|\d+)/a2p-sms/"
    r"(?P<kind>batches|messages|opt-outs)(?:/(?P<id>[^/?]+))?(?:\?(?P<query>.*))?$")


@dataclass(frozen=True, slots=True)
class EventFilter:
    text: str
    kind: str  # batches | messages | opt-outs
    sender: str | None = None
    batch_id: str | None = None
    direction: str | None = None

    def matches(self, kind: str, sender: str, batch_id: str | None) -> bool:
        if kind != self.kind or (self.sender is not None and sender != self.sender):
            return False
        if self.direction not in (None, "Outbound"):
            return False
        return self.batch_id is None or self.batch_id == batch_id

    def event_path(self, account_id: str) -> str:
        return self.text.replace("/account/~/", f"/account/{account_id}/", 1)


def parse_filter(text: str) -> EventFilter:
    """An A2P event filter, or 400 SUB-... (the only filters the emulator serves)."""
    found = _FILTER.match(text.strip()) if isinstance(text, str) else None
    if found is None:
        raise ApiError(400, "SUB-526", f"Event filter [{text}] is not supported")
    query: dict[str, str] = {}
    for part in (found["query"] or "").split("&"):
        if part:
            key, _, value = part.partition("=")
            # Not unquote_plus: a raw `+` in `from=+1650...` is the number's own.
            query[key] = unquote(value)
    kind = found["kind"]
    batch_id = found["id"] if kind == "batches" else query.get("batchId")
    if found["id"] is not None and kind != "batches":
        raise ApiError(400, "SUB-526", f"Event filter [{text}] is not supported")
    return EventFilter(text=text.strip(), kind=kind, sender=query.get("from") or None,
                       batch_id=batch_id or None, direction=query.get("direction") or None)


@dataclass(slots=True)
class Subscription:
    id: str
    filters: list[EventFilter]
    created: float
    expires: float
    connection: str | None  # the WebSocket session it delivers to

    def info(self, now: float, base_url: str, real: Callable[[float], float] = float
             ) -> dict[str, Any]:
        """`SubscriptionInfo` as RingCentral answers it; `expiresIn` in real seconds
        (`real`: the emulated clock's conversion; fractions when compressed)."""
        left = real(max(0.0, self.expires - now))
        return {
            "uri": f"{base_url}/restapi/v1.0/subscription/{self.id}",
            "id": self.id,
            "creationTime": format_time(self.created),
            "status": "Active" if now < self.expires else "Expired",
            "eventFilters": [f.text for f in self.filters],
            "expirationTime": format_time(self.expires),
            "expiresIn": int(left) if left >= 60 else round(left, 3),
            "deliveryMode": {"transportType": "WebSocket", "encryption": False},
        }


class Subscriptions:
    """Every subscription of the emulator, by id."""

    def __init__(self) -> None:
        self.by_id: dict[str, Subscription] = {}

    def create(self, body: Any, now: float, connection: str | None) -> Subscription:
        filters, expires_in = _request(body)
        sub = Subscription(id=str(uuid.uuid4()), filters=filters, created=now,
                           expires=now + expires_in, connection=connection)
        self.by_id[sub.id] = sub
        return sub

    def get(self, sub_id: str, now: float) -> Subscription:
        sub = self.by_id.get(sub_id)
        if sub is None or now >= sub.expires:
            raise ApiError(404, "SUB-522", f"Subscription [{sub_id}] is not found")
        return sub

    def update(self, sub_id: str, body: Any, now: float, connection: str | None
               ) -> Subscription:
        """PUT: new filters (if given) and a new lifetime; renew: the lifetime only."""
        sub = self.get(sub_id, now)
        if body is not None:
            sub.filters, expires_in = _request(body)
        else:
            expires_in = DEFAULT_EXPIRES_IN
        sub.expires = now + expires_in
        if connection is not None:
            sub.connection = connection
        return sub

    def delete(self, sub_id: str, now: float) -> None:
        self.get(sub_id, now)
        del self.by_id[sub_id]

    def live(self, now: float) -> list[Subscription]:
        return [s for s in self.by_id.values() if now < s.expires and s.connection]


def _request(body: Any) -> tuple[list[EventFilter], float]:
    if not isinstance(body, dict):
        raise ApiError.cannot_parse()
    raw = body.get("eventFilters")
    if not isinstance(raw, list) or not raw or not all(isinstance(f, str) for f in raw):
        raise ApiError.invalid_parameter("eventFilters")
    mode = body.get("deliveryMode")
    if not isinstance(mode, dict) or mode.get("transportType") != "WebSocket":
        # Webhooks need a public URL the emulator cannot call back.
        raise ApiError.invalid_parameter("deliveryMode.transportType")
    expires_in = body.get("expiresIn", DEFAULT_EXPIRES_IN)
    if not isinstance(expires_in, int | float) or expires_in <= 0:
        raise ApiError.invalid_parameter("expiresIn")
    return [parse_filter(f) for f in raw], float(min(expires_in, MAX_EXPIRES_IN))


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened, before it is matched to subscriptions."""

    kind: str
    sender: str
    batch_id: str | None
    body: dict[str, Any]


@dataclass(slots=True)
class _Seen:
    """What was last told about one batch."""

    processed: int
    status: str
    told: np.ndarray[Any, np.dtype[np.bool_]]  # final messages already told
    low: int = 0  # every message below it was told
    done: bool = False


@dataclass(slots=True)
class EventSource:
    """Finds the events that happened since the last tick, from the state itself."""

    price: float
    batches: dict[int, _Seen] = field(default_factory=dict)
    opt_outs: dict[str, dict[str, str]] = field(default_factory=dict)
    _state: EmulatorState | None = None

    def tick(self, state: EmulatorState, now: float, senders: set[str], since: float,
             messages: set[str] | None = None) -> list[Event]:
        """Events of `senders` (those someone is subscribed to; message events only for
        `messages`, None: all of them); batches created before `since` (the oldest
        live subscription) start from what they show now."""
        if state is not self._state:  # a reset: a new state, nothing seen yet
            self._state, self.batches, self.opt_outs = state, {}, {}
        events: list[Event] = []
        for batch in state.batches:
            if batch.sender not in senders:
                continue
            seen = self.batches.get(batch.seq)
            if seen is None:
                seen = self.batches[batch.seq] = self._start(batch, now, batch.created < since)
                if seen.done:
                    continue
            elif seen.done:
                continue
            told = messages is None or batch.sender in messages
            events.extend(self._batch_events(batch, seen, now, told))
        for sender in senders:
            events.extend(self._opt_out_events(state, sender))
        return events

    def _start(self, batch: Batch, now: float, baseline: bool) -> _Seen:
        told = np.zeros(batch.size, dtype=np.bool_)
        if not baseline:
            return _Seen(processed=-1, status="", told=told)
        done = batch.processed(now)
        told[:done] = _final(batch, 0, done, now)
        status = batch.status(now)
        seen = _Seen(processed=done, status=status, told=told)
        _advance_low(seen)
        seen.done = status == "Completed" and seen.low >= batch.size
        return seen

    def _batch_events(self, batch: Batch, seen: _Seen, now: float, messages: bool
                      ) -> Iterator[Event]:
        done = batch.processed(now)
        if not messages:  # nobody listens to them: not looked at (a big batch costs)
            seen.told[seen.low:done] = True
            seen.low = max(seen.low, done)
        elif done > seen.low:
            final = _final(batch, seen.low, done, now) & ~seen.told[seen.low:done]
            for i in (np.flatnonzero(final) + seen.low).tolist():
                seen.told[i] = True
                yield Event("messages", batch.sender, batch.id,
                            batch.message(i, now, self.price, detailed=False))
            _advance_low(seen)
        status = batch.status(now)
        if done != seen.processed or status != seen.status:
            seen.processed, seen.status = done, status
            body = batch.view(now, self.price)
            body.pop("rejected", None)
            yield Event("batches", batch.sender, batch.id, body)
        seen.done = status == "Completed" and seen.low >= batch.size

    def _opt_out_events(self, state: EmulatorState, sender: str) -> Iterator[Event]:
        now = {to: st for to, (st, _) in state.opt_outs.records.get(sender, {}).items()}
        before = self.opt_outs.get(sender)
        self.opt_outs[sender] = now
        if before is None:
            return  # first look: the baseline
        for to, status in now.items():
            if before.get(to) != status:
                yield Event("opt-outs", sender, None,
                            {"from": sender, "to": to, "active": status == "OptOut"})


def _final(batch: Batch, lo: int, hi: int, now: float) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Which of messages [lo, hi) (all processed) show a final status at `now`."""
    if hi <= lo:
        return np.zeros(0, dtype=np.bool_)
    life = batch.lifecycle
    outcomes = batch.outcomes[lo:hi]
    if life.instant:
        return np.ones(hi - lo, dtype=np.bool_)
    index = np.arange(lo, hi, dtype=np.int64)
    shown = life.shown(outcomes, batch.processed_at_many(index), life.delays(batch.seq, index),
                       now)
    out: np.ndarray[Any, np.dtype[np.bool_]] = shown < FINAL_BELOW
    return out


def _advance_low(seen: _Seen) -> None:
    rest = seen.told[seen.low:]
    untold = np.flatnonzero(~rest)
    seen.low += int(untold[0]) if len(untold) else len(rest)
