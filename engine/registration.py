"""What a sender number may send, from its SMS configuration (pure: no I/O).

RingCentral's "SMS requirements" page, on `GET .../phone-number/{id}/sms-configuration`:
a number whose TCR campaign is not "Confirmed" fails every message; a number
linked to no campaign (`smsCampaignInfo` omitted) is not SMS enabled; the
`LowVolume` tier allows at most 6,000 messages a day across all the account's
numbers; any single number sends up to 250,000 texts a day (the high-volume
guide). A toll-free number is verified rather than TCR-registered: unverified,
its messages fail with SMS-CAR-461, so a toll-free number whose configuration
shows a status other than Confirmed is refused too.

`daily_caps` is the one source of each number's daily cap (the sender pool and
pacing consume it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["LOW_VOLUME", "LOW_VOLUME_CAP", "NUMBER_CAP", "NumberConfig", "daily_caps",
           "describe_caps", "parse_config", "refusal", "shared_cap"]

LOW_VOLUME = "LowVolume"
LOW_VOLUME_CAP = 6_000  # a day, across all the account's numbers
NUMBER_CAP = 250_000  # a day, per number
CONFIRMED = "Confirmed"


@dataclass(frozen=True, slots=True)
class NumberConfig:
    """One number's SMS configuration as hvsms uses it (None fields: not said)."""

    number: str
    toll_free: bool
    campaign: str | None = None  # smsCampaignInfo.status; None: no campaign linked
    tier: str | None = None  # smsCampaignInfo.registrationTier
    use_cases: tuple[str, ...] = ()


def parse_config(number: str, data: Any, *, toll_free: bool) -> NumberConfig:
    """The answer of the sms-configuration endpoint (anything unexpected: not said)."""
    info = data.get("smsCampaignInfo") if isinstance(data, dict) else None
    if not isinstance(info, dict):
        return NumberConfig(number, toll_free)
    cases = info.get("useCases")
    return NumberConfig(
        number, toll_free,
        campaign=str(info["status"]) if info.get("status") is not None else None,
        tier=str(info["registrationTier"]) if info.get("registrationTier") else None,
        use_cases=tuple(map(str, cases)) if isinstance(cases, list) else (),
    )


def refusal(cfg: NumberConfig) -> str | None:
    """One line saying why the number may not send, and what to do; None: it may."""
    if cfg.toll_free:
        if cfg.campaign is None or cfg.campaign == CONFIRMED:
            return None
        return (f"{cfg.number}: toll-free verification is {cfg.campaign}, not Confirmed: "
                "carriers block its messages (SMS-CAR-461); send once the verification "
                "is confirmed, or from another number")
    if cfg.campaign is None:
        return (f"{cfg.number}: linked to no TCR campaign, so not SMS enabled: register it "
                "to a campaign (RingCentral admin portal), or send from another number")
    if cfg.campaign != CONFIRMED:
        return (f"{cfg.number}: its TCR campaign is {cfg.campaign}, not Confirmed: every "
                "message would fail; send once the campaign is confirmed, or from another "
                "number")
    return None


def daily_caps(numbers: Iterable[str], configs: Mapping[str, NumberConfig],
               daily_cap: int | None = None) -> dict[str, int]:
    """Each number's cap a day: its tier's (LowVolume 6,000, shared by the account's
    LowVolume numbers; otherwise, or unknown, 250,000), lowered to `daily_cap`."""
    out = {}
    for n in numbers:
        cfg = configs.get(n)
        cap = LOW_VOLUME_CAP if cfg is not None and cfg.tier == LOW_VOLUME else NUMBER_CAP
        out[n] = cap if daily_cap is None else min(cap, daily_cap)
    return out


def shared_cap(cfg: NumberConfig | None) -> tuple[str, int] | None:
    """The account-wide count a number's sends also go to: (key, cap), or None."""
    if cfg is not None and cfg.tier == LOW_VOLUME:
        return "account:" + LOW_VOLUME, LOW_VOLUME_CAP
    return None


def describe_caps(caps: Mapping[str, int], configs: Mapping[str, NumberConfig],
                  sent_today: Mapping[str, int], days: Mapping[str, float]) -> list[str]:
    """The plan's lines: each number's tier, cap a day, what it sent today and the
    days its recipients take under them."""
    lines = ["what the numbers may send (tier: cap a day):"]
    for n, cap in caps.items():
        cfg = configs.get(n)
        tier = (cfg.tier or "tier not said") if cfg is not None else "tier unknown"
        shared = (f" (the account's LowVolume numbers share {LOW_VOLUME_CAP:,})"
                  if shared_cap(cfg) else "")
        today = sent_today.get(n, 0)
        took = days.get(n)
        lines.append(f"  {n}  {tier}: {cap:,} a day{shared}"
                     + (f", {today:,} sent today" if today else "")
                     + (f"; this job: {_days(took)}" if took is not None else ""))
    return lines


def _days(days: float) -> str:
    return "within the day" if days <= 1 else f"{days:.1f} days"
