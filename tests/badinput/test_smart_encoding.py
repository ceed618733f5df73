"""Smart encoding, end to end: what the emulator stores is what the official SDK reads back."""

from __future__ import annotations

import asyncio
from pathlib import Path

from support import cfg, opts

import engine
from engine.emulator import Emulator

from .conftest import sdk_texts


async def test_smart_encoding_changes_what_is_sent_and_can_be_turned_off(tmp_path: Path) -> None:
    source = tmp_path / "r.csv"
    source.write_text("to,text\n+14155550100,It\u2019s on \u2014 reply STOP to opt out\n"
                      "+14155550101,\U0001f389 it\u2019s on\n", encoding="utf-8")
    async with Emulator(cfg()) as emu:
        smart = await engine.send_bulk(source, credentials=emu.credentials, options=opts())
        texts = await asyncio.to_thread(sdk_texts, emu.credentials, [b.id for b in smart.batches])
        plain = await engine.send_bulk(source, credentials=emu.credentials, again=True,
                                       options=opts(smart_encoding=False))
        as_written = await asyncio.to_thread(sdk_texts, emu.credentials, [b.id for b in plain.batches])
    assert texts == {"+14155550100": "It's on - reply STOP to opt out",
                     "+14155550101": "\U0001f389 it\u2019s on"}  # stays UCS-2: left alone
    assert as_written == {"+14155550100": "It\u2019s on \u2014 reply STOP to opt out",
                          "+14155550101": "\U0001f389 it\u2019s on"}
    assert smart.smart_encoding == {"messages": 1, "segments_before": 2, "segments_after": 2,
                                    "cost_saved": 0.0}
    assert plain.smart_encoding == {}
    assert not any("opting out" in w for w in smart.warnings)
