"""Typed calls to the High Volume SMS endpoints (paths and fields as in the spec).

Answers are parsed here into frozen dataclasses: the API's field names
(`messageStatus`, `processedCount`, `deliveryFailed`...) go no further.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import OutcomeUnknown, ServerError
from .body import StreamBody
from .http import ApiClient

__all__ = ["A2P", "BatchInfo", "Message", "MessagePage", "Rejection", "StatusCounts"]

ACCOUNT = "/restapi/v1.0/account/~"
A2P_SENDER = "A2PSmsSender"
MAX_PER_PAGE = 1000


@dataclass(frozen=True, slots=True)
class Rejection:
    index: int  # 1-based position in the batch's messages
    to: str
    error_code: str
    description: str

# A batch in either of these is processed (the spec's batch statuses are
# Processing, Completed and Sent; the list filter also takes Queued).
DONE_STATUSES = frozenset({"Completed", "Sent"})


@dataclass(frozen=True, slots=True)
class BatchInfo:
    id: str
    sender: str
    batch_size: int
    processed: int
    status: str
    creation_time: str
    cost: float | None
    rejected: tuple[Rejection, ...] = ()

    @property
    def completed(self) -> bool:
        return self.status in DONE_STATUSES

    @classmethod
    def parse(cls, data: Any, endpoint: str) -> BatchInfo:
        if not isinstance(data, dict):
            raise ServerError(200, None, "answer is not a batch object", endpoint=endpoint)
        try:
            rejected = tuple(
                Rejection(
                    index=int(r["index"]),
                    to=str((r.get("to") or [""])[0]),
                    error_code=str(r.get("errorCode", "")),
                    description=str(r.get("description", "")),
                )
                for r in data.get("rejected") or ()
            )
            cost = data.get("cost")
            return cls(
                id=str(data["id"]),
                sender=str(data.get("from", "")),
                batch_size=int(data.get("batchSize", 0)),
                processed=int(data.get("processedCount", 0)),
                status=str(data.get("status", "")),
                creation_time=str(data.get("creationTime", "")),
                cost=float(cost) if cost is not None else None,
                rejected=rejected,
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ServerError(200, None, "unexpected batch object", endpoint=endpoint) from None


@dataclass(frozen=True, slots=True)
class Message:
    """One message of a batch, as the messages list (`listA2PSMS`) shows it."""

    to: str
    status: str  # Queued, Sent, Delivered, DeliveryFailed or SendingFailed ('' if none)
    error_code: str  # '' when there is none

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Message:
        to = data.get("to")
        number = str(to[0]) if isinstance(to, list) and to else str(to or "")
        return cls(number, str(data.get("messageStatus") or ""),
                   str(data.get("errorCode") or ""))


@dataclass(frozen=True, slots=True)
class MessagePage:
    """One page of the messages list, and the token of the next (None: the last)."""

    messages: tuple[Message, ...]
    next_token: str | None


@dataclass(frozen=True, slots=True)
class StatusCounts:
    """A batch's messages per status (`aggregateA2PSMSStatuses`).

    `failed_codes`: the error codes of both failed statuses, with their counts.
    Anything missing or malformed counts as 0.
    """

    queued: int = 0
    sent: int = 0
    delivered: int = 0
    delivery_failed: int = 0
    sending_failed: int = 0
    failed_codes: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def parse(cls, data: Any) -> StatusCounts:
        if not isinstance(data, dict):
            return cls()
        codes: dict[str, int] = {}
        for key in ("deliveryFailed", "sendingFailed"):
            entry = data.get(key)
            counts = entry.get("errorCodeCounts") if isinstance(entry, dict) else None
            if isinstance(counts, dict):
                for code, n in counts.items():
                    codes[str(code)] = codes.get(str(code), 0) + _int(n)
        return cls(
            queued=_count(data, "queued"), sent=_count(data, "sent"),
            delivered=_count(data, "delivered"),
            delivery_failed=_count(data, "deliveryFailed"),
            sending_failed=_count(data, "sendingFailed"), failed_codes=codes,
        )


class A2P:
    """The account's A2P SMS API over an authenticated `ApiClient`."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        # `paymentType` of each number `a2p_senders` listed (TollFree, Local, ...).
        self.payment_types: dict[str, str] = {}
        self.number_ids: dict[str, str] = {}  # the phone-number record id of each

    async def a2p_senders(self) -> list[str]:
        """The account's numbers with the A2PSmsSender feature, all pages."""
        senders: list[str] = []
        page = 1
        while True:
            resp = await self.client.request(
                "GET", f"{ACCOUNT}/extension/~/phone-number", endpoint="listExtensionPhoneNumbers",
                params={"perPage": "1000", "page": str(page)},
            )
            data = _page(resp.data, "listExtensionPhoneNumbers")
            for rec in data.get("records") or ():
                if not isinstance(rec, dict):
                    continue
                if A2P_SENDER in (rec.get("features") or ()) and rec.get("phoneNumber"):
                    senders.append(str(rec["phoneNumber"]))
                    self.payment_types[senders[-1]] = str(rec.get("paymentType") or "")
                    if rec.get("id") is not None:
                        self.number_ids[senders[-1]] = str(rec["id"])
            paging = data.get("paging") or {}
            if int(paging.get("totalPages") or page) <= page:
                return senders
            page += 1

    async def sms_configuration(self, number: str) -> Any:
        """The number's SMS configuration (TCR campaign, tier); `a2p_senders` first."""
        number_id = self.number_ids[number]
        resp = await self.client.request(
            "GET", f"{ACCOUNT}/extension/~/phone-number/{number_id}/sms-configuration",
            endpoint="readSmsConfiguration")
        return resp.data

    async def create_batch(self, body: Callable[[], StreamBody]) -> BatchInfo:
        resp = await self.client.request(
            "POST", f"{ACCOUNT}/a2p-sms/batches", endpoint="createA2PSMS", body=body
        )
        try:
            return BatchInfo.parse(resp.data, "createA2PSMS")
        except ServerError:
            # A 2xx that is not a batch: the server may well have stored it.
            self.client.stats.unknown_outcomes += 1
            raise OutcomeUnknown(
                f"createA2PSMS: HTTP {resp.status} with an answer that is not a batch; "
                "the batch may have been stored"
            ) from None

    async def get_batch(self, batch_id: str) -> BatchInfo:
        resp = await self.client.request(
            "GET", f"{ACCOUNT}/a2p-sms/batches/{batch_id}", endpoint="readA2PBatch"
        )
        return BatchInfo.parse(resp.data, "readA2PBatch")

    async def list_batches(
        self, *, sender: str, date_from: str, statuses: tuple[str, ...] = ()
    ) -> AsyncIterator[BatchInfo]:
        params = [("from", sender), ("dateFrom", date_from), ("perPage", str(MAX_PER_PAGE))]
        params += [("status", s) for s in statuses]
        async for rec in self._pages(f"{ACCOUNT}/a2p-sms/batches", params, "listA2PBatches"):
            yield BatchInfo.parse(rec, "listA2PBatches")

    async def list_messages(
        self, *, batch_id: str, date_from: str | None = None, per_page: int = MAX_PER_PAGE,
        max_pages: int | None = None, phone_numbers: Sequence[str] = (),
    ) -> AsyncIterator[Message]:
        """Messages of a batch; `phone_numbers` (at most 15) keeps those to or from them."""
        params = [("batchId", batch_id), ("perPage", str(per_page))]
        params += [("phoneNumber", n) for n in phone_numbers]
        if date_from:
            params.append(("dateFrom", date_from))
        async for rec in self._pages(
            f"{ACCOUNT}/a2p-sms/messages", params, "listA2PSMS", max_pages=max_pages
        ):
            yield Message.parse(rec)

    async def messages_page(
        self, *, batch_id: str, date_from: str | None, token: str | None = None,
        per_page: int = MAX_PER_PAGE, background: bool = False,
    ) -> MessagePage:
        """One page of a batch's messages and the next page's token."""
        params = [("batchId", batch_id), ("perPage", str(per_page))]
        if date_from:
            params.append(("dateFrom", date_from))
        if token:
            params.append(("pageToken", token))
        resp = await self.client.request("GET", f"{ACCOUNT}/a2p-sms/messages",
                                         endpoint="listA2PSMS", params=params,
                                         background=background)
        data = _page(resp.data, "listA2PSMS")
        messages = tuple(Message.parse(r) for r in data.get("records") or ()
                         if isinstance(r, dict))
        nxt = (data.get("paging") or {}).get("nextPageToken")
        return MessagePage(messages, str(nxt) if nxt else None)

    async def statuses(self, *, batch_id: str, date_from: str | None = None) -> StatusCounts:
        """Counts per message status for one batch (`MessageStatusesResponse`)."""
        params = {"batchId": batch_id}
        if date_from:
            params["dateFrom"] = date_from
        resp = await self.client.request(
            "GET", f"{ACCOUNT}/a2p-sms/statuses", endpoint="aggregateA2PSMSStatuses", params=params
        )
        return StatusCounts.parse(resp.data)

    async def consents(self, *, sender: str) -> AsyncIterator[str]:
        """Recipients opted out of `sender` by the v2 consents: records of coverage
        PhoneNumber for this number, Account (every number), and CampaignType
        (taken as every number: hvsms does not know the campaign types)."""
        params = [("optStatus", "OptOut"), ("perPage", str(MAX_PER_PAGE))]
        async for rec in self._pages("/restapi/v2/accounts/~/sms/consents", params,
                                     "listSmsConsents"):
            coverage, to = rec.get("coverage"), rec.get("to")
            if rec.get("optStatus", "OptOut") != "OptOut" or not to:
                continue
            if coverage == "PhoneNumber" and rec.get("from") != sender:
                continue
            yield str(to)

    async def opt_outs(self, *, sender: str) -> AsyncIterator[str]:
        """The v1 opt-out list of `sender` (deprecated in favour of `consents`)."""
        params = [("from", sender), ("status", "optout"), ("perPage", str(MAX_PER_PAGE))]
        async for rec in self._pages(f"{ACCOUNT}/a2p-sms/opt-outs", params, "readA2PSMSOptOuts"):
            to = rec.get("to")
            if isinstance(to, list):
                to = to[0] if to else None
            if to:
                yield str(to)

    async def _pages(
        self, path: str, params: list[tuple[str, str]], endpoint: str,
        max_pages: int | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        token: str | None = None
        pages = 0
        while True:
            query = params + ([("pageToken", token)] if token else [])
            resp = await self.client.request("GET", path, endpoint=endpoint, params=query)
            data = _page(resp.data, endpoint)
            for rec in data.get("records") or ():
                if isinstance(rec, dict):
                    yield rec
            pages += 1
            token = (data.get("paging") or {}).get("nextPageToken")
            if not token or (max_pages is not None and pages >= max_pages):
                return


def _page(data: Any, endpoint: str) -> dict[str, Any]:
    """A list page's JSON object; anything else is the server's fault."""
    if not isinstance(data, dict) or not isinstance(data.get("records", []), list):
        raise ServerError(200, None, "answer is not a list page", endpoint=endpoint)
    paging = data.get("paging")
    if paging is not None and not isinstance(paging, dict):
        raise ServerError(200, None, "answer has a malformed paging object", endpoint=endpoint)
    return data


def _count(data: dict[str, Any], key: str) -> int:
    entry = data.get(key)
    return _int(entry.get("count")) if isinstance(entry, dict) else 0


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0
