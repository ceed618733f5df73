"""The benchmark runner's own parts, for real: the data generator and the floor contender.

Both run as the runner runs them (`python -m ...` in a child process, from the
repository root) on a few hundred rows, and the JSON they print is checked
against the files themselves.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `benchmarks` is not installed: it runs from the checkout
    sys.path.insert(0, str(ROOT))

from benchmarks.contenders.floor import Assembler
from benchmarks.data import TEMPLATE

ROWS = 400
US_E164 = re.compile(r"^\+1[2-9]\d{2}[2-9]\d{6}$")


def run_module(*args: str) -> list[dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RC_")}
    proc = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    directory = tmp_path_factory.mktemp("bench-data")
    lines = run_module("benchmarks.data", "--sizes", str(ROWS),
                       "--variants", "to,personalised,dirty", "--dir", str(directory))
    return {line["variant"]: line for line in lines}


def read_column(path: str, name: str) -> list[str]:
    with open(path, newline="", encoding="utf-8") as f:
        return [row[name] for row in csv.DictReader(f)]


def test_generator_writes_what_its_json_says(generated: dict[str, dict[str, Any]]) -> None:
    assert set(generated) == {"to", "personalised", "dirty"}
    for variant, meta in generated.items():
        path = Path(meta["path"])
        assert path.stat().st_size == meta["bytes"]
        assert meta["rows"] == ROWS
        assert json.loads(path.with_suffix(".json").read_text())["rows"] == ROWS
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        assert rows[0] == meta["columns"]
        assert len(rows) == ROWS + 1, variant

    to = read_column(generated["to"]["path"], "to")
    assert all(US_E164.match(n) for n in to)
    assert len(set(to)) == ROWS == generated["to"]["unique_valid"]
    assert all(200 <= int(n[2:5]) <= 989 and int(n[5:8]) >= 200 for n in to)

    personalised = generated["personalised"]
    assert personalised["text"] == TEMPLATE
    with open(personalised["path"], newline="", encoding="utf-8") as f:
        people = list(csv.DictReader(f))
    assert all(US_E164.match(r["to"]) and re.fullmatch(r"\d{6}", r["code"]) and r["name"]
               for r in people)
    assert len({r["to"] for r in people}) == ROWS


def test_dirty_variant_counts_add_up(generated: dict[str, dict[str, Any]]) -> None:
    meta = generated["dirty"]
    values = read_column(meta["path"], "to")
    e164 = [v for v in values if US_E164.match(v)]
    digits = [re.sub(r"\D", "", v)[-10:] for v in values
              if re.fullmatch(r"[\d ().+-]+", v) and len(re.sub(r"\D", "", v)) in (10, 11)]
    assert meta["duplicates"] == ROWS // 10 and meta["invalid"] == ROWS // 50
    assert meta["unique_valid"] == ROWS - meta["duplicates"] - meta["invalid"]
    # Unique numbers, whatever the format, are exactly the unique valid ones.
    assert len(set(digits)) == meta["unique_valid"]
    assert len(e164) < ROWS - meta["national"]  # national formats and junk are there too
    assert any(v.startswith("(") for v in values)


def test_generator_is_deterministic(tmp_path: Path,
                                    generated: dict[str, dict[str, Any]]) -> None:
    again = run_module("benchmarks.data", "--sizes", str(ROWS), "--variants", "personalised",
                       "--dir", str(tmp_path))
    assert Path(again[0]["path"]).read_bytes() == \
        Path(generated["personalised"]["path"]).read_bytes()


@pytest.mark.parametrize("variant", ["to", "personalised"])
def test_floor_contender_prints_its_figures(generated: dict[str, dict[str, Any]],
                                            variant: str) -> None:
    meta = generated[variant]
    (result,) = run_module("benchmarks.contenders.floor", meta["path"], "--text", meta["text"])
    assert result["contender"] == "floor"
    assert result["status"] == "ok", result["reason"]
    assert result["rows"] == result["messages"] == ROWS
    assert result["batches"] == 1
    assert result["bytes_posted"] == result["largest_body"] > ROWS * 20
    assert 0 < result["wall"] < 5
    assert result["peak_rss_kb"] > 0


def test_floor_bodies_are_the_requests_a_sender_would_post(
        generated: dict[str, dict[str, Any]]) -> None:
    meta = generated["personalised"]
    data = Path(meta["path"]).read_bytes()
    header, _, rest = data.partition(b"\n")
    bodies: list[bytes] = []
    assembler = Assembler(meta["text"], header.split(b","), 0, max_body=4096)
    flush = assembler.flush

    def keep() -> None:
        if assembler.parts:
            bodies.append(assembler.head + b",".join(assembler.parts) + assembler.tail)
        flush()

    assembler.flush = keep  # type: ignore[method-assign]
    lines = rest.splitlines(keepends=True)
    for start in range(0, len(lines), 7):
        assembler.add(b"".join(lines[start:start + 7]))
    assembler.flush()

    docs = [json.loads(body) for body in bodies]
    assert len(docs) > 1 and all(len(body) <= 4096 for body in bodies)
    messages = [m for doc in docs for m in doc["messages"]]
    with open(meta["path"], newline="", encoding="utf-8") as f:
        expected = [{"to": [r["to"]], "text": TEMPLATE.format(**r)} for r in csv.DictReader(f)]
    assert messages == expected
    assert assembler.messages == ROWS and assembler.bodies == len(bodies)
