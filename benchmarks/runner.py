"""`python -m benchmarks`: generate the data, run every contender, report.

    python -m benchmarks --quick          # smoke run: 10k and 100k, one run, < 1 min
    python -m benchmarks                  # 10k, 100k, 1M; 3 runs; the economy scenario
    python -m benchmarks --large          # ... and 10M
    python -m benchmarks --results-cost   # only: what complete delivery results cost
    python -m benchmarks --campaign       # the campaign scenario only (benchmarks/campaign.py)
    python -m benchmarks --cli-cost       # only: CPU of `hvsms send FILE --yes` vs send_bulk
    python -m benchmarks --fast-server    # only: 1M on a fast server without rate-limit
                                          #   headers, hvsms / the SDK sample (fast_server.py)
    python -m benchmarks --idle           # only: CPU per real hour of a paced campaign (idle.py)

The code under test is copied first (`engine/` and `benchmarks/`, as they
are in the working tree, into a temporary directory) and every process of the
run (the emulator, each contender, the runner's own emulator control) imports
that copy: others may commit to the checkout while a long run goes on, and
every figure must come from the same code.

One emulator in its own process serves every run (rate limits off, batches
processed at once); its ledger is reset before each run and read after it.
Each contender runs in its own process, measured with `os.wait4`. The
API-economy scenario runs last, on the same emulator with RingCentral's
default Light limit switched on and slow processing.

Exit status: 0 when every contender ran (targets are reported, not
asserted; the SDK sample's 413 on a body over 50 MB is a result), 3 when a
contender crashed, timed out or failed in another way (figures incomplete),
1 when the runner itself broke, 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import datetime as dt
import hashlib
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from rich.console import Console

from . import data
from .contenders import CONTENDERS, POLL_INTERVAL
from .measure import Exit, run_measured
from .render import economy_line, markdown, plots, terminal, write_json
from .results import POLL_OPERATIONS, POST, Sample, aggregate, ratios, targets

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
DIRTY_MAX_ROWS = 1_000_000  # the dirty variant is about hygiene, not scale
POLL_NOTE = (f"every contender polls every {POLL_INTERVAL} s (RingCentral's sample: 5 s; "
             "hvsms's first poll by default: 2 s)")
ECONOMY_ROWS = 12_000
ECONOMY_BATCH_MESSAGES = 100
ECONOMY_PROCESSING_RATE = 100.0  # messages per second: 12k messages take 2 minutes
EXPECTED_FAILURE = "body over 50 MB"
OVER_MEMORY = "RSS over the cap"
PACKAGES = ("hvsms", "aiohttp", "orjson", "numpy", "phonenumbers", "aiofiles", "ringcentral",
            "requests", "rich", "matplotlib")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="hvsms against RingCentral's SDK sample, a hand-written sender and the "
                    "floor, on the same data and emulator (see benchmarks/README.md).")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 10k and 100k, 1 run, no economy scenario (< 1 minute)")
    p.add_argument("--large", action="store_true", help="add 10M rows (to and personalised)")
    p.add_argument("--runs", type=int, default=None,
                   help="runs per figure (median, min, max); default 3, 1 with --quick")
    p.add_argument("--sizes", default=None,
                   help=f"comma-separated sizes of {', '.join(data.SIZES)} (overrides the "
                        "default set)")
    p.add_argument("--variants", default=",".join(data.VARIANTS),
                   help="comma-separated: to, personalised, dirty")
    p.add_argument("--contenders", default=",".join(CONTENDERS),
                   help="comma-separated: " + ", ".join(CONTENDERS))
    economy = p.add_mutually_exclusive_group()
    economy.add_argument("--economy", dest="economy", action="store_true", default=None,
                         help="run the API-economy scenario (default: yes, except --quick)")
    economy.add_argument("--no-economy", dest="economy", action="store_false")
    p.add_argument("--economy-only", action="store_true",
                   help="only the API-economy scenario")
    p.add_argument("--economy-runs", type=int, default=1,
                   help="runs of the economy scenario (a few minutes each; default 1)")
    p.add_argument("--campaign", action="store_true",
                   help="only the campaign scenario: 200,000 recipients, a sender pool, quiet "
                        "hours and caps in compressed time (--quick runs it at 20,000 after "
                        "the rest); writes campaign.json and campaign.png")
    p.add_argument("--seed", type=int, default=data.DEFAULT_SEED)
    p.add_argument("--out", type=Path, default=RESULTS_DIR, help="where results go")
    p.add_argument("--timeout", type=float, default=1800.0,
                   help="seconds before a contender run is killed (default 1800)")
    p.add_argument("--render-only", type=Path, default=None, metavar="JSON",
                   help="re-render the tables, Markdown and plots from a results JSON "
                        "(e.g. results/latest.json) without running anything")
    p.add_argument("--results-cost", action="store_true",
                   help="only the results scenario: requests spent on delivery results per "
                        "1M messages, and submission time with and without them "
                        "(benchmarks/results_cost.py; a minute or two)")
    p.add_argument("--cli-cost", action="store_true",
                   help="only the command-line cost: CPU of `hvsms send FILE --yes` against "
                        "send_bulk on the same file (benchmarks/cli_cost.py; --cli-rows rows)")
    p.add_argument("--cli-rows", type=int, default=1_000_000,
                   help="rows of the command-line cost scenario (default 1,000,000)")
    p.add_argument("--fast-server", action="store_true",
                   help="only: 1M to-only rows on a server that processes at once and sends no "
                        "rate-limit headers, hvsms with default options against the SDK "
                        "sample (benchmarks/fast_server.py; --runs runs; fast-server.json)")
    p.add_argument("--idle", action="store_true",
                   help="only: CPU seconds per real hour of a paced campaign on the realistic "
                        "emulator in compressed time (benchmarks/idle.py; idle.json)")
    p.add_argument("--results-rows", type=int, default=200_000,
                   help="rows of the results scenario (default 200,000)")
    p.add_argument("--max-rss-gib", type=float, default=10.0,
                   help="a contender whose RSS passes this is killed and reported as failed "
                        "(default 10 GiB)")
    args = p.parse_args(argv)
    if args.runs is None:
        args.runs = 1 if args.quick else 3
    if args.runs < 1 or args.economy_runs < 1:
        p.error("--runs and --economy-runs must be at least 1")
    if args.sizes is None:
        names = ["10k", "100k"] if args.quick else ["10k", "100k", "1M"]
        if args.large:
            names.append("10M")
        args.sizes = ",".join(names)
    args.out = args.out.resolve()
    args.size_list = [s.strip() for s in args.sizes.split(",") if s.strip()]
    for s in args.size_list:
        if s not in data.SIZES:
            p.error(f"unknown size {s!r}; one of {', '.join(data.SIZES)}")
    args.variant_list = [v.strip() for v in args.variants.split(",") if v.strip()]
    for v in args.variant_list:
        if v not in data.VARIANTS:
            p.error(f"unknown variant {v!r}; one of {', '.join(data.VARIANTS)}")
    args.contender_list = [c.strip() for c in args.contenders.split(",") if c.strip()]
    for c in args.contender_list:
        if c not in CONTENDERS:
            p.error(f"unknown contender {c!r}; one of {', '.join(CONTENDERS)}")
    if args.economy is None:
        args.economy = not args.quick
    if args.economy_only:
        args.economy = True
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # Not a terminal (CI logs): wide enough for the table without wrapping.
    console = Console(width=None if sys.stdout.isatty() else 220)
    try:
        if args.render_only is not None:
            return Runner(args, console).render_only(args.render_only)
        if args.results_cost:
            from . import results_cost

            return results_cost.main(["--rows", str(args.results_rows), "--seed",
                                      str(args.seed)], out=args.out)
        if args.cli_cost:
            from . import cli_cost

            return cli_cost.main(["--rows", str(args.cli_rows), "--runs", str(args.runs),
                                  "--seed", str(args.seed)], out=args.out)
        if args.campaign:
            return _campaign(args, console, CAMPAIGN_ROWS)
        if args.fast_server:
            from . import fast_server

            return fast_server.main(["--runs", str(args.runs), "--seed", str(args.seed)],
                                    out=args.out)
        if args.idle:
            from . import idle

            return idle.main(["--seed", str(args.seed)], out=args.out)
        code = Runner(args, console).run()
        if args.quick and code == 0:
            code = _campaign(args, console, QUICK_CAMPAIGN_ROWS)
        if args.quick and code == 0:
            code = _quick_waiting(args)
        return code
    except KeyboardInterrupt:
        console.print("[red]interrupted[/]")
        return 130
    except Exception:  # noqa: BLE001 - any other error is the runner's own breakage
        console.print("[red]the benchmark runner broke:[/]")
        console.print(traceback.format_exc(), markup=False, highlight=False)
        return 1


CAMPAIGN_ROWS, QUICK_CAMPAIGN_ROWS = 200_000, 20_000
QUICK_FAST_SERVER_ROWS, QUICK_IDLE_ROWS = 100_000, 20_000


def _quick_waiting(args: argparse.Namespace) -> int:
    """--quick: the fast-server comparison and the idle scenario, small (quick-*.json)."""
    from . import fast_server, idle

    seed = ["--seed", str(args.seed)]
    code = fast_server.main(["--rows", str(QUICK_FAST_SERVER_ROWS), "--runs", "1", *seed],
                            out=args.out, stem="quick-fast-server")
    return code or idle.main(["--rows", str(QUICK_IDLE_ROWS), *seed], out=args.out,
                             stem="quick-idle")


def _campaign(args: argparse.Namespace, console: Console, rows: int) -> int:
    """The campaign scenario in a child process (it imports the working tree's engine)."""
    console.print(f"campaign scenario: {rows:,} recipients in compressed time", highlight=False)
    scale = "400" if rows < CAMPAIGN_ROWS else "200"  # a quick run is quick
    proc = subprocess.run([sys.executable, "-m", "benchmarks.campaign", "--rows", str(rows),
                           "--scale", scale, "--out", str(args.out),
                           "--stem", "quick-campaign" if args.quick else "campaign"],
                          cwd=ROOT, check=False,
                          timeout=args.timeout)
    return 0 if proc.returncode == 0 else 3


class Runner:
    def __init__(self, args: argparse.Namespace, console: Console) -> None:
        self.args = args
        self.console = console
        self.samples: list[Sample] = []
        self.notes: list[str] = []
        self.code = ROOT  # the private copy of the code under test, once made
        self.software: dict[str, Any] = {}

    # -- the plan ---------------------------------------------------------------

    def cases(self) -> list[tuple[str, str]]:
        if self.args.economy_only:
            return []
        out = []
        for variant in self.args.variant_list:
            for size in self.args.size_list:
                if variant == "dirty" and data.SIZES[size] > DIRTY_MAX_ROWS:
                    continue
                out.append((variant, size))
        return out

    def run(self) -> int:
        with snapshot(ROOT) as code:
            self.code = code
            self.software = _software(code)
            # This process, too, uses the copy from now on (engine is not imported yet).
            sys.path.insert(0, str(code))
            try:
                return self._run()
            finally:
                sys.path.remove(str(code))

    def _run(self) -> int:
        from engine.emulator import EmulatorConfig, EmulatorProcess, RateLimitConfig

        args, console = self.args, self.console
        console.print(f"code under test: engine/ {self.software['engine_sha1']} copied to "
                      f"{self.code}", highlight=False)
        cases = self.cases()
        files: dict[tuple[str, str], data.DataFile] = {}
        for variant, size in cases:
            started = time.perf_counter()
            files[variant, size] = f = data.ensure(variant, data.SIZES[size], seed=args.seed)
            console.print(f"data {f.path.name}: {f.meta.rows:,} rows, {f.meta.bytes / 1e6:.1f} MB"
                          f" ({time.perf_counter() - started:.1f} s)", highlight=False)
        if any(v == "dirty" and data.SIZES[s] > DIRTY_MAX_ROWS
               for v in args.variant_list for s in args.size_list):
            self.notes.append(f"the dirty variant runs up to {DIRTY_MAX_ROWS:,} rows only")
        loadavg_before = _loadavg()
        config = EmulatorConfig.fast(processing_rate=math.inf,
                                rate_limits=RateLimitConfig(enabled=False))
        economy: dict[str, Any] | None = None
        began = dt.datetime.now(dt.UTC)
        code_env = {"PYTHONPATH": str(self.code)}
        with contextlib.ExitStack() as stack:
            emu = EmulatorProcess(config, env=code_env)
            with inside(self.code):
                emu.start()
            stack.callback(emu.stop)
            console.print(f"emulator pid {emu.pid} at {emu.url} (rate limits off, instant "
                          "processing)", highlight=False)
            env = {**os.environ, **code_env, "RC_SERVER_URL": emu.url,
                   "RC_APP_CLIENT_ID": config.client_id,
                   "RC_APP_CLIENT_SECRET": config.client_secret, "RC_USER_JWT": config.jwt}
            env.pop("PYTHONSTARTUP", None)
            total = len(cases) * args.runs * len(args.contender_list)
            done = 0
            for variant, size in cases:
                f = files[variant, size]
                for rep in range(args.runs):
                    k = rep % len(args.contender_list)
                    order = args.contender_list[k:] + args.contender_list[:k]
                    for contender in order:
                        done += 1
                        sample = self.run_one(emu, env, contender, f, variant, size, rep)
                        self.samples.append(sample)
                        console.print(f"[{done}/{total}] {_progress(sample)}", highlight=False)
            if args.economy:
                economy = self.economy(emu, env)
        header = {
            "date": began.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "command": "python -m benchmarks " + " ".join(sys.argv[1:]),
            "machine": _machine(loadavg_before, _loadavg()),
            "software": self.software,
            "settings": {
                "runs": args.runs, "sizes": args.size_list, "variants": args.variant_list,
                "contenders": args.contender_list, "poll_interval": POLL_INTERVAL,
                "seed": args.seed, "economy": bool(args.economy),
                "throughput_emulator": {"rate_limits": "off", "processing_rate": "instant"},
            },
        }
        self.notes.append(POLL_NOTE)
        return self.report(economy, header)

    def render_only(self, path: Path) -> int:
        """Figures, ratios, targets, Markdown and plots again, from a run's JSON."""
        doc = json.loads(path.read_text())
        self.samples = [Sample.from_dict(s) for s in doc["samples"]]
        settings = doc["settings"]
        self.args.size_list = settings["sizes"]
        self.args.variant_list = settings["variants"]
        self.args.quick = path.stem == "quick"
        self.args.out = self.args.out if self.args.out != RESULTS_DIR else path.parent
        self.notes = list(doc.get("notes") or [])
        header = {k: doc[k] for k in ("date", "command", "machine", "software", "settings")}
        return self.report(doc.get("economy"), header)

    # -- one run ----------------------------------------------------------------

    def run_one(self, emu: Any, env: dict[str, str], contender: str, f: data.DataFile,
                variant: str, size: str, rep: int, extra: Sequence[str] = (),
                poll_interval: float = POLL_INTERVAL) -> Sample:
        emu.reset()
        cmd = [sys.executable, "-m", f"benchmarks.contenders.{contender}", str(f.path),
               "--text", f.meta.text, "--poll-interval", str(poll_interval), *extra]
        cap = int(self.args.max_rss_gib * 1024 * 1024)
        ex = run_measured(cmd, env=env, timeout=self.args.timeout, cwd=str(self.code),
                          max_rss_kb=cap)
        ledger = emu.ledger() if contender != "floor" else None
        return build_sample(contender, variant, size, rep, f.meta, ex, ledger,
                            max_rss_gib=self.args.max_rss_gib)

    # -- the API-economy scenario ------------------------------------------------

    def economy(self, emu: Any, env: dict[str, str]) -> dict[str, Any]:
        from engine.config import JobOptions
        from engine.emulator import RateLimitConfig

        limits = RateLimitConfig()  # RingCentral's defaults: Light 50 per 60 s
        emu.configure(rate_limits=limits, processing_rate=ECONOMY_PROCESSING_RATE)
        f = data.ensure("to", ECONOMY_ROWS, seed=self.args.seed)
        poll = JobOptions().poll_interval  # hvsms's own default here: a default run
        runs = []
        for rep in range(self.args.economy_runs):
            self.console.print(
                f"economy run {rep + 1}: {ECONOMY_ROWS:,} rows in batches of "
                f"{ECONOMY_BATCH_MESSAGES}, Light {limits.light}/{limits.window:g} s, "
                f"{ECONOMY_PROCESSING_RATE:g} msg/s (takes a few minutes)", highlight=False)
            sample = self.run_one(emu, env, "hvsms", f, "economy", str(ECONOMY_ROWS), rep,
                                  extra=["--max-batch-messages", str(ECONOMY_BATCH_MESSAGES)],
                                  poll_interval=poll)
            self.samples.append(sample)
            req = sample.requests
            submit = req.get(POST, 0)
            polls = sum(req.get(op, 0) for op in POLL_OPERATIONS)
            statuses = req.get("aggregateA2PSMSStatuses", 0)
            result = {
                "status": sample.status, "reason": sample.reason, "rows": sample.rows,
                "max_batch_messages": ECONOMY_BATCH_MESSAGES, "light_limit": limits.light,
                "window": limits.window, "processing_rate": ECONOMY_PROCESSING_RATE,
                "poll_interval": poll, "wall": round(sample.wall, 2),
                "proc_wall": round(sample.proc_wall, 2), "cpu": round(sample.cpu, 3),
                "rss_mb": round(sample.rss_mb, 1), "batches": sample.batches,
                "requests": req, "total_requests": sum(req.values()), "submit": submit,
                "poll": polls, "statuses": statuses,
                "other": sum(req.values()) - submit - polls - statuses,
                "responses_429": sample.responses_429, "accepted": sample.accepted,
                "duplicates": sample.duplicates, "expected_unique": sample.expected_unique,
                "hvsms_requests": sample.client.get("extra", {}).get("requests"),
            }
            runs.append(result)
            self.console.print(economy_line(result), highlight=False)
        worst = max(runs, key=lambda r: (r["status"] != "ok", r["responses_429"]))
        return {**worst, "runs": runs}

    # -- the report -------------------------------------------------------------

    def report(self, economy: dict[str, Any] | None, header: dict[str, Any]) -> int:
        args, console = self.args, self.console
        throughput = [s for s in self.samples if s.variant != "economy"]
        figures = aggregate(throughput)
        ratio_list = ratios(figures)
        target_list = targets(figures, economy)
        failures = [s for s in self.samples if s.status != "ok"]
        unexpected = [s for s in failures if not _expected(s)]
        doc: dict[str, Any] = {
            **header,
            "figures": [f.to_dict() for f in figures],
            "ratios": [r.to_dict() for r in ratio_list],
            "economy": economy,
            "targets": [t.to_dict() for t in target_list],
            "failures": [s.to_dict() for s in failures],
            "samples": [s.to_dict() for s in self.samples],
            "notes": self.notes,
        }
        console.print()
        terminal(console, figures, ratio_list, target_list, economy, args.size_list,
                 args.variant_list)
        out = args.out
        out.mkdir(parents=True, exist_ok=True)
        stem = "quick" if args.quick else "latest"
        prefix = "quick-" if args.quick else ""
        self.notes.extend(plots(out, prefix, figures, args.variant_list))
        write_json(out / f"{stem}.json", doc)
        (out / f"{stem}.md").write_text(markdown(doc, figures, ratio_list, target_list, economy,
                                                 args.size_list, args.variant_list))
        console.print(f"wrote {out / (stem + '.md')}, {out / (stem + '.json')}", highlight=False)
        for note in self.notes:
            console.print(f"note: {note}", highlight=False)
        for s in unexpected:
            console.print(f"[red]{s.contender} on {s.variant} {s.size} run {s.rep + 1}: "
                          f"{s.outcome()}[/]", highlight=False)
            if s.stderr_tail:
                console.print(s.stderr_tail, markup=False, highlight=False)
        return 3 if unexpected else 0


def build_sample(contender: str, variant: str, size: str, rep: int, meta: data.Meta,
                 ex: Exit, ledger: dict[str, Any] | None, *, max_rss_gib: float = 0) -> Sample:
    """One Sample from a contender's exit, its JSON line and the emulator's ledger."""
    client = _last_json(ex.stdout)
    sample = Sample(contender=contender, variant=variant, size=size, rows=meta.rows, rep=rep,
                    status="ok", proc_wall=ex.wall, cpu_user=ex.cpu_user, cpu_sys=ex.cpu_sys,
                    rss_mb=ex.maxrss_kb / 1024, rss_wait4_mb=ex.maxrss_kb / 1024,
                    expected_unique=meta.unique_valid,
                    client=client or {}, stderr_tail=_tail(ex.stderr))
    if client is not None:
        sample.wall = float(client.get("wall", 0.0))
        sample.startup_cpu = float(client.get("startup_cpu", 0.0))
        sample.bytes_posted = int(client.get("bytes_posted", 0))
        sample.batches = int(client.get("batches", 0))
        sample.largest_body = int(client.get("largest_body", 0))
        if client.get("peak_rss_kb"):
            sample.rss_mb = int(client["peak_rss_kb"]) / 1024
    if ledger is not None:
        sample.requests = {str(k): int(v) for k, v in ledger.get("requests", {}).items()}
        sample.responses_429 = int(ledger.get("responses_429", 0))
        sample.accepted = int(ledger.get("accepted", 0))
        sample.duplicates = int(ledger.get("duplicates", 0))
        sample.rejected = int(ledger.get("rejected", 0))
        sample.batches = int(ledger.get("batches", 0))
        sample.largest_body = int(ledger.get("largest_body", 0))
        if sample.requests.get(POST) == 1 and not sample.bytes_posted:
            sample.bytes_posted = sample.largest_body  # one POST: the ledger saw its size
    if ex.over_memory:
        sample.status = "failed"
        sample.reason = f"{OVER_MEMORY} of {max_rss_gib:g} GiB (--max-rss-gib), killed"
    elif ex.timed_out:
        sample.status, sample.reason = "error", f"killed after {ex.wall:.0f} s (--timeout)"
    elif client is None:
        sample.status = "error"
        sample.reason = f"exit status {ex.code}, no JSON line on stdout"
    elif client.get("status") == "error" or ex.code != 0:
        sample.status = "error"
        sample.reason = str(client.get("reason") or f"exit status {ex.code}")
    elif client.get("status") == "failed":
        sample.status, sample.reason = "failed", str(client.get("reason", ""))
        statuses = (ledger or {}).get("status_counts", {})
        if "413" in statuses and EXPECTED_FAILURE not in sample.reason:
            sample.reason = f"failed: {EXPECTED_FAILURE} (413; client saw: {sample.reason})"
    elif ledger is not None and sample.accepted == 0 and meta.unique_valid > 0:
        sample.status, sample.reason = "error", "reported success, but the ledger is empty"
    if sample.status != "ok" and not sample.wall:
        sample.wall = ex.wall
    return sample


def _expected(s: Sample) -> bool:
    """The SDK sample's one big body is refused (413) or too big to build: a result."""
    return s.status == "failed" and s.contender == "sdk_sample" and (
        EXPECTED_FAILURE in s.reason or OVER_MEMORY in s.reason)


def _last_json(stdout: str) -> dict[str, Any] | None:
    for line in reversed(stdout.strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _progress(s: Sample) -> str:
    head = f"{s.variant} {s.size} {s.contender} run {s.rep + 1}: "
    figures = f"CPU {s.cpu:.2f} s, RSS {s.rss_mb:.0f} MB"
    if s.status != "ok":
        return head + f"{s.outcome()} ({figures})"
    return head + (f"{s.wall:.3f} s ({s.rate:,.0f}/s), {figures}, "
                   f"{sum(s.requests.values())} requests, accepted {s.accepted:,}")


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def _machine(before: str, after: str) -> dict[str, Any]:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) / 1024 / 1024
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(memory, 2),
            "platform": platform.platform(), "loadavg_before": before, "loadavg_after": after}


