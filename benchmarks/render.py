"""The results as a terminal table (rich), Markdown, JSON and two plots (matplotlib)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from .results import POLL_OPERATIONS, POST, Figure, Ratio, Spread, Target

__all__ = ["markdown", "plots", "terminal", "write_json"]

ORDER = ("hvsms", "sdk_sample", "handwritten", "floor")
COLORS = {"hvsms": "C0", "sdk_sample": "C1", "handwritten": "C2", "floor": "C3"}


def _sorted(figures: Sequence[Figure], sizes: Sequence[str],
            variants: Sequence[str]) -> list[Figure]:
    def key(f: Figure) -> tuple[int, int, int]:
        return (variants.index(f.variant) if f.variant in variants else 99,
                sizes.index(f.size) if f.size in sizes else 99,
                ORDER.index(f.contender) if f.contender in ORDER else 99)
    return sorted(figures, key=key)


def _spread(s: Spread | None, fmt: str, *, ranges: bool = True) -> str:
    if s is None:
        return "-"
    text = format(s.median, fmt)
    if ranges and s.low != s.high:
        text += f" ({format(s.low, fmt)}–{format(s.high, fmt)})"
    return text


def _requests(f: Figure) -> tuple[str, str, str, str]:
    rep = f.representative
    if rep is None or f.contender == "floor":
        return "-", "-", "-", "-"
    req = rep.requests
    posts = req.get(POST, 0)
    polls = sum(req.get(op, 0) for op in POLL_OPERATIONS)
    other = sum(req.values()) - posts - polls
    return str(posts), str(polls), str(other), str(rep.responses_429)


def _accepted(f: Figure) -> str:
    rep = f.representative
    if rep is None or f.contender == "floor":
        return "-"
    text = f"{rep.accepted:,}"
    if rep.duplicates:
        text += f" ({rep.duplicates:,} dup)"
    if rep.accepted == rep.expected_unique and not rep.duplicates:
        return text + " ✓"
    return text + f" [exp. {rep.expected_unique:,}]"


def _body(f: Figure) -> tuple[str, str]:
    rep = f.representative
    if rep is None or not rep.largest_body:
        return "-", "-"
    fill = "-" if rep.fill is None else f"{rep.fill:.0%}" if rep.fill >= 0.1 else f"{rep.fill:.1%}"
    return f"{rep.largest_body / 1e6:.1f}", fill


def _status(f: Figure) -> str:
    if f.status == "ok":
        return "ok" if f.ok_runs == f.runs else f"ok {f.ok_runs}/{f.runs}"
    return short(f.reason or f.status)


def short(reason: str, limit: int = 48) -> str:
    """A reason cut for a table cell (the full text is in the Failures section)."""
    reason = reason.removeprefix("failed: ")
    return reason if len(reason) <= limit else reason[:limit - 1] + "…"


def rows(figures: Sequence[Figure], sizes: Sequence[str],
         variants: Sequence[str], *, ranges: bool) -> list[list[str]]:
    out = []
    for f in _sorted(figures, sizes, variants):
        posts, polls, other, r429 = _requests(f)
        largest, fill = _body(f)
        ok = f.status == "ok"
        out.append([
            f.variant, f.size, f.contender, _status(f),
            _spread(f.wall, ".3f", ranges=ranges) if ok else "-",
            _spread(f.rate, ",.0f", ranges=False) if ok else "-",
            _spread(f.cpu, ".2f", ranges=ranges),
            _spread(f.rss_mb, ".0f", ranges=ranges),
            posts, polls, other, r429, _accepted(f), largest, fill,
        ])
    return out


HEADERS = ["variant", "size", "contender", "status", "wall s", "recipients/s", "CPU s",
           "peak RSS MiB", "POST", "polls", "other req", "429", "accepted", "largest body MB",
           "fill"]


def terminal(console: Console, figures: Sequence[Figure], ratio_list: Sequence[Ratio],
             target_list: Sequence[Target], economy: dict[str, Any] | None,
             sizes: Sequence[str], variants: Sequence[str]) -> None:
    table = Table(title="hvsms benchmark (medians; min–max in brackets)", show_lines=False)
    for h in HEADERS:
        table.add_column(h, justify="left" if h in ("variant", "contender", "status")
                         else "right", overflow="fold")
    for row in rows(figures, sizes, variants, ranges=True):
        table.add_row(*row)
    if figures:
        console.print(table)
    if ratio_list:
        rt = Table(title="Ratios (hvsms / other; medians, same run)")
        for h in ("variant", "size", "pair", "CPU", "RSS", "wall"):
            rt.add_column(h)
        for key, group in _ratio_rows(ratio_list).items():
            rt.add_row(*key, *group)
        console.print(rt)
    if economy is not None:
        console.print(economy_line(economy))
    for t in target_list:
        style = {"PASS": "green", "FAIL": "red"}.get(t.verdict, "yellow")
        console.print(f"[{style}]{t.verdict:<12}[/] {t.name}: {t.detail}", highlight=False)


def _ratio_rows(ratio_list: Sequence[Ratio]) -> dict[tuple[str, str, str], list[str]]:
    table: dict[tuple[str, str, str], list[str]] = {}
    col = {"cpu": 0, "rss": 1, "wall": 2}
    for r in ratio_list:
        cells = table.setdefault((r.variant, r.size, r.pair), ["-", "-", "-"])
        cells[col[r.metric]] = f"{r.value:.3f}" if r.value is not None else "n/a: " + r.note
    return table


def economy_line(e: dict[str, Any]) -> str:
    if e.get("status") != "ok":
        return f"API economy: hvsms {e.get('status')}: {e.get('reason')}"
    return (f"API economy ({e['rows']:,} rows, {e['batches']} batches of <= "
            f"{e['max_batch_messages']}, Light {e['light_limit']}/{e['window']:g} s, "
            f"{e['processing_rate']:g} msg/s): {e['wall']:.0f} s, "
            f"{e['total_requests']} requests = {e['submit']} submit + {e['poll']} poll + "
            f"{e['statuses']} statuses + {e['other']} other; {e['responses_429']} x 429; "
            f"accepted {e['accepted']:,} (expected {e['expected_unique']:,})")


def _md_table(headers: Sequence[str], body: Sequence[Sequence[str]]) -> list[str]:
    def esc(cell: str) -> str:
        return cell.replace("|", "\\|")
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(esc(c) for c in row) + " |" for row in body]
    return out


def markdown(doc: dict[str, Any], figures: Sequence[Figure], ratio_list: Sequence[Ratio],
             target_list: Sequence[Target], economy: dict[str, Any] | None,
             sizes: Sequence[str], variants: Sequence[str]) -> str:
    m, sw, st = doc["machine"], doc["software"], doc["settings"]
    dirty = " + local changes to engine/" if sw.get("git_dirty") else ""
    packages = ", ".join(f"{k} {v}" for k, v in sw["packages"].items())
    lines = [
        "# hvsms benchmark results",
        "",
        (f"Measured {doc['date']} with `{doc['command']}` (hvsms at "
         f"`{sw.get('git_commit', '?')}`{dirty}; every process ran one copy of engine/, "
         f"sha1 `{sw.get('engine_sha1', '?')}` over its .py files)."),
        ("Every figure below comes from this one run: same generated files, one emulator "
         "in its own process, each contender in its own process. See "
         "[README.md](../README.md) for what is measured and how."),
        "",
        (f"- Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']:.1f} GiB, "
         f"{m['platform']}; load average {m['loadavg_before']} before, "
         f"{m['loadavg_after']} after."),
        f"- Python {sw['python']}; {packages}.",
        (f"- {st['runs']} run(s) per figure: median, (min–max). Poll interval "
         f"{st['poll_interval']} s for every contender. Throughput emulator: rate limits "
         "off, batches processed instantly."),
        "",
        "## Figures",
        "",
        ("wall s: the contender's own work time (after its imports); recipients/s = rows / "
         "wall. CPU s: user + sys of the contender process, from `os.wait4`. Peak RSS: the "
         "contender's VmHWM. Requests, 429s, "
         "accepted (duplicates) and largest body: the emulator's ledger. ✓: accepted exactly "
         "the file's unique valid numbers. fill: fewest 50 MiB batches the bytes posted fit "
         "in / batches used."),
        "",
    ]
    lines += _md_table(HEADERS, rows(figures, sizes, variants, ranges=True))
    lines += _endpoint_table(figures, sizes, variants)
    if ratio_list:
        lines += ["", "## Ratios (hvsms / other, medians)", ""]
        body = [[*k, *v] for k, v in _ratio_rows(ratio_list).items()]
        lines += _md_table(["variant", "size", "pair", "CPU", "peak RSS", "wall"], body)
    lines += ["", "## API economy", ""]
    lines.append(economy_line(economy) if economy is not None
                 else "Not run (`python -m benchmarks --economy`, or a full run).")
    if economy is not None and economy.get("requests"):
        lines += ["", "Requests by endpoint: " + ", ".join(
            f"{k} {v}" for k, v in sorted(economy["requests"].items())) + "."]
    lines += ["", "## Targets", "", "```"]
    lines += [t.line() for t in target_list]
    lines += ["```"]
    failures = doc.get("failures") or []
    if failures:
        lines += ["", "## Failures", ""]
        for fail in failures:
            reason = fail["reason"] if fail["reason"].startswith(fail["status"]) else \
                f"{fail['status']}: {fail['reason']}"
            lines.append(f"- {fail['contender']} on {fail['variant']} {fail['size']} "
                         f"(run {fail['rep'] + 1}): {reason}")
            if fail.get("stderr_tail"):
                lines += ["", "```", fail["stderr_tail"].rstrip(), "```", ""]
    if doc.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {n}" for n in doc["notes"]]
    return "\n".join(lines) + "\n"


ENDPOINTS = (("token", "token"), ("listExtensionPhoneNumbers", "phone-number"),
             ("readA2PSMSOptOuts", "opt-outs"), (POST, "POST batches"),
             ("readA2PBatch", "GET batch"), ("listA2PBatches", "list batches"),
             ("aggregateA2PSMSStatuses", "statuses"), ("listA2PSMS", "messages"),
             ("revoke", "revoke"))


def _endpoint_table(figures: Sequence[Figure], sizes: Sequence[str],
                    variants: Sequence[str]) -> list[str]:
    """Requests per endpoint on the ledger (run with the median wall time)."""
    body = []
    for f in _sorted(figures, sizes, variants):
        rep = f.representative
        if rep is None or f.contender == "floor":
            continue
        known = {name for name, _ in ENDPOINTS}
        cells = [str(rep.requests.get(name, 0)) for name, _ in ENDPOINTS]
        rest = sum(v for k, v in rep.requests.items() if k not in known)
        body.append([f.variant, f.size, f.contender, *cells, str(rest),
                     str(sum(rep.requests.values()))])
    if not body:
        return []
    return ["", "## Requests per endpoint (emulator ledger)", "",
            *_md_table(["variant", "size", "contender", *(label for _, label in ENDPOINTS),
                        "other", "total"], body)]


def write_json(path: Path, doc: dict[str, Any]) -> None:
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")


def plots(out_dir: Path, prefix: str, figures: Sequence[Figure],
          variants: Sequence[str]) -> list[str]:
    """throughput.png and memory.png; returns notes (e.g. matplotlib missing)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return ["plots skipped: matplotlib is not installed (pip install -e '.[bench]')"]
    shown = [v for v in variants if any(f.variant == v for f in figures)]
    if not shown:
        return []
    specs: tuple[tuple[str, str, Callable[[Figure], Spread | None], bool], ...] = (
        ("throughput", "recipients/s", lambda f: f.rate, True),
        ("memory", "peak RSS (MiB)", lambda f: f.rss_mb, False),
    )
    for name, ylabel, pick, only_ok in specs:
        fig, axes = plt.subplots(1, len(shown), figsize=(5 * len(shown), 4.2), squeeze=False)
        for ax, variant in zip(axes[0], shown, strict=True):
            for contender in ORDER:
                mine = [f for f in figures if f.variant == variant and f.contender == contender]
                good = sorted((f for f in mine if f.status == "ok" and pick(f) is not None),
                              key=lambda f: f.rows)
                if good:
                    spreads = [s for s in (pick(f) for f in good) if s is not None]
                    ax.errorbar([f.rows for f in good], [s.median for s in spreads],
                                yerr=[[s.median - s.low for s in spreads],
                                      [s.high - s.median for s in spreads]],
                                marker="o", capsize=3, label=contender,
                                color=COLORS.get(contender))
                bad = [f for f in mine if f.status != "ok" and pick(f) is not None]
                if bad and not only_ok:
                    values = [s.median for s in (pick(f) for f in bad) if s is not None]
                    ax.scatter([f.rows for f in bad], values, marker="x", s=60,
                               color=COLORS.get(contender), label=f"{contender} (failed runs)")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(variant)
            ax.set_xlabel("recipients in the file")
            ax.set_ylabel(ylabel)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize="small")
        fig.suptitle("hvsms benchmark: " + ("throughput (work time)" if name == "throughput"
                                            else "peak RSS of the sending process"))
        fig.tight_layout()
        fig.savefig(out_dir / f"{prefix}{name}.png", dpi=110)
        plt.close(fig)
    return []
