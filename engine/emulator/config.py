"""Settings of the emulator: frozen, keyword-only dataclasses with working defaults.

`EmulatorConfig` is what the emulator starts with; `FaultConfig`,
`RateLimitConfig` and the processing rate can be changed while it runs
(`Emulator.configure`, `POST /_emulator/config`). Every config converts to and
from plain JSON so a child process (`EmulatorProcess`) gets exactly the same one.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = [
    "A2P_OPERATIONS",
    "CREATE_BATCH",
    "DEFAULT_SENDERS",
    "FAST_RATE",
    "FAULT_KINDS",
    "THROUGHPUT_BY_TYPE",
    "EmulatorConfig",
    "FaultConfig",
    "RateLimitConfig",
    "SenderNumber",
    "config_from_dict",
    "config_to_dict",
    "patch_dataclass",
]

CREATE_BATCH = "createA2PSMS"
# Operation ids of the eight A2P endpoints (the spec's `operationId`s), and the
# v2 consents that succeed its opt-out list; faults name endpoints this way so a
# test can say "POST batches only".
A2P_OPERATIONS: tuple[str, ...] = (
    CREATE_BATCH,
    "listA2PBatches",
    "readA2PBatch",
    "listA2PSMS",
    "readA2PSMS",
    "aggregateA2PSMSStatuses",
    "readA2PSMSOptOuts",
    "addA2PSMSOptOuts",
    "listSmsConsents",
)


# Names of the faults a `FaultConfig.script` can call for (`faults.FaultKind` values).
FAULT_KINDS: tuple[str, ...] = (
    "drop", "error_503", "error_500", "hang", "hang_after_headers", "lost_answer")


# Messages per second a sender processes, by the `paymentType` of its number
# (RingCentral's announcement of the batch API: toll-free 8/s, local 10DLC 1/s).
THROUGHPUT_BY_TYPE: Mapping[str, float] = {"TollFree": 8.0, "Local": 1.0}
FAST_RATE = 500_000.0


@dataclass(frozen=True, slots=True)
class SenderNumber:
    """One phone number of the emulated extension (a record of `/phone-number`)."""

    phone_number: str
    features: tuple[str, ...] = ("CallerId", "A2PSmsSender")
    usage_type: str = "DirectNumber"
    payment_type: str = "Local"
    # Messages per second; None: by `payment_type` (THROUGHPUT_BY_TYPE, else 1/s).
    throughput: float | None = None
    # Its SMS configuration: the TCR campaign's status (a toll-free number's
    # verification status), None for no campaign linked; the registration tier.
    campaign_status: str | None = "Confirmed"
    registration_tier: str = "StandardVolume"
    use_cases: tuple[str, ...] = ("CustomerCare", "AccountNotification")

    @property
    def is_a2p(self) -> bool:
        return "A2PSmsSender" in self.features

    @property
    def rate(self) -> float:
        if self.throughput is not None:
            return self.throughput
        return THROUGHPUT_BY_TYPE.get(self.payment_type, 1.0)


DEFAULT_SENDERS: tuple[SenderNumber, ...] = (
    SenderNumber("+16505550100"),
    SenderNumber("+16505550101"),
    # A plain SMS number: listed, but refused as `from` of a batch.
    SenderNumber("+16505550102", features=("CallerId", "SmsSender")),
    SenderNumber("+18885550100", payment_type="TollFree"),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimitConfig:
    """Requests allowed per `window` seconds, per user and app (Light) or client id (Auth)."""

    enabled: bool = True
    light: int = 50
    auth: int = 5
    window: float = 60.0

    def __post_init__(self) -> None:
        if self.light < 1 or self.auth < 1 or self.window <= 0:
            raise ValueError("rate limits must be positive")


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultConfig:
    """Seeded misbehaviour. Shares are probabilities per request, drawn in order.

    `paths` names the endpoints (operation ids, see `A2P_OPERATIONS`) the
    faults apply to; `paths=(CREATE_BATCH,)` limits them to POST batches.
    `lost_answer_share` only ever applies to POST batches.

    `script` makes faults exact where shares are only likely: per operation
    id, the faults its first requests get in arrival order (a `FAULT_KINDS`
    name, or "" for none; each with `latency`, no jitter), whatever `paths`
    says. Requests past the end of their script draw from the shares as
    usual. Counting per operation keeps the plan the same however concurrent
    requests to other endpoints interleave.
    """

    seed: int = 0
    latency: float = 0.0
    latency_jitter: float = 0.0
    error_503_share: float = 0.0
    # None: the 503 carries no Retry-After header.
    retry_after_503: float | None = 1.0
    # 500 CMN-201 "Service Temporary Unavailable" (nothing is stored).
    error_500_share: float = 0.0
    drop_share: float = 0.0
    lost_answer_share: float = 0.0
    hang_share: float = 0.0
    paths: tuple[str, ...] = A2P_OPERATIONS
    script: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        shares = (self.error_503_share, self.drop_share, self.lost_answer_share,
                  self.hang_share, self.error_500_share)
        if any(not 0.0 <= s <= 1.0 for s in shares) or sum(shares) > 1.0 + 1e-9:
            raise ValueError("fault shares must be in [0, 1] and sum to at most 1")
        if self.latency < 0 or self.latency_jitter < 0:
            raise ValueError("latency must not be negative")
        object.__setattr__(self, "paths", tuple(self.paths))
        # Tuples whatever came in (JSON brings lists), checked so a typo is loud.
        script = {op: tuple(kinds) for op, kinds in self.script.items()}
        for op, kinds in script.items():
            if op not in A2P_OPERATIONS:
                raise ValueError(f"script: unknown operation {op!r}")
            for kind in kinds:
                if kind and kind not in FAULT_KINDS:
                    raise ValueError(f"script: unknown fault {kind!r}")
                if kind == "lost_answer" and op != CREATE_BATCH:
                    raise ValueError("script: lost_answer applies to POST batches only")
        object.__setattr__(self, "script", script)

    @property
    def active(self) -> bool:
        return bool(self.latency or self.latency_jitter or self.error_503_share
                    or self.drop_share or self.lost_answer_share or self.hang_share
                    or self.error_500_share or self.script)


@dataclass(frozen=True, slots=True, kw_only=True)
class EmulatorConfig:
    """Everything the emulator is; the defaults make a working account."""

    client_id: str = "emulator-client-id"
    client_secret: str = "emulator-client-secret"  # a fake, printed on purpose
    jwt: str = "emulator-user-jwt"
    account_id: str = "400131078008"
    extension_id: str = "400131079008"
    senders: tuple[SenderNumber, ...] = DEFAULT_SENDERS
    # Emulated seconds per real second, for processing, receipts, token
    # lifetimes, rate windows and daily caps alike (3600: an hour a second).
    time_scale: float = 1.0
    # Messages per second for every sender; None: each sender's own rate
    # (by number type). A sender's batches are processed FIFO.
    processing_rate: float | None = None
    delivery_failure_share: float = 0.02
    # Delivery receipts: each arrives up to `receipt_delay` seconds after its
    # message was processed (Sent until then); a share arrives one to two
    # `late_receipt_delay`s later still (after the batch is Completed).
    receipt_delay: float = 30.0
    late_receipt_share: float = 0.05
    late_receipt_delay: float = 1800.0
    # A share of messages first shows DeliveryFailed SMS-CAR-104 ("check again
    # later"), then, `pending_resolve_delay` later, its final status.
    pending_failure_share: float = 0.01
    pending_resolve_delay: float = 3600.0
    # Messages processed per sender per (UTC, emulated) day; past it they are
    # SendingFailed with `daily_cap_code`. None: no cap.
    daily_cap: int | None = 250_000
    daily_cap_code: str = "SMS-RC-403"
    # The status of a processed batch: "Completed", or "Sent" (also in the spec).
    batch_done_status: str = "Completed"
    # Carrier content filtering: a message whose text contains a key fails
    # (DeliveryFailed) with its code, e.g. {"bit.ly/": "SMS-CAR-430"}.
    content_filter: Mapping[str, str] = field(default_factory=dict)
    # Recipients opted out of every number of the account (v2 consents with
    # coverage "Account"); False for `consents_v2`: no v2 consents (404).
    account_opt_outs: Collection[str] = ()
    consents_v2: bool = True
    # False: no sms-configuration endpoint (404), as on a server without it.
    sms_configuration: bool = True
    # False: the app lacks the A2P SMS permission (403 on every A2P endpoint).
    a2p_permission: bool = True
    seed: int = 0
    opt_outs: Mapping[str, Collection[str]] = field(default_factory=dict)
    # Valid +1 numbers the carrier refuses (in `rejected[]`): these, and a
    # seeded share of all others (the same numbers every time).
    invalid_numbers: Collection[str] = ()
    carrier_reject_share: float = 0.0
    # High Volume SMS serves +1 only; False models an account that may send elsewhere.
    us_canada_only: bool = True
    access_token_ttl: int = 3600
    refresh_token_ttl: int = 604800
    issue_refresh_tokens: bool = True
    max_body_bytes: int = 50 * 1024 * 1024
    # Most messages in one POST (one guide page: 10,000); past it 400 CMN-101
    # naming the count. None: by size only (the other page: no count limit).
    max_batch_messages: int | None = None
    rate_limits: RateLimitConfig = field(default_factory=RateLimitConfig)
    faults: FaultConfig = field(default_factory=FaultConfig)
    keep_texts: bool = True
    price_per_segment: float = 0.007
    # True: the POST's answer shows the batch as it stands (with instant processing:
    # Completed, every message processed), as a server that processes at once may.
    # False: always `Processing` with nothing processed; progress shows on later reads.
    post_shows_progress: bool = False

    def __post_init__(self) -> None:
        if self.processing_rate is not None and not self.processing_rate > 0:
            raise ValueError("processing_rate must be positive (math.inf: instant)")
        if not self.time_scale > 0 or math.isinf(self.time_scale):
            raise ValueError("time_scale must be positive and finite")
        for name in ("delivery_failure_share", "carrier_reject_share", "late_receipt_share",
                     "pending_failure_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1]")
        if min(self.receipt_delay, self.late_receipt_delay, self.pending_resolve_delay) < 0:
            raise ValueError("receipt delays must not be negative")
        if self.daily_cap is not None and self.daily_cap < 0:
            raise ValueError("daily_cap must not be negative")
        if self.batch_done_status not in ("Completed", "Sent"):
            raise ValueError("batch_done_status must be Completed or Sent")
        if self.max_body_bytes < 1:
            raise ValueError("max_body_bytes must be positive")
        object.__setattr__(self, "senders", tuple(self.senders))

    @classmethod
    def fast(cls, **changes: Any) -> EmulatorConfig:
        """Today's quick service: 500,000 messages/s a sender, every receipt at once,
        no CAR-104 detours, no daily cap. `changes` override any field."""
        values: dict[str, Any] = {
            "processing_rate": FAST_RATE, "receipt_delay": 0.0, "late_receipt_share": 0.0,
            "pending_failure_share": 0.0, "daily_cap": None,
        }
        values.update(changes)
        return cls(**values)

    @property
    def receipts_instant(self) -> bool:
        return not (self.receipt_delay or self.late_receipt_share or self.pending_failure_share)

    def rate_of(self, phone_number: str) -> float:
        """Messages per second of a sender."""
        if self.processing_rate is not None:
            return self.processing_rate
        sender = self.sender(phone_number)
        return sender.rate if sender is not None else 1.0

    def sender(self, phone_number: str) -> SenderNumber | None:
        for s in self.senders:
            if s.phone_number == phone_number:
                return s
        return None


T = TypeVar("T")


def patch_dataclass(obj: T, patch: Mapping[str, Any]) -> T:
    """A copy of frozen dataclass `obj` with the fields in `patch` replaced.

    Unknown names raise ValueError so a typo in a test or a CLI flag is loud.
    """
    names = {f.name for f in dataclasses.fields(obj)}  # type: ignore[arg-type]
    unknown = set(patch) - names
    if unknown:
        raise ValueError(f"unknown field(s) for {type(obj).__name__}: {sorted(unknown)}")
    return dataclasses.replace(obj, **patch)  # type: ignore[type-var]


def _jsonable_float(x: float) -> float | str:
    return "inf" if math.isinf(x) else x


def config_to_dict(config: EmulatorConfig) -> dict[str, Any]:
    """Plain JSON-ready form of a config (round-trips through `config_from_dict`)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if f.name == "senders":
            value = [dataclasses.asdict(s) for s in value]
        elif f.name in ("rate_limits", "faults"):
            value = dataclasses.asdict(value)
        elif f.name == "opt_outs":
            value = {k: list(v) for k, v in value.items()}
        elif f.name in ("invalid_numbers", "account_opt_outs"):
            value = list(value)
        elif f.name == "processing_rate" and value is not None:
            value = _jsonable_float(value)
        out[f.name] = value
    return out


def config_from_dict(data: Mapping[str, Any]) -> EmulatorConfig:
    values = dict(data)
    if "senders" in values:
        values["senders"] = tuple(
            SenderNumber(**{**s, **{k: tuple(s[k]) for k in ("features", "use_cases")
                                    if k in s}})
            for s in values["senders"]
        )
    if "rate_limits" in values:
        values["rate_limits"] = RateLimitConfig(**values["rate_limits"])
    if "faults" in values:
        faults = dict(values["faults"])
        if "paths" in faults:
            faults["paths"] = tuple(faults["paths"])
        values["faults"] = FaultConfig(**faults)
    if "opt_outs" in values:
        values["opt_outs"] = {k: tuple(v) for k, v in values["opt_outs"].items()}
    if "invalid_numbers" in values:
        values["invalid_numbers"] = tuple(values["invalid_numbers"])
    if "account_opt_outs" in values:
        values["account_opt_outs"] = tuple(values["account_opt_outs"])
    if values.get("processing_rate") is not None:
        values["processing_rate"] = float(values["processing_rate"])
    return patch_dataclass(EmulatorConfig(), values)
