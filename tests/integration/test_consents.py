"""Opt-outs from the v2 consents (the v1 list is deprecated in the spec), honouring
their coverage; the v1 list where a server has no v2 consents."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from support import SENDER, cfg, opts, us_number

import engine
from engine.emulator import Emulator

OTHER = "+16505550101"


async def _send(path: Path, emu: Emulator) -> engine.JobReport:
    return await engine.send_bulk(path, text="Hi", sender=SENDER, credentials=emu.credentials,
                                  options=opts())


async def test_consents_by_coverage_and_the_v1_list_as_fallback(
    write_csv: Callable[..., Path],
) -> None:
    numbers = [us_number(i) for i in range(100)]
    path = write_csv([[n] for n in numbers])
    mine, others, everyone = numbers[:3], numbers[3:6], numbers[6:8]
    config = cfg(opt_outs={SENDER: mine, OTHER: others}, account_opt_outs=everyone)
    async with Emulator(config) as emu:
        v2 = await _send(path, emu)
        v2_requests = emu.ledger()["requests"]
    async with Emulator(cfg(opt_outs={SENDER: mine, OTHER: others},
                            account_opt_outs=everyone, consents_v2=False)) as emu:
        v1 = await _send(path, emu)
        v1_requests = emu.ledger()["requests"]
    # v2: this number's and the account's opt-outs, not another number's.
    assert sorted(d.value for d in v2.dropped) == sorted(mine + everyone)
    assert v2.counts.opted_out == 5 and v2.counts.accepted == 95
    assert v2_requests.get("listSmsConsents") == 1 and "readA2PSMSOptOuts" not in v2_requests
    # v1: the sender's own list only (it has no account-wide records).
    assert sorted(d.value for d in v1.dropped) == sorted(mine)
    assert v1_requests.get("readA2PSMSOptOuts") == 1
