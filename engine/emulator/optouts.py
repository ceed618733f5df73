"""Opt-outs per sender: the v1 `/a2p-sms/opt-outs` records and what sends they stop.

A recipient opted out for a sender at submit time gets SendingFailed
SMS-RC-413 for that sender's messages. Opt-outs from the config have source
"Recipient" (they texted STOP); bulk-assigned ones have source "Account".
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .config import EmulatorConfig
from .numbers import e164_to_int
from .responses import ApiError

__all__ = ["OptOuts"]


class OptOuts:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        # sender -> recipient -> (status, source), insertion ordered.
        self.records: dict[str, dict[str, tuple[str, str]]] = {
            sender: {n: ("OptOut", "Recipient") for n in numbers}
            for sender, numbers in config.opt_outs.items()
        }
        # Opted out of every number of the account (v2 coverage "Account").
        self.account: dict[str, tuple[str, str]] = {
            n: ("OptOut", "Recipient") for n in config.account_opt_outs}
        self._opted_out_cache: dict[str, npt.NDArray[np.int64]] = {}

    def opted_out(self, sender: str) -> npt.NDArray[np.int64]:
        """The sender's opted-out recipients as a sorted int64 array (cached)."""
        cached = self._opted_out_cache.get(sender)
        if cached is None:
            records = self.records.get(sender, {})
            values = [e164_to_int(to) for to, (status, _) in (*records.items(),
                                                              *self.account.items())
                      if status == "OptOut"]
            cached = np.array(sorted(v for v in values if v), dtype=np.int64)
            self._opted_out_cache[sender] = cached
        return cached

    def query(self, *, sender: str | None, to: str | None, status: str) -> list[dict[str, str]]:
        """`OptOutResponse` records; `sender` None or "*" means any sender."""
        wanted = {"optout": ("OptOut",), "optin": ("OptIn",), "all": ("OptOut", "OptIn")}[status]
        records = []
        for frm, entries in self.records.items():
            if sender not in (None, "*", frm):
                continue
            for number, (st, source) in entries.items():
                if st in wanted and (to is None or number == to):
                    records.append({"from": frm, "to": number, "status": st, "source": source})
        return records

    def consents(self, *, status: str | None) -> list[dict[str, str]]:
        """v2 consent records (`GET /restapi/v2/accounts/{id}/sms/consents`): each
        sender's with coverage PhoneNumber, the account-wide ones with Account."""
        out = [{"from": frm, "to": to, "optStatus": st, "coverage": "PhoneNumber",
                "source": source}
               for frm, entries in self.records.items() for to, (st, source) in entries.items()
               if status in (None, st)]
        out += [{"to": to, "optStatus": st, "coverage": "Account", "source": source}
                for to, (st, source) in self.account.items() if status in (None, st)]
        return out

    def assign(self, sender: str, opt_outs: list[Any], opt_ins: list[Any]) -> dict[str, Any]:
        """`POST /opt-outs/bulk-assign`: returns `OptOutBulkAssignResponse`."""
        entry = self.config.sender(sender)
        if entry is None or not entry.is_a2p:
            raise ApiError.invalid_parameter("from")
        result: dict[str, Any] = {}
        records = self.records.setdefault(sender, {})
        for key, numbers, status in (("optOuts", opt_outs, "OptOut"),
                                     ("optIns", opt_ins, "OptIn")):
            ok: list[str] = []
            failed: list[dict[str, str]] = []
            for number in numbers:
                if isinstance(number, str) and e164_to_int(number):
                    records[number] = (status, "Account")
                    ok.append(number)
                else:
                    failed.append({"to": str(number),
                                   "errorMessage": "The recipient number is invalid"})
            result[key] = {"successful": ok, "failed": failed}
        self._opted_out_cache.pop(sender, None)
        return result
