"""``--stage all``: chaining, skip-finished, rerun-after-edit, stage names, and the CLI command."""

from __future__ import annotations

import gc
import json
import logging
import re
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from spatialladder.cli import app
from spatialladder.config.load import read_yaml, validate_mapping
from spatialladder.errors import ConfigError, UnknownNameError
from spatialladder.train.ladder import MARKER_NAME, canonical_stage, run_stage, split_overrides, train_command

STAGES = ("localization", "spatial", "coldstart")


def write_ladder(tmp_path: Path, sft_config, max_steps: int = 1) -> Path:
    ladder = {"kind": "ladder"}
    for stage in STAGES:
        cfg = sft_config(stage, tmp_path / "out" / stage, {"max_steps": max_steps})
        (tmp_path / f"{stage}.yaml").write_text(yaml.safe_dump(cfg))
        ladder[stage] = f"{stage}.yaml"
    path = tmp_path / "ladder.yaml"
    path.write_text(yaml.safe_dump(ladder))
    return path


def actions(lines: list[str]) -> list[str]:
    return [line.split(": ")[1].split(" ")[0] for line in lines]


def test_ladder_chains_skips_finished_and_reruns_after_an_edit(tmp_path, sft_config, tiny_model_dir) -> None:
    ladder = write_ladder(tmp_path, sft_config)
    assert actions(train_command("all", ladder)) == ["trained", "trained", "trained"]
    out = tmp_path / "out"
    # each stage starts from the previous stage's final folder
    assert read_yaml(out / "spatial/config.resolved.yaml")["model"]["name_or_path"] == str(out / "localization")
    assert read_yaml(out / "coldstart/config.resolved.yaml")["model"]["name_or_path"] == str(out / "spatial")
    assert read_yaml(out / "localization/config.resolved.yaml")["model"]["name_or_path"] == str(tiny_model_dir)
    assert json.loads((out / "spatial" / MARKER_NAME).read_text())["status"] == "done"

    assert actions(train_command("all", ladder)) == ["skipped", "skipped", "skipped"]

    spatial = yaml.safe_load((tmp_path / "spatial.yaml").read_text())
    spatial["trainer"]["learning_rate"] = 5e-4
    (tmp_path / "spatial.yaml").write_text(yaml.safe_dump(spatial))
    assert actions(train_command("all", ladder)) == ["skipped", "trained", "trained"]
    assert actions(train_command("all", ladder, ["spatial.trainer.learning_rate=5e-4"])) == ["skipped"] * 3


def test_interrupted_stage_resumes_from_its_checkpoint(tmp_path, sft_config) -> None:
    ladder = write_ladder(tmp_path, sft_config, max_steps=2)
    for stage in STAGES:
        cfg = yaml.safe_load((tmp_path / f"{stage}.yaml").read_text())
        cfg["trainer"].update(save_strategy="steps", save_steps=1)
        (tmp_path / f"{stage}.yaml").write_text(yaml.safe_dump(cfg))
    train_command("all", ladder)
    marker_path = tmp_path / "out/coldstart" / MARKER_NAME
    marker = json.loads(marker_path.read_text())
    marker_path.write_text(json.dumps({**marker, "status": "running"}))  # as if killed after checkpoint-2
    assert actions(train_command("all", ladder)) == ["skipped", "skipped", "resumed"]


def test_stage_names_and_override_routing() -> None:
    assert [canonical_stage(s) for s in ("1", "2", "cs", "3", "spatial")] == [
        "localization",
        "spatial",
        "coldstart",
        "grpo",
        "spatial",
    ]
    with pytest.raises(UnknownNameError, match="unknown stage '4'"):
        canonical_stage("4")
    assert split_overrides(["2.trainer.max_steps=3", "cs.seed=1"], STAGES) == {
        "localization": [],
        "spatial": ["trainer.max_steps=3"],
        "coldstart": ["seed=1"],
    }
    with pytest.raises(ConfigError, match="prefix each override with a stage"):
        split_overrides(["trainer.max_steps=3"], STAGES)


