"""The slow tier's shared pieces: one real-shaped model folder, full-size data, and measured child processes.

Every step runs in its own process (``spatialladder.testing.step_probe`` or the console script), so the peak RSS
reported is that step's alone (``os.wait4`` returns the child's own ``ru_maxrss``). With ``SLOW_TIER_REPORT=path``
the session writes a Markdown table of seconds and peak RSS per step there (``make test-slow`` sets it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
THREADS = 2
"""torch threads per step: the tier's budget is stated for 2 cores."""
MEASURED: list[dict[str, Any]] = []


@dataclass
class Measured:
    returncode: int
    wall_s: float
    peak_rss_bytes: int
    stderr: str


def run_measured(cmd: list[str], timeout_s: float = 900) -> Measured:
    """Run ``cmd``; its own peak RSS comes from ``os.wait4`` (the pytest process's memory is not counted)."""
    err_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"slow-tier-{os.getpid()}-{time.monotonic_ns()}.err"
    start = time.perf_counter()
    with open(err_path, "w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, cwd=REPO)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - start > timeout_s:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.2)
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4; tell Popen so it does not wait again
    stderr = err_path.read_text(errors="replace")
    err_path.unlink()
    return Measured(proc.returncode, time.perf_counter() - start, usage.ru_maxrss * 1024, stderr)


def record(step: str, measured: Measured, **extra: Any) -> None:
    MEASURED.append({"step": step, "wall_s": measured.wall_s, "peak_rss_gib": measured.peak_rss_bytes / 2**30, **extra})


def probe(kind: str, config: str, out: Path, overrides: list[str], step: str) -> dict[str, Any]:
    """One stage or eval through ``step_probe`` in a fresh process; its JSON, with the wait4 figures added."""
    out_json = out / f"{kind}.probe.json"
    cmd = [sys.executable, "-m", "spatialladder.testing.step_probe", kind, config, str(out_json)]
    measured = run_measured([*cmd, "--threads", str(THREADS), *overrides])
    assert measured.returncode == 0, measured.stderr[-4000:]
    result = json.loads(out_json.read_text())
    result["peak_rss_bytes"] = measured.peak_rss_bytes
    result["process_wall_s"] = measured.wall_s
    record(step, measured, step_s=result.get("train_runtime_s"))
    return result


@pytest.fixture(scope="session")
def run_probe() -> Any:
    """:func:`probe` for the tests (with ``--import-mode=importlib`` a conftest is not importable by name)."""
    return probe


@pytest.fixture(scope="session")
def real_3b(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``make-tiny-model --like qwen2.5-vl-3b --layers 1 --vision-layers 1`` through the console script."""
    out = tmp_path_factory.mktemp("qwen2.5-vl-3b-l1") / "model"
    script = Path(sys.executable).with_name("spatialladder")
    args = ["make-tiny-model", str(out), "--like", "qwen2.5-vl-3b", "--layers", "1", "--vision-layers", "1"]
    measured = run_measured([str(script), *args])
    assert measured.returncode == 0, measured.stderr[-4000:]
    record("make-tiny-model --like qwen2.5-vl-3b --layers 1 --vision-layers 1", measured)
    return out


def make_like(tmp_path_factory: pytest.TempPathFactory, like: str) -> Path:
    """``make-tiny-model --like LIKE --layers 1 --vision-layers 1`` through the console script, measured."""
    out = tmp_path_factory.mktemp(f"{like}-l1") / "model"
    script = Path(sys.executable).with_name("spatialladder")
    args = ["make-tiny-model", str(out), "--like", like, "--layers", "1", "--vision-layers", "1"]
    measured = run_measured([str(script), *args])
    assert measured.returncode == 0, measured.stderr[-4000:]
    record(f"make-tiny-model --like {like} --layers 1 --vision-layers 1", measured)
    return out


@pytest.fixture(scope="session")
def real_like(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A cached ``--like`` folder per published shape (the new families' 2B models)."""
    built: dict[str, Path] = {}

    def get(like: str) -> Path:
        if like not in built:
            built[like] = make_like(tmp_path_factory, like)
        return built[like]

    return get


@pytest.fixture(scope="session")
def full_size(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """1296×968 records: stage 1/2 (single image, 4 views, 8-frame video), a 4-frame video row, VSI-Bench."""
    from spatialladder.testing.full_size import write_full_size_records, write_full_size_vsibench

    root = tmp_path_factory.mktemp("full-size")
    sft = write_full_size_records(root / "sft", views=4, video_frames=8)
    grpo = write_full_size_records(root / "grpo", views=4, video_frames=4)
    return {
        "grounding": sft["grounding"],
        "spatial": sft["spatial"],
        "sft_images": root / "sft" / "images",
        "grpo_video": grpo["video"],
        "grpo_images": root / "grpo" / "images",
        "vsibench": write_full_size_vsibench(root / "vsibench", frames=64),
    }


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    target = os.environ.get("SLOW_TIER_REPORT")
    if not target or not MEASURED:
        return
    load = os.getloadavg()
    lines = [
        f"Slow tier ({THREADS} torch threads per step; load average at the end {load[0]:.2f} / {load[1]:.2f} / "
        f"{load[2]:.2f}).",
        "",
        "| step | process wall s | trainer step s | peak RSS GiB |",
        "|---|---:|---:|---:|",
    ]
    for row in MEASURED:
        step_s = f"{row['step_s']:.1f}" if row.get("step_s") else "-"
        lines.append(f"| {row['step']} | {row['wall_s']:.1f} | {step_s} | {row['peak_rss_gib']:.2f} |")
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    Path(target).write_text("\n".join(lines) + "\n", encoding="utf-8")
