"""`eval` with the tiny model runs end to end on the multi-image benchmarks written in their released layouts."""

import json
from pathlib import Path

import pytest

from spatialladder.eval.runner import run_eval
from spatialladder.eval.sharding import PREDICTIONS
from spatialladder.testing.synthetic_benchmarks import (
    BenchItem,
    solid_frames,
    write_mindcube,
    write_mmsi,
    write_sparbench,
)

from .test_runner import make_cfg

Q = "Where is the sofa? A. left B. right"
WRITERS = {
    "sparbench": lambda d: write_sparbench(
        [
            BenchItem("position_matching", Q, "A", "s", solid_frames(2)),
            BenchItem("depth_prediction_oc", "How deep?", "1.5", "s", solid_frames(1, seed=1)),
            BenchItem("view_change_infer", "Move?", "move_left:1", "s", solid_frames(2, seed=2)),
        ],
        d,
    ),
    "mmsi": lambda d: write_mmsi([BenchItem("MSR", Q, "B", "s", solid_frames(2, seed=k)) for k in range(3)], d),
    "mindcube": lambda d: write_mindcube(
        [BenchItem("among", Q, "A", f"s{k}", solid_frames(3, seed=k), extra={"id": f"among_{k}"}) for k in range(3)],
        d,
    ),
}


@pytest.mark.parametrize("bench", sorted(WRITERS))
def test_eval_runs_and_scores_every_question(bench: str, tiny_model_dir: Path, tmp_path: Path):
    data = WRITERS[bench](tmp_path / "data")
    out = tmp_path / "out"
    result = run_eval(make_cfg(tiny_model_dir, data, out, bench=bench, frames=1))
    assert (result.n_generated, result.n_reused) == (3, 0)
    assert result.results["n"] == 3 and result.results["n_missing"] == 0
    assert 0.0 <= result.results["overall"] <= 100.0
    ids = [json.loads(line)["id"] for line in (out / PREDICTIONS).read_text().splitlines()]
    assert len(ids) == 3 == len(set(ids))
    assert json.loads((out / "results.json").read_text())["bench"] == bench
