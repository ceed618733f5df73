"""One truth: the report's counts, the CSV files and the server's own totals agree,
on the emulator's defaults (late receipts, 2% failures, CAR-104 detours), at the
end of a job and after `hvsms status --refresh`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ringcentral import SDK

from engine.emulator import EmulatorConfig, EmulatorProcess

from .conftest import Run, emulator_env, read_csv

DAY = 86400.0


def _server_totals(emu: EmulatorProcess) -> dict[str, int]:
    """What the server says of every message it holds, read with the official SDK."""
    c = emu.credentials
    sdk = SDK(c.client_id, c.client_secret, c.server_url)
    platform = sdk.platform()
    platform.login(jwt=c.jwt)
    got: dict[str, Any] = platform.get(
        "/restapi/v1.0/account/~/a2p-sms/statuses", {"dateFrom": "2000-01-01T00:00:00Z"}
    ).json_dict()
    failed = got["deliveryFailed"]["count"] - got["deliveryFailed"]["errorCodeCounts"].get(
        "SMS-CAR-104", 0) + got["sendingFailed"]["count"]
    return {"delivered": got["delivered"]["count"], "failed": failed}


def _agree(directory: Path, rows: int) -> dict[str, int]:
    report = json.loads((directory / "report.json").read_text())
    c = report["counts"]
    failed_rows = read_csv(directory / "failed.csv")
    assert c["failed"] == len(failed_rows) == len(report["failed"])
    assert c["delivered"] + c["failed"] + c["pending"] == c["accepted"] == rows
    batches = report["batches"]
    assert len(batches) >= 4
    assert sum(b["failed"] for b in batches) == c["failed"]
    assert sum(b["pending"] for b in batches) == c["pending"]
    assert report["results"]["failed"] == c["failed"]
    assert report["results"]["pending"] == c["pending"]
    return {"delivered": c["delivered"], "failed": c["failed"], "pending": c["pending"]}


def test_the_report_the_csv_files_and_the_server_agree_after_the_job_and_a_refresh(
        run: Run, workdir: Path) -> None:
    rows = 4000
    # The defaults, an emulated 10 minutes a second: receipts keep coming after
    # the batches complete, some of them only after the job ended.
    cfg = EmulatorConfig(time_scale=600.0)
    path = workdir / "to.csv"
    path.write_text("to\n" + "".join(f"+1415555{i:04d}\n" for i in range(rows)))
    with EmulatorProcess(cfg) as emu:
        env = emulator_env(emu)
        sent = run("send", str(path), "--text", "Hi", "--journal", "job.journal", "--yes",
                   "--max-batch-messages", "800", env=env, timeout=240)
        assert sent.returncode == 0, sent.stderr
        first = _agree(workdir / "job-report", rows)
        assert re.search(rf"^ *failed +{first['failed']:,}\b", sent.stdout, re.MULTILINE), sent.stdout

        emu.advance(DAY)  # every receipt is in
        done = run("status", "--refresh", "job.journal", env=env)
        assert done.returncode == 0, done.stderr
        after = _agree(workdir / "job-report", rows)
        assert f"{after['failed']:,} failed, 0 pending" in done.stdout
        server = _server_totals(emu)
    assert after["pending"] == 0
    assert after == {**server, "pending": 0}
    assert after["failed"] >= first["failed"]
