"""Response bodies in RingCentral's shapes: `ASGErrorResponse`, OAuth errors, JSON.

Every error the API endpoints give has the ASG shape
`{"errorCode", "message", "errors": [{"errorCode", "message"}]}`; the OAuth
endpoints use `{"error", "error_description", "errors": [...]}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

__all__ = [
    "ApiError",
    "asg_body",
    "format_time",
    "json_response",
    "parse_time",
]

JSON_TYPE = "application/json"


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    # The SDK checks for "application/json" in Content-Type; keep the charset too.
    return web.Response(
        body=orjson.dumps(data), status=status, headers=headers,
        content_type=JSON_TYPE, charset="utf-8",
    )


def asg_body(code: str, message: str) -> dict[str, Any]:
    return {"errorCode": code, "message": message,
            "errors": [{"errorCode": code, "message": message}]}


class ApiError(Exception):
    """An error answer of an API endpoint; the app turns it into a response."""

    def __init__(self, status: int, code: str, message: str,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def response(self) -> web.Response:
        return json_response(asg_body(self.code, self.message), self.status, self.headers)

    @classmethod
    def invalid_parameter(cls, name: str) -> ApiError:
        return cls(400, "CMN-101", f"Parameter [{name}] value is invalid.")

    @classmethod
    def not_found(cls, name: str) -> ApiError:
        return cls(404, "CMN-102", f"Resource for parameter [{name}] is not found.")

    @classmethod
    def cannot_parse(cls) -> ApiError:
        return cls(400, "CMN-104", "Cannot parse request")


def format_time(t: float) -> str:
    """Epoch seconds as the API writes them: `2021-06-21T10:31:59.818028Z`."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: str) -> float:
    """An ISO 8601 query value as epoch seconds; naive times are UTC.

    The official SDK does not URL-encode query strings, so the `+` of an
    offset such as `+00:00` arrives as a space: put it back.
    """
    text = value.strip()
    if len(text) > 19 and text[-6] == " ":
        text = text[:-6] + "+" + text[-5:]
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()
