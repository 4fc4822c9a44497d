"""End to end on the tiny Qwen2.5-VL: eval runs, batching does not change greedy outputs, resume scores once."""

import json
import logging
from pathlib import Path

import pytest

from spatialladder.config.base import ModelSettings
from spatialladder.config.eval import EvalConfig
from spatialladder.errors import ConfigError
from spatialladder.eval import get_benchmark
from spatialladder.eval.messages import build_message
from spatialladder.eval.runner import run_eval, select_subset
from spatialladder.eval.sharding import PREDICTIONS


def make_cfg(model_dir: Path, data_dir: Path, out: Path, **kw) -> EvalConfig:
    settings = dict(
        kind="eval",
        bench="vsi",
        data_dir=str(data_dir),
        output_dir=str(out),
        model=ModelSettings(name_or_path=str(model_dir), dtype="float32", min_pixels=28 * 28, max_pixels=28 * 28 * 4),
        prompt="direct",
        frames=4,
        batch_size=3,
        generation={"max_new_tokens": 6},
    )
    settings.update(kw)
    return EvalConfig(**settings)


def predictions(out: Path) -> dict[str, str]:
    lines = (out / PREDICTIONS).read_text().splitlines()
    return {json.loads(line)["id"]: json.loads(line)["prediction"] for line in lines}


def test_eval_end_to_end_batched_equals_batch_one(tiny_model_dir: Path, vsi_dir: Path, tmp_path: Path, caplog):
    with caplog.at_level(logging.INFO, logger="spatialladder.eval"):
        batched = run_eval(make_cfg(tiny_model_dir, vsi_dir, tmp_path / "b3"))
    assert "2 videos decoded, 4 reused from the frame cache" in caplog.text  # 6 questions on 2 videos
    run_eval(make_cfg(tiny_model_dir, vsi_dir, tmp_path / "b1", batch_size=1))
    assert batched.n_generated == 6 and batched.n_reused == 0
    assert predictions(tmp_path / "b3") == predictions(tmp_path / "b1")
    results = json.loads((tmp_path / "b3" / "results.json").read_text())
    assert results["n"] == 6 and results["n_missing"] == 0
    assert results["settings"]["max_new_tokens"] == 6 and results["settings"]["frames"] == 4
    assert results["settings"]["share_video_prefix"] is True  # the default, recorded (not hashed into run_key)
    assert results["settings"]["benchmark_files"].keys() == {"test-00000-of-00001.parquet"}
    assert (tmp_path / "b3" / "config.resolved.yaml").is_file()
    assert 0.0 <= results["overall"] <= 100.0


def test_resume_after_kill_scores_every_id_once(tiny_model_dir: Path, vsi_dir: Path, tmp_path: Path):
    out = tmp_path / "run"
    cfg = make_cfg(tiny_model_dir, vsi_dir, out, batch_size=2)
    full = run_eval(cfg)
    lines = (out / PREDICTIONS).read_text().splitlines()
    # simulate a kill after 2 samples, in the middle of writing the third line
    (out / PREDICTIONS).write_text("\n".join(lines[:2]) + "\n" + lines[2][:15])
    resumed = run_eval(cfg)
    assert resumed.n_reused == 2 and resumed.n_generated == 4
    ids = [json.loads(line)["id"] for line in (out / PREDICTIONS).read_text().splitlines()]
    assert sorted(ids) == ["0", "1", "2", "3", "4", "5"]
    assert resumed.results["overall"] == full.results["overall"]
    again = run_eval(cfg)
    assert again.n_generated == 0 and again.n_reused == 6


def test_resume_with_other_settings_is_refused(tiny_model_dir: Path, vsi_dir: Path, tmp_path: Path):
    out = tmp_path / "run"
    run_eval(make_cfg(tiny_model_dir, vsi_dir, out, limit=1))
    with pytest.raises(ConfigError, match="different model/prompt/generation"):
        run_eval(make_cfg(tiny_model_dir, vsi_dir, out, limit=2, prompt="thinking"))


def test_seeded_subset_is_recorded(tiny_model_dir: Path, vsi_dir: Path, tmp_path: Path):
    result = run_eval(make_cfg(tiny_model_dir, vsi_dir, tmp_path / "s", limit=2, seed=3))
    samples = get_benchmark("vsibench").load(vsi_dir)
    expected = [s.id for s in select_subset(samples, 2, 3)]
    assert sorted(predictions(tmp_path / "s")) == sorted(expected)
    assert result.results["settings"]["subset"] == {"limit": 2, "seed": 3}


def test_message_puts_vision_before_text(vsi_dir: Path):
    spec = get_benchmark("vsibench")
    sample = spec.load(vsi_dir)[2]
    messages, images, videos = build_message(sample, spec, "lmms", frames=5)
    content = messages[0]["content"]
    assert [c["type"] for c in content] == ["video", "text"]
    assert content[1]["text"].startswith("These are frames of a video.\nWhich is the closest to the bed?\nOptions:")
    assert images == [] and len(videos[0]) == 5


def test_config_rejects_lmms_on_image_benchmarks(tmp_path: Path):
    with pytest.raises(ConfigError, match="lmms"):
        EvalConfig(kind="eval", bench="spbench-si", data_dir="d", output_dir="o", prompt="lmms")
    cfg = EvalConfig(kind="eval", bench="vsi", data_dir="d", output_dir="o", prompt="lmms")
    assert cfg.resolved_scoring() == "vsibench-2024" and cfg.resolved_max_new_tokens() == 16
    assert EvalConfig(kind="eval", bench="vsi", data_dir="d", output_dir="o").resolved_max_new_tokens() == 1024


@pytest.mark.parametrize(("fps", "expected"), [(2.0, 1.0), (0.5, 4.0)])
def test_video_time_scale_follows_video_fps(tiny_model_dir: Path, vsi_dir: Path, tmp_path: Path, fps, expected):
    """transformers 5 would assume 24 fps for a frame list (0.083 s per grid step); we pass the configured rate."""
    from spatialladder.eval.generation import HFGenerator

    cfg = make_cfg(tiny_model_dir, vsi_dir, tmp_path, video_fps=fps)
    spec = get_benchmark("vsibench")
    sample = spec.load(vsi_dir)[2]
    inputs = HFGenerator(cfg).encode([build_message(sample, spec, "direct", frames=4)])
    assert inputs["video_grid_thw"][0, 0].item() == 2  # 4 frames / temporal patch 2
    assert inputs["second_per_grid_ts"].tolist() == [expected]
