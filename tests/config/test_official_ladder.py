"""Two ladders side by side: configs/ladder.yaml (our fixes) and configs/ladder_official.yaml (the release, bugs
included). Every training switch docs/fidelity.md documents must be set to its official value in the official
ladder's rungs; the list below is cross-checked against the doc's switch columns both ways, so a new switch in the
doc (or a stale one here) fails this test until it is classified."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from spatialladder.cli import app
from spatialladder.config.load import load_config

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs"
DOC = REPO / "docs" / "fidelity.md"
SFT = ("localization", "spatial", "coldstart")
GRPO = ("grpo",)
ALL = SFT + GRPO

TRAINING_SECTIONS = ("Configuration", "Stage 3 GRPO trainer", "SFT stages 1, 2 and cold start")
"""Sections whose every row is about training."""
PROMPT_SECTION = "Prompts, metrics, rewards and evaluation"
TRAINING_ROWS_IN_PROMPT_SECTION = (
    "stage-2 options",
    "stage-3 / cold-start text",
    "SFT system message",
    "GRPO video order",
    "MRA thresholds",
    "MRA target 0",
    "MRA negative target",
    "reward numbers",
    "reward answer kind",
)
"""Rows of the shared prompts/metrics section that act on training (prompts, reward maths); the others are eval."""

OFFICIAL: dict[str, list[tuple[tuple[str, ...], str, Any]]] = {
    # doc switch -> (rungs it applies to, config path, the official value)
    "prompt_fidelity": [(ALL, "prompt_fidelity", "official")],
    "sft_system_text": [(SFT, "prompt_fidelity", "official")],
    "grpo_text_before_video": [(GRPO, "prompt_fidelity", "official")],
    "bbox_target": [(SFT, "bbox_target", "official")],
    "loss_on": [(SFT, "loss_on", "all")],
    "loss_average": [(SFT, "loss_average", "micro_batch")],
    "data.image_resize": [(ALL, "data.image_resize", "official")],
    "data.video_fps": [(ALL, "data.video_fps", 2.0)],
    "data.video_frames": [(ALL, "data.video_frames", None)],
    "model.min_pixels": [(ALL, "model.min_pixels", 12544)],
    "trainer.max_length": [(SFT, "trainer.max_length", None)],
    "trainer.train_sampling_strategy": [(SFT, "trainer.train_sampling_strategy", "random")],
    "padding_free": [(SFT, "padding_free", False)],
    "video_in_loss": [(GRPO, "video_in_loss", False)],
    "sampling.*": [
        (GRPO, "sampling.num_generations", 4),
        (GRPO, "sampling.max_completion_length", 1024),
        (GRPO, "sampling.temperature", 1.0),
        (GRPO, "sampling.top_p", 1.0),
        (GRPO, "sampling.top_k", 50),
    ],
    "rewards[].weight": [(GRPO, "rewards", [{"name": "format", "weight": 1.0}, {"name": "accuracy", "weight": 1.0}])],
    "loss_type": [(GRPO, "loss_type", "grpo")],
    "scale_rewards": [(GRPO, "scale_rewards", "group")],
    "beta": [(GRPO, "beta", 0.01)],
    "trainer.use_bias_correction_kl": [(GRPO, "trainer.use_bias_correction_kl", False)],
    "rollout": [(GRPO, "rollout", "hf")],
    "dynamic_sampling.enabled": [(GRPO, "dynamic_sampling.enabled", False)],
    # one optimizer step = 1 prompt x 4 completions (2 GPUs x 2 officially; the per-device batch follows the launch)
    "prompts_per_step": [(GRPO, "prompts_per_step", 1)],
    "trainer.gradient_accumulation_steps": [(GRPO, "trainer.gradient_accumulation_steps", 1)],
}
NOT_IN_THE_LADDER = {
    "trainer.num_train_epochs": "official 0.001 / 0.0001 epochs are smoke-test placeholders (schedule unpublished)",
    "max_steps": "as trainer.num_train_epochs",
    "data.frame_dependent": "no effect with data.video_frames: null (no record is subsampled)",
    "dynamic_sampling.max_draws": "no effect with dynamic_sampling.enabled: false (no prompt is drawn)",
    "trainer.vllm_importance_sampling_correction": "no effect with rollout: hf (no vLLM log-probs to correct)",
}
DEFAULTS = {
    "trainer.max_length": None,
    "trainer.use_bias_correction_kl": False,
    "trainer.train_sampling_strategy": "random",
}
"""Values the trainer gets when ``trainer:`` omits the key (``train/trl_args.py`` SFT_DEFAULTS / GRPO_DEFAULTS)."""


def sections() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    current = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
            out[current] = []
        elif current and line.startswith("|") and not re.match(r"^\|\s*(topic|-+)\s*\|", line):
            out[current].append(line)
    return out


def cells(row: str) -> list[str]:
    return [c.strip() for c in re.split(r"(?<!\\)\|", row.strip().strip("|"))]


def switch_keys(switch: str) -> list[str]:
    """The config keys a switch cell names: its leading backticked tokens (``a: b``, ``--set a=b``, ``f("x")``)."""
    lead = re.match(r"^((?:`[^`]+`\s*(?:,|/|or)?\s*)+)", switch)
    if not lead:
        return []
    keys = []
    for token in re.findall(r"`([^`]+)`", lead.group(1)):
        token = token.removeprefix("--set ").strip()
        keys.append(re.split(r"[:=( ]", token, maxsplit=1)[0])
    return keys


def documented_training_switches() -> dict[str, list[str]]:
    """Switch key -> the doc rows (topics) naming it, over every training row of docs/fidelity.md."""
    found: dict[str, list[str]] = {}
    doc = sections()
    for name in TRAINING_SECTIONS:
        assert name in doc, f"docs/fidelity.md lost its section {name!r}"
    topics = {cells(r)[0]: r for r in doc[PROMPT_SECTION]}
    missing = [t for t in TRAINING_ROWS_IN_PROMPT_SECTION if t not in topics]
    assert not missing, f"docs/fidelity.md rows renamed or removed: {missing}"
    rows = [r for name in TRAINING_SECTIONS for r in doc[name]]
    rows += [topics[t] for t in TRAINING_ROWS_IN_PROMPT_SECTION]
    for row in rows:
        parts = cells(row)
        for key in switch_keys(parts[-1]):
            found.setdefault(key, []).append(parts[0])
    return found


def get(cfg: Any, path: str) -> Any:
    value: Any = cfg
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part, DEFAULTS.get(path))
        else:
            value = getattr(value, part)
    if path == "rewards":
        return [{"name": r.name, "weight": r.weight} for r in value]
    return value


def rungs(ladder: str) -> dict[str, Any]:
    cfg = load_config(CONFIGS / ladder)
    return {stage: load_config(CONFIGS / rel) for stage, rel in cfg.stage_paths().items()}


def test_every_documented_training_switch_is_classified_and_none_is_stale() -> None:
    documented = documented_training_switches()
    unclassified = {k: v for k, v in documented.items() if k not in OFFICIAL and k not in NOT_IN_THE_LADDER}
    assert not unclassified, f"classify these docs/fidelity.md switches in this test: {unclassified}"
    stale = sorted(set(OFFICIAL) - set(documented))
    assert not stale, f"no longer in docs/fidelity.md's training rows: {stale}"


@pytest.mark.parametrize("switch", sorted(OFFICIAL))
def test_official_ladder_sets_every_switch_to_its_official_value(switch: str) -> None:
    official = rungs("ladder_official.yaml")
    assert set(official) == set(ALL)
    for applies_to, path, value in OFFICIAL[switch]:
        for stage in applies_to:
            assert get(official[stage], path) == value, (switch, stage, path)


def flat(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        return {k: v for key, sub in data.items() for k, v in flat(sub, f"{prefix}{key}.").items()}
    return {prefix.rstrip("."): data}


def test_the_ladders_differ_only_in_switches_and_output_folders() -> None:
    """Side by side, the two ladders train the same thing apart from the documented switches, so their scores
    measure what the fixes are worth."""
    ours, official = rungs("ladder.yaml"), rungs("ladder_official.yaml")
    switch_paths = {path for specs in OFFICIAL.values() for _, path, _ in specs} | {"data.frame_dependent"}
    for stage in ALL:
        a, b = flat(ours[stage].model_dump(mode="json")), flat(official[stage].model_dump(mode="json"))
        differ = {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)}
        assert differ - switch_paths - {"output_dir", "model.name_or_path"} == set(), stage
        assert b["output_dir"] != a["output_dir"]
    assert load_config(CONFIGS / "ladder_official.yaml").base_model == load_config(CONFIGS / "ladder.yaml").base_model


@pytest.mark.parametrize("ladder", ["ladder.yaml", "ladder_official.yaml"])
def test_config_validate_passes_on_both_ladders(ladder: str) -> None:
    result = CliRunner().invoke(app, ["config", "validate", "-c", str(CONFIGS / ladder)])
    assert result.exit_code == 0, result.output
    for stage in ALL:
        assert f"{stage}: " in result.output
    assert result.output.count("trl.SFTConfig") == 3 and result.output.count("trl.GRPOConfig") == 1