def test_cli_trains_one_stage_and_rejects_a_mismatched_config(tmp_path, sft_config) -> None:
    cfg_path = tmp_path / "s1.yaml"
    cfg_path.write_text(yaml.safe_dump(sft_config("localization", tmp_path / "s1", {"max_steps": 1})))
    result = CliRunner().invoke(app, ["train", "--stage", "1", "--config", str(cfg_path), "--set", "seed=3"])
    assert result.exit_code == 0, result.output
    assert "localization: done" in result.output and "(step 1)" in result.output
    result = CliRunner().invoke(app, ["train", "--stage", "cs", "--config", str(cfg_path)])
    assert isinstance(
        result.exception, ConfigError
    ) and "sft/localization config, but --stage asks for coldstart" in str(result.exception)


def test_cli_resume_flags_follow_the_one_resume_policy(tmp_path, sft_config) -> None:
    """No flag: another config's checkpoints are refused; --no-resume trains from step 0 and removes them;
    --resume / --no-resume with --stage all are refused (each rung's marker decides there)."""
    from spatialladder.config.load import save_resolved
    from spatialladder.config.sft import SFTStageConfig

    out = tmp_path / "s1"
    cfg_path = tmp_path / "s1.yaml"
    cfg_path.write_text(yaml.safe_dump(sft_config("localization", out, {"max_steps": 1})))
    save_resolved(validate_mapping(sft_config("localization", out, {"max_steps": 1}, seed=7), SFTStageConfig), out)
    (out / "checkpoint-5").mkdir()
    result = CliRunner().invoke(app, ["train", "--stage", "1", "--config", str(cfg_path)])
    assert isinstance(result.exception, ConfigError)
    assert f"output_dir {out} holds checkpoint-5 from a different config" in str(result.exception)
    result = CliRunner().invoke(app, ["train", "--stage", "1", "--config", str(cfg_path), "--no-resume"])
    assert result.exit_code == 0, result.output
    assert "localization: done" in result.output and "(step 1)" in result.output
    assert not (out / "checkpoint-5").exists()
    ladder = write_ladder(tmp_path, sft_config)
    for flag in ("--resume", "--no-resume"):
        result = CliRunner().invoke(app, ["train", "--stage", "all", "-c", str(ladder), flag])
        assert isinstance(result.exception, ConfigError)
        assert str(result.exception).startswith(f"{flag} applies to one stage; with --stage all each rung")


@pytest.mark.parametrize("stage", ["localization", "grpo"])
def test_a_rung_config_error_names_the_rung_file(tmp_path, sft_config, tiny_model_dir, tiny_records, stage) -> None:
    """trl-level errors of a rung loaded by the ladder name that rung's file, not ``<config>``."""
    if stage == "grpo":
        cfg = read_yaml(Path(__file__).resolve().parents[2] / "configs/debug/grpo_tiny.yaml")
        cfg.update(output_dir=str(tmp_path / "out"), data={"files": [str(tiny_records["spatial"])]})
    else:
        cfg = sft_config(stage, tmp_path / "out")
    cfg["trainer"]["warmup_ratioo"] = 0.1
    (tmp_path / "rung.yaml").write_text(yaml.safe_dump(cfg))
    (tmp_path / "ladder.yaml").write_text(yaml.safe_dump({"kind": "ladder", stage: "rung.yaml"}))
    name = "SFTConfig" if stage == "localization" else "GRPOConfig"
    expected = f"{tmp_path / 'rung.yaml'}: trainer.warmup_ratioo: not a field of trl.{name}"
    with pytest.raises(ConfigError, match="^" + re.escape(expected)):
        train_command("all", tmp_path / "ladder.yaml")
    with pytest.raises(ConfigError, match="^" + re.escape(expected)):  # one rung from the CLI: the same file named
        train_command("1" if stage == "localization" else "3", tmp_path / "rung.yaml")


