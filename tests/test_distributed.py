"""spatialladder.distributed: the launcher's rank and world size without making a process group, and one barrier
that makes (gloo on CPU) or reuses accelerate's group, checked with two real torchrun processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from spatialladder import distributed

LAUNCH_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


@pytest.fixture
def alone(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in LAUNCH_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_a_plain_run_is_rank_0_of_1_and_its_barrier_imports_nothing() -> None:
    code = (
        "import os, sys\n"
        "for k in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK'): os.environ.pop(k, None)\n"
        "from spatialladder import distributed as d\n"
        "d.barrier()\n"
        "print(d.rank(), d.world_size(), d.local_rank(), d.is_main_process(),"
        " [m for m in ('torch', 'accelerate') if m in sys.modules])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == "0 1 0 True []"


def test_before_a_process_group_exists_the_launcher_variables_answer(alone: pytest.MonkeyPatch) -> None:
    alone.setenv("RANK", "3")
    alone.setenv("WORLD_SIZE", "4")
    alone.setenv("LOCAL_RANK", "1")
    assert (distributed.rank(), distributed.world_size(), distributed.local_rank()) == (3, 4, 1)
    assert not distributed.is_main_process()
    alone.setenv("LOCAL_RANK", "gpu1")
    with pytest.raises(ValueError, match=r"LOCAL_RANK='gpu1': .* must be integers"):
        distributed.local_rank()


_TWO_PROCESSES = """
import sys, time
from pathlib import Path

import torch.distributed as dist

from spatialladder import distributed as d

out = Path(sys.argv[1])
before = (d.rank(), d.world_size(), d.local_rank(), dist.is_initialized())
if d.is_main_process():
    time.sleep(1.0)  # rank 1 reaches the barrier first and must wait for this file
    (out / "written_before_barrier").write_text("x")
d.barrier()
seen = (out / "written_before_barrier").is_file()
d.barrier()  # the second barrier reuses the group
after = (d.rank(), d.world_size(), d.local_rank(), dist.is_initialized(), dist.get_backend())
(out / f"rank{d.rank()}.txt").write_text(repr((before, seen, after)))
"""


@pytest.mark.timeout(120)
def test_two_torchrun_processes_share_one_gloo_barrier(tmp_path: Path) -> None:
    """Asking for the rank makes no process group (eval and the ladder's bookkeeping run without one); the first
    barrier makes it (gloo here, no CUDA) and really waits: rank 1 sees the file rank 0 wrote a second later."""
    script = tmp_path / "two.py"
    script.write_text(_TWO_PROCESSES)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(script)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}  # the CPU path, also on a GPU node
    done = subprocess.run([*cmd, str(tmp_path)], env=env, capture_output=True, text=True, timeout=110)
    assert done.returncode == 0, done.stderr[-3000:]
    for rank in (0, 1):
        before, seen, after = eval((tmp_path / f"rank{rank}.txt").read_text())  # noqa: S307 - our own repr
        assert before == (rank, 2, rank, False)
        assert seen is True
        assert after == (rank, 2, rank, True, "gloo")
