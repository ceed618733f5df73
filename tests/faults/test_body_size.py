"""A streamed body that is not the size it declared: the HTTP layer says so in its
own terms (`BodySizeMismatch`), the submitter in the journal's (`InputChanged`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import cast

import pytest
from aiohttp import web

from engine.api.a2p import A2P, BatchInfo
from engine.api.body import StreamBody
from engine.api.http import ApiClient
from engine.errors import BodySizeMismatch, InputChanged, JournalError
from engine.journal import SUBMITTING, BatchRecord, Journal
from engine.planner import BodyBuilder
from engine.submitter import Submitter

from .servers import serve


async def _pieces(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


@pytest.mark.parametrize(("parts", "larger"), [((b"{}", b"[1]"), True), ((b"{", b"}"), False)])
async def test_a_body_of_another_size_than_declared_is_not_sent(
    parts: tuple[bytes, ...], larger: bool,
) -> None:
    received: list[bytes] = []

    async def handler(request: web.Request) -> web.Response:
        received.append(await request.read())
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/x", handler)
    size = 3  # declared: 3 bytes; sent: 5 (larger) or 2 (smaller)
    async with serve(app) as url, ApiClient(url, max_retries=0) as client:
        with pytest.raises(BodySizeMismatch) as caught:
            await client.request("POST", "/x", endpoint="x", authorized=False,
                                 body=lambda: StreamBody(_pieces(*parts), size))
    assert caught.value.larger is larger and caught.value.expected == size
    assert not isinstance(caught.value, JournalError)  # the HTTP layer knows no journal
    assert received == []  # no complete request reached the server
    assert client.stats.unknown_outcomes == 0


class _Mismatching(A2P):
    """An A2P whose POST meets a body larger than planned."""

    def __init__(self) -> None:
        super().__init__(ApiClient("http://127.0.0.1:9"))

    async def create_batch(self, body: Callable[[], StreamBody]) -> BatchInfo:
        raise BodySizeMismatch(written=120, expected=100)


async def test_the_submitter_reports_a_body_of_another_size_as_a_changed_input(
    tmp_path: Path,
) -> None:
    journal = Journal.create(str(tmp_path / "j.journal"), {})
    rec = BatchRecord(1, 0, 100, 2, 2, 3, 2, 100, "+14155550100", "+14155550101")
    journal.add_batch(rec, [])
    submitter = Submitter(a2p=_Mismatching(), journal=journal,
                          builder=cast(BodyBuilder, None), sender="+16505550100",
                          since="2026-01-01T00:00:00Z", reconcile_after=0.0,
                          on_submitted=lambda rec: None)
    with pytest.raises(InputChanged, match="larger than planned: the input changed"):
        await submitter.submit(rec)
    # As before the POST: the intent is journaled, so a resume reconciles first.
    (row,) = journal.batches()
    assert row.state == rec.state == SUBMITTING
    journal.close()