def test_config_validate_checks_every_rung_of_a_ladder(tmp_path, sft_config) -> None:
    ladder = write_ladder(tmp_path, sft_config)
    result = CliRunner().invoke(app, ["config", "validate", "-c", str(ladder)])
    assert result.exit_code == 0, result.output
    for stage in STAGES:
        assert f"{stage}: {tmp_path / (stage + '.yaml')} [schema (sft); trl.SFTConfig]" in result.output

    spatial = yaml.safe_load((tmp_path / "spatial.yaml").read_text())
    spatial["trainer"]["learning_rat"] = 1e-5
    (tmp_path / "spatial.yaml").write_text(yaml.safe_dump(spatial))
    result = CliRunner().invoke(app, ["config", "validate", "-c", str(ladder)])
    assert isinstance(result.exception, ConfigError)
    assert str(result.exception).startswith(f"{tmp_path / 'spatial.yaml'}: trainer.learning_rat: not a field")

    ladder.write_text(yaml.safe_dump({"kind": "ladder", "spatial": "coldstart.yaml"}))
    result = CliRunner().invoke(app, ["config", "validate", "-c", str(ladder)])
    assert "sft/coldstart config, but --stage asks for spatial" in str(result.exception)


@contextmanager
def rungs_watched() -> Iterator[list[tuple[str, weakref.ref]]]:
    """Weak references to every whole model that runs a forward and every optimizer that steps, with the automatic
    garbage collector off: what only a collection frees stays alive unless the code under test collects it."""
    from torch.nn.modules.module import register_module_forward_pre_hook
    from torch.optim.optimizer import register_optimizer_step_pre_hook
    from transformers import GenerationMixin

    seen: list[tuple[str, weakref.ref]] = []
    ids: set[int] = set()

    def watch(kind: str, obj: Any) -> None:
        if id(obj) not in ids:
            ids.add(id(obj))
            seen.append((f"{kind} {type(obj).__name__}", weakref.ref(obj)))

    hooks = [
        register_module_forward_pre_hook(lambda m, a: watch("model", m) if isinstance(m, GenerationMixin) else None),
        register_optimizer_step_pre_hook(lambda o, a, k: watch("optimizer", o)),
    ]
    gc.collect()
    gc.disable()
    try:
        yield seen
    finally:
        gc.enable()
        for hook in hooks:
            hook.remove()


def alive(seen: list[tuple[str, weakref.ref]]) -> list[str]:
    return [what for what, ref in seen if ref() is not None]


@pytest.mark.parametrize("stage", ["localization", "grpo"])
def test_run_stage_returns_with_the_rungs_model_and_optimizer_freed(
    tmp_path, sft_config, grpo_cfg, tiny_model_dir, tiny_records, stage
) -> None:
    """trl binds the model's forward to the model (a cycle), so without a collection a finished rung's weights,
    and here also its optimizer state, stay in memory while the next rung loads. The result is kept: it must not
    hold them either."""
    from spatialladder.config.sft import SFTStageConfig

    if stage == "grpo":
        cfg = grpo_cfg(tiny_model_dir, tiny_records, tmp_path / "out", "trainer.max_steps=1")
    else:
        cfg = SFTStageConfig.model_validate(sft_config(stage, tmp_path / "out", {"max_steps": 1}))
    with rungs_watched() as seen:
        result = run_stage(stage, cfg)
        left = alive(seen)
    assert result.global_step == 1
    kinds = [what.split()[0] for what, _ in seen]
    assert kinds.count("model") == (2 if stage == "grpo" else 1) and kinds.count("optimizer") == 1  # policy, reference
    assert left == []


def test_the_ladder_frees_each_rung_before_the_next_one_loads(tmp_path, sft_config) -> None:
    """Checked where the ladder announces a rung, before it loads anything: no model or optimizer of an earlier
    rung is alive."""
    ladder = write_ladder(tmp_path, sft_config)
    at_start: dict[str, list[str]] = {}

    class Probe(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith(tuple(f"{s}: training" for s in STAGES)):
                at_start[record.getMessage().split(":")[0]] = alive(seen)

    probe = Probe(level=logging.INFO)
    ladder_logger = logging.getLogger("spatialladder.train.ladder")
    ladder_logger.addHandler(probe)
    level = ladder_logger.level
    ladder_logger.setLevel(logging.INFO)
    try:
        with rungs_watched() as seen:
            assert actions(train_command("all", ladder)) == ["trained"] * 3
            after = alive(seen)
    finally:
        ladder_logger.removeHandler(probe)
        ladder_logger.setLevel(level)
    assert at_start == {stage: [] for stage in STAGES}
    assert len(seen) == 6 and after == []  # a model and an optimizer per rung, all watched and all freed