@contextlib.contextmanager
def snapshot(root: Path) -> Iterator[Path]:
    """A private copy of `engine/` and `benchmarks/` (no data, no results) for this run."""
    target = Path(tempfile.mkdtemp(prefix="hvsms-bench-code-"))
    try:
        skip = shutil.ignore_patterns("__pycache__", "*.pyc")
        shutil.copytree(root / "engine", target / "engine", ignore=skip)
        shutil.copytree(root / "benchmarks", target / "benchmarks",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "data", "results"))
        # Compiled as `pip install` compiles a package: with PYTHONDONTWRITEBYTECODE set
        # (CI, containers) every contender process would compile engine/ again (~0.1 s).
        compileall.compile_dir(target, quiet=1)
        yield target
    finally:
        shutil.rmtree(target, ignore_errors=True)


@contextlib.contextmanager
def inside(directory: Path) -> Iterator[None]:
    """chdir for a child started here: `python -m` puts its cwd first on sys.path."""
    before = os.getcwd()
    os.chdir(directory)
    try:
        yield
    finally:
        os.chdir(before)


def _tree_sha1(directory: Path) -> str:
    digest = hashlib.sha1()
    for path in sorted(directory.rglob("*.py")):
        digest.update(str(path.relative_to(directory)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def _software(code: Path) -> dict[str, Any]:
    packages = {}
    for name in PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = "not installed"
    out: dict[str, Any] = {"python": platform.python_version(), "packages": packages,
                           "engine_sha1": _tree_sha1(code / "engine")}
    try:
        out["git_commit"] = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True,
            text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "engine"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10, check=True)
        out["git_dirty"] = bool(dirty.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        out["git_commit"] = "?"
    return out
