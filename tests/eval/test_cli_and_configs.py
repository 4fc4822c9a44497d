"""Shipped eval configs validate; `eval` and `score` work through the CLI."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spatialladder.cli import app
from spatialladder.config.eval import EvalConfig, build_eval_config
from spatialladder.eval import get_benchmark
from spatialladder.eval.messages import resolve_protocol
from spatialladder.models.families import family_named

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO / "configs" / "eval").glob("*.yaml")) + sorted((REPO / "configs" / "debug").glob("eval_*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_validate(path: Path):
    cfg = build_eval_config(str(path), [])
    assert isinstance(cfg, EvalConfig)
    get_benchmark(cfg.bench)


def test_flags_and_overrides_layer_over_yaml():
    cfg = build_eval_config(
        str(REPO / "configs" / "eval" / "vsibench.yaml"), ["generation.max_new_tokens=7"], model="m", limit=5, seed=2
    )
    assert (cfg.model.name_or_path, cfg.model.max_pixels) == ("m", 401408)
    assert (cfg.limit, cfg.seed, cfg.generation.max_new_tokens) == (5, 2, 7)
    assert build_eval_config(None, [], bench="cvbench", data="d").output_dir == "outputs/eval/cvbench"


def test_defaults_are_the_official_eval_protocol():
    """official-spatialladder.md §6.1: 32 frames, 16..512 x 28x28 px, greedy with repetition_penalty 1.05,
    max_new_tokens 128 (default) / 1024 (thinking); lmms-eval VSI-Bench: 16 tokens. The protocol, its frames and its
    repetition penalty are left open in the config and filled from the model's family when the run starts: for
    Qwen2.5-VL they are the official eval's (the values this config held as fixed defaults before)."""
    unresolved = build_eval_config(None, [], bench="vsibench", data="d")
    assert (unresolved.input_protocol, unresolved.frames, unresolved.generation.repetition_penalty) == (None,) * 3
    cfg = resolve_protocol(unresolved, family_named("qwen2.5-vl"))
    assert cfg.input_protocol == "official"
    assert (cfg.frames, cfg.model.min_pixels, cfg.model.max_pixels) == (32, 16 * 28 * 28, 512 * 28 * 28)
    assert (cfg.generation.do_sample, cfg.generation.repetition_penalty) == (False, 1.05)
    assert (cfg.prompt, cfg.resolved_max_new_tokens(), cfg.resolved_scoring()) == ("thinking", 1024, "spatialladder")
    direct = build_eval_config(None, [], bench="vsibench", data="d", prompt="direct")
    assert (direct.resolved_max_new_tokens(), direct.resolved_scoring()) == (128, "spatialladder")
    lmms = build_eval_config(None, [], bench="vsibench", data="d", prompt="lmms")
    assert (lmms.resolved_max_new_tokens(), lmms.resolved_scoring()) == (16, "vsibench-2024")
    for path in sorted((REPO / "configs" / "eval").glob("*.yaml")):  # shipped configs pin the same settings
        shipped = build_eval_config(str(path), [])
        assert (shipped.generation.do_sample, shipped.generation.repetition_penalty) == (False, 1.05), path.name


def test_cli_eval_then_score(tiny_model_dir: Path, vsi_dir: Path, tmp_path: Path):
    runner = CliRunner()
    out = tmp_path / "e"
    args = ["eval", "-c", str(REPO / "configs/debug/eval_vsibench.yaml"), "--model", str(tiny_model_dir)]
    args += ["--data", str(vsi_dir), "--out", str(out), "--limit", "2"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "vsibench: overall" in result.output
    score = runner.invoke(
        app,
        ["score", "--bench", "vsi", "--predictions", str(out / "predictions.jsonl"), "--data", str(vsi_dir)]
        + ["--out", str(tmp_path / "s"), "--prompt", "direct"],
    )
    assert score.exit_code == 0, score.output
    assert json.loads((tmp_path / "s" / "results.json").read_text())["overall"] == pytest.approx(
        json.loads((out / "results.json").read_text())["overall"]
    )
