"""Query-string parsing shared by the list endpoints: paging, dates, phone numbers.

Page tokens are opaque to clients (base64url, no padding) and carry the
position just past the last record returned.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any

from multidict import MultiMapping

from .responses import ApiError, parse_time

__all__ = [
    "DAY",
    "MAX_PER_PAGE",
    "date_window",
    "decode_token",
    "encode_token",
    "page_of",
    "paging",
    "parse_phone",
    "per_page",
    "phone_numbers",
]

MAX_PER_PAGE = 1000
MAX_PHONE_FILTERS = 15
DAY = 86400.0


def encode_token(kind: str, after: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{after}".encode()).decode().rstrip("=")


def decode_token(kind: str, token: str | None) -> int:
    """The position in a page token of `kind`; -1 (the start) when there is none."""
    if not token:
        return -1
    raw = token.strip()
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        prefix, _, number = text.partition(":")
        if prefix != kind:
            raise ValueError(text)
        return int(number)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ApiError.invalid_parameter("pageToken") from None


def paging(kind: str, size: int, after: int, next_after: int | None) -> dict[str, Any]:
    """`NonEnumeratedPagingModel`: nextPageToken only when there is a next page."""
    out: dict[str, Any] = {
        "perPage": size,
        "pageToken": encode_token(kind, after),
        "firstPageToken": encode_token(kind, -1),
    }
    if next_after is not None:
        out["nextPageToken"] = encode_token(kind, next_after)
    return out


def page_of(records: Sequence[Any], query: Mapping[str, str], kind: str) -> dict[str, Any]:
    """One page of a list held in memory (`records`, `paging`), as the query asks."""
    size = per_page(query)
    after = decode_token(kind, query.get("pageToken"))
    chunk = records[after + 1:after + 1 + size]
    last = after + len(chunk)
    next_after = last if last + 1 < len(records) else None
    return {"records": list(chunk), "paging": paging(kind, size, after, next_after)}


def per_page(query: Mapping[str, str], default: int = MAX_PER_PAGE) -> int:
    value = query.get("perPage")
    if value is None or value == "":
        return default
    try:
        size = int(value)
    except ValueError:
        raise ApiError.invalid_parameter("perPage") from None
    if not 1 <= size <= MAX_PER_PAGE:
        raise ApiError.invalid_parameter("perPage")
    return size


def date_window(query: Mapping[str, str], now: float) -> tuple[float, float]:
    """(dateFrom, dateTo): dateTo defaults to now, dateFrom to dateTo minus 24 h."""
    try:
        date_to = parse_time(query["dateTo"]) if query.get("dateTo") else now
    except ValueError:
        raise ApiError.invalid_parameter("dateTo") from None
    try:
        date_from = parse_time(query["dateFrom"]) if query.get("dateFrom") else date_to - DAY
    except ValueError:
        raise ApiError.invalid_parameter("dateFrom") from None
    return date_from, date_to


def parse_phone(value: str) -> str:
    """A phone-number query value as E.164.

    The official SDK does not URL-encode query strings, so a `+` arrives as a
    space (stripped here); digits alone are read as E.164 without the `+`.
    """
    text = value.strip()
    if text.isdigit():
        return "+" + text
    return text


def phone_numbers(query: MultiMapping[str], name: str = "phoneNumber") -> tuple[str, ...]:
    values = tuple(parse_phone(v) for v in query.getall(name, ()) if v.strip())
    if len(values) > MAX_PHONE_FILTERS:
        raise ApiError.invalid_parameter(name)
    return values
