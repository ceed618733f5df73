"""`emulator` click command: run the emulator in the foreground (`hvsms emulator`).

It prints its URL and the (fake, emulator-only) credentials to use, as
`RC_*=` lines, or with `--json` one JSON line that a parent process reads to
learn the port (`EmulatorProcess`). Nothing else goes to stdout after that.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from typing import Any

import click

from .config import (
    A2P_OPERATIONS,
    CREATE_BATCH,
    EmulatorConfig,
    FaultConfig,
    RateLimitConfig,
    config_from_dict,
    patch_dataclass,
)
from .server import Emulator

__all__ = ["emulator", "pace_line", "parse_faults", "parse_rate_limit"]

_FAULT_ALIASES = {
    "lost_answer": "lost_answer_share",
    "drop": "drop_share",
    "503": "error_503_share",
    "hang": "hang_share",
    "jitter": "latency_jitter",
    "retry_after": "retry_after_503",
}
_PATH_ALIASES = {"post": (CREATE_BATCH,), "a2p": A2P_OPERATIONS}


def _pairs(text: str, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{what}: expected key=value, got {item!r}")
        out[key.strip()] = value.strip()
    return out


def parse_rate_limit(text: str, base: RateLimitConfig | None = None) -> RateLimitConfig:
    """`light=50,auth=5,window=60`, or `off`."""
    base = base or RateLimitConfig()
    if text.strip().lower() in ("off", "none", "0", "false"):
        return patch_dataclass(base, {"enabled": False})
    values: dict[str, Any] = {"enabled": True}
    for key, value in _pairs(text, "--rate-limit").items():
        try:
            values[key] = float(value) if key == "window" else int(value)
        except ValueError:
            raise click.BadParameter(f"--rate-limit: bad number {value!r}") from None
    try:
        return patch_dataclass(base, values)
    except ValueError as exc:
        raise click.BadParameter(f"--rate-limit: {exc}") from None


def parse_faults(text: str, base: FaultConfig | None = None) -> FaultConfig:
    """`lost_answer=0.1,drop=0.05,503=0.1,latency=0.2,seed=7[,paths=post]`."""
    values: dict[str, Any] = {}
    for key, value in _pairs(text, "--faults").items():
        name = _FAULT_ALIASES.get(key, key)
        try:
            if name == "paths":
                values[name] = _PATH_ALIASES.get(value) or tuple(value.split("+"))
            elif name == "seed":
                values[name] = int(value)
            elif name == "retry_after_503" and value.lower() == "none":
                values[name] = None
            else:
                values[name] = float(value)
        except ValueError:
            raise click.BadParameter(f"--faults: bad value {value!r} for {key}") from None
    try:
        return patch_dataclass(base or FaultConfig(), values)
    except ValueError as exc:
        raise click.BadParameter(f"--faults: {exc}") from None


def build_config(config_json: str | None, rate_limit: str | None, faults: str | None,
                 processing_rate: float | None, carrier_reject_share: float | None = None,
                 *, fast: bool = False, time_scale: float | None = None) -> EmulatorConfig:
    if config_json:
        config = config_from_dict(json.loads(config_json))
    else:
        config = EmulatorConfig.fast() if fast else EmulatorConfig()
    changes: dict[str, Any] = {}
    if time_scale is not None:
        changes["time_scale"] = time_scale
    if carrier_reject_share is not None:
        changes["carrier_reject_share"] = carrier_reject_share
    if rate_limit is not None:
        changes["rate_limits"] = parse_rate_limit(rate_limit, config.rate_limits)
    if faults is not None:
        changes["faults"] = parse_faults(faults, config.faults)
    if processing_rate is not None:
        changes["processing_rate"] = processing_rate
    return patch_dataclass(config, changes) if changes else config


def banner(emu: Emulator, as_json: bool) -> str:
    config = emu.config
    if as_json:
        return json.dumps({
            "url": emu.url, "client_id": config.client_id,
            "client_secret": config.client_secret, "jwt": config.jwt,
            "account_id": config.account_id, "pid": os.getpid(),
        })
    return "\n".join([
        f"hvsms emulator on {emu.url} (a fake RingCentral: nothing leaves this machine)",
        pace_line(config),
        "Use these (emulator-only) credentials:",
        f"RC_SERVER_URL={emu.url}",
        f"RC_APP_CLIENT_ID={config.client_id}",
        f"RC_APP_CLIENT_SECRET={config.client_secret}",
        f"RC_USER_JWT={config.jwt}",
        "Ledger: GET /_emulator/ledger. Stop with Ctrl-C.",
    ])


def pace_line(config: EmulatorConfig) -> str:
    if config.processing_rate is not None:
        rate = f"{config.processing_rate:g} messages/s per sender"
    else:
        rate = "per sender by number type (toll-free 8/s, local 1/s)"
    clock = ("real time" if config.time_scale == 1
             else f"time runs {config.time_scale:g}x faster than real time")
    return f"Processing: {rate}; {clock}."


async def serve(config: EmulatorConfig, host: str, port: int, as_json: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with Emulator(config, host=host, port=port) as emu:
        sys.stdout.write(banner(emu, as_json) + "\n")
        sys.stdout.flush()
        await stop.wait()


@click.command("emulator")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=int,
              help="Port to listen on; 0 picks a free one.")
@click.option("--rate-limit", "rate_limit", default=None, metavar="SPEC",
              help="light=50,auth=5,window=60 (the default), or off.")
@click.option("--faults", default=None, metavar="SPEC",
              help="e.g. lost_answer=0.1,drop=0.05,503=0.1,hang=0.01,latency=0.2,"
                   "jitter=0.1,retry_after=none,seed=7,paths=post")
@click.option("--processing-rate", type=float, default=None,
              help="Messages per second for every sender [default: by number type: "
                   "toll-free 8, local 1].")
@click.option("--time-scale", type=float, default=None,
              help="Emulated seconds per real second, e.g. 3600: an hour a second "
                   "[default: 1, real time].")
@click.option("--fast", is_flag=True,
              help="The quick service of tests and benchmarks: 500,000 messages/s a sender, "
                   "instant receipts, no daily cap.")
@click.option("--carrier-reject-share", type=float, default=None,
              help="Share of valid +1 recipients the carrier refuses (default 0).")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON line with the URL and credentials, for scripts.")
@click.option("--config-json", default=None, hidden=True,
              help="A whole EmulatorConfig as JSON (used by EmulatorProcess).")
def emulator(host: str, port: int, rate_limit: str | None, faults: str | None,
             processing_rate: float | None, time_scale: float | None, fast: bool,
             carrier_reject_share: float | None, as_json: bool, config_json: str | None) -> None:
    """Run the RingCentral High Volume SMS emulator in the foreground."""
    try:
        config = build_config(config_json, rate_limit, faults, processing_rate,
                              carrier_reject_share, fast=fast, time_scale=time_scale)
    except (ValueError, TypeError) as exc:
        raise click.BadParameter(str(exc)) from None
    asyncio.run(serve(config, host, port, as_json))
