"""GRPO group accounting and DAPO dynamic sampling: hand-computed zero-variance shares, kept groups, counts, cap."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import torch
from trl import GRPOTrainer

from spatialladder.config.grpo import GRPOStageConfig
from spatialladder.models.load import load_model_and_processor
from spatialladder.train.grpo import build_trainer, group_summary, write_grpo_artifacts
from spatialladder.train.grpo_groups import GroupTally, choose_groups, zero_variance_groups
from spatialladder.train.grpo_rows import load_grpo_rows, rows_to_dataset
from spatialladder.train.trl_args import to_grpo_args
from spatialladder.train.video_grpo import VideoGRPOTrainer

G = 4


class KeyedReward:
    """Constant on the prompts in ``constant`` (a zero-variance group), 0,1,2,3 over a group elsewhere; records the
    (step, question_id) of every group it scores (screening calls only: replayed batches are not scored again)."""

    __name__ = "keyed"

    def __init__(self, constant: set[str]):
        self.constant = constant
        self.scored: list[tuple[int, str]] = []

    def __call__(self, completions: list[Any], question_id: list[str], trainer_state: Any, **_: Any) -> list[float]:
        assert len(completions) % G == 0
        self.scored += [(trainer_state.global_step, q) for q in question_id[::G]]
        return [1.0 if q in self.constant else float(i % G) for i, q in enumerate(question_id)]


def rows_by_id(records: dict[str, Path], ids: list[str]) -> list[dict[str, Any]]:
    rows = {r["question_id"]: r for r in load_grpo_rows([records["spatial"]], video_frames=4).rows}
    return [rows[i] for i in ids]


def train(cfg: GRPOStageConfig, rows: list[dict[str, Any]], reward: Any, trainer_cls: Any = None) -> Any:
    loaded = load_model_and_processor(cfg.model, for_training=True)
    trainer = build_trainer(cfg, to_grpo_args(cfg), loaded, rows_to_dataset(rows), [reward])
    if trainer_cls is not None:
        trainer.__class__ = trainer_cls
    outputs: list[dict[str, Any]] = []
    score = trainer._generate_and_score_completions
    trainer._generate_and_score_completions = lambda inputs: outputs.append(score(inputs)) or outputs[-1]
    trainer.train()
    trainer.batches = outputs  # each training batch as scored, before trl shuffles it
    return trainer


def weights_hash(model: Any) -> str:
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().numpy().tobytes())
    return h.hexdigest()


def test_zero_variance_flags_follow_the_weighted_sum_as_trl() -> None:
    nan = float("nan")
    scores = torch.tensor(
        [
            [1.0, 0.0],  # group 0: format varies, accuracy varies inversely -> weighted sum 1,1 (w 1,1)
            [0.0, 1.0],
            [1.0, 1.0],  # group 1: all 2 -> zero
            [1.0, 1.0],
            [1.0, 0.0],  # group 2: 1, then unscorable (both None) -> one scorable value: nanstd is nan, not zero
            [nan, nan],
        ]
    )
    assert zero_variance_groups(scores, torch.tensor([1.0, 1.0]), 2) == [True, True, False]
    assert zero_variance_groups(scores, torch.tensor([2.0, 1.0]), 2) == [False, True, False]
    with pytest.raises(RuntimeError, match="do not split into groups of 4"):
        zero_variance_groups(scores, torch.tensor([1.0, 1.0]), 4)


def test_tally_shares_and_choice_of_groups() -> None:
    tally = GroupTally()
    tally.add(["video", "video", "single_image", "multi_view"], [True, False, True, True])
    tally.add(["video"], [True])
    metrics: dict[str, list[float]] = {
        k: []
        for k in ("groups/zero_variance",)
        + tuple(f"groups/zero_variance/{k}" for k in ("single_image", "multi_view", "video"))
    }
    tally.flush(metrics)
    assert metrics == {
        "groups/zero_variance": [4 / 5],
        "groups/zero_variance/single_image": [1.0],
        "groups/zero_variance/multi_view": [1.0],
        "groups/zero_variance/video": [2 / 3],
    }
    assert tally.shares() == {}  # flushed
    # informative first in draw order (surplus dropped), zero-variance ones only to fill a batch that hit the cap
    assert choose_groups([True, False, False, True, False], 2) == [1, 2]
    assert choose_groups([True, False, True, True], 3) == [0, 1, 2]


def test_logged_zero_variance_shares_equal_the_hand_computed_ones(
    grpo_cfg, tiny_model_dir, tiny_records, tmp_path
) -> None:
    """Six prompts, one batch: constant rewards on 100 (single image), 300 and 301 (video) → 3 of 6 groups overall,
    1 of 2 single-image, 0 of 2 multi-view, 2 of 2 video; the model card says so."""
    reward = KeyedReward({"100", "300", "301"})
    cfg = grpo_cfg(tiny_model_dir, tiny_records, tmp_path, "prompts_per_step=6", "trainer.max_steps=1")
    rows = rows_by_id(tiny_records, ["100", "101", "200", "201", "300", "301"])
    trainer = train(cfg, rows, reward)
    assert sorted(q for _, q in reward.scored) == ["100", "101", "200", "201", "300", "301"]
    log = trainer.state.log_history[0]
    assert log["groups/zero_variance"] == 0.5
    assert log["groups/zero_variance/single_image"] == 0.5
    assert log["groups/zero_variance/multi_view"] == 0.0
    assert log["groups/zero_variance/video"] == 1.0
    assert log["frac_reward_zero_std"] == 0.5  # trl's own count agrees
    assert not any(k.startswith("dynamic_sampling/") for k in log)
    assert group_summary(cfg, trainer.state.log_history)[0] == (
        "groups with zero reward variance (mean over logged steps): 50.0% "
        "(single_image 50.0%, multi_view 0.0%, video 100.0%)"
    )
    write_grpo_artifacts(cfg, trainer, {"single_image": 2, "multi_view": 2, "video": 2}, str(tiny_model_dir))
    card = (tmp_path / "README.md").read_text()
    assert "zero reward variance (mean over logged steps): 50.0%" in card and "dynamic sampling: off" in card
    assert (tmp_path / "curve_groups_zero_variance.png").is_file()
    assert '"groups/zero_variance/video": 1.0' in (tmp_path / "train_log.jsonl").read_text()


def test_dynamic_sampling_keeps_only_varying_groups_and_logs_its_draws(
    grpo_cfg, tiny_model_dir, tiny_records, tmp_path
) -> None:
    constant = {"100", "101", "200", "300", "301", "302"}  # half of the 12 prompts give zero-variance groups
    reward = KeyedReward(constant)
    cfg = grpo_cfg(
        tiny_model_dir,
        tiny_records,
        tmp_path,
        "trainer.max_steps=3",
        "dynamic_sampling={enabled: true, max_draws: 3}",
    )
    rows = load_grpo_rows([tiny_records["spatial"]], video_frames=4).rows
    trainer = train(cfg, rows, reward)
    assert len(trainer.batches) == 3
    for step, (batch, log) in enumerate(zip(trainer.batches, trainer.state.log_history, strict=False)):
        screened = [q for s, q in reward.scored if s == step]
        zero = sum(q in constant for q in screened)
        assert len(screened) % 2 == 0 and len(screened) <= 2 * (1 + 3)  # the cap: trl's 2 prompts + 3 draws of 2
        assert log["dynamic_sampling/prompts_drawn"] == len(screened) - 2
        assert log["groups/zero_variance"] == zero / len(screened)  # over every group screened for the batch
        assert log["dynamic_sampling/hit_cap"] == 0.0  # these seeds find 2 varying groups within 3 draws
        assert log["dynamic_sampling/zero_variance_dropped"] == zero
        assert log["dynamic_sampling/zero_variance_kept"] == 0.0
        assert log["frac_reward_zero_std"] == 0.0  # trl's count on the batch it trained on
        advantages = batch["advantages"].view(-1, G)
        assert batch["advantages"].numel() == 8 and bool((advantages.abs().sum(dim=1) > 0).all())
    drawn = [log["dynamic_sampling/prompts_drawn"] for log in trainer.state.log_history if "loss" in log]
    assert sum(drawn) > 0  # some batches needed further prompts
    card = "\n".join(group_summary(cfg, trainer.state.log_history))
    assert f"{sum(drawn):g} further prompts drawn" in card and "hit the cap: 0.0%" in card


def test_dynamic_sampling_stops_at_the_cap_and_fills_with_zero_variance_groups(
    grpo_cfg, tiny_model_dir, tiny_records, tmp_path
) -> None:
    reward = KeyedReward({r["question_id"] for r in load_grpo_rows([tiny_records["spatial"]]).rows})  # all constant
    cfg = grpo_cfg(
        tiny_model_dir,
        tiny_records,
        tmp_path,
        "trainer.max_steps=2",
        "dynamic_sampling={enabled: true, max_draws: 2}",
    )
    trainer = train(cfg, load_grpo_rows([tiny_records["spatial"]], video_frames=4).rows, reward)
    for step in (0, 1):
        assert len([q for s, q in reward.scored if s == step]) == 2 * (1 + 2)  # trl's batch and exactly 2 draws
    for log in trainer.state.log_history[:2]:
        assert log["dynamic_sampling/hit_cap"] == 1.0
        assert log["dynamic_sampling/prompts_drawn"] == 4.0
        assert (log["dynamic_sampling/zero_variance_kept"], log["dynamic_sampling/zero_variance_dropped"]) == (2.0, 4.0)
        assert log["groups/zero_variance"] == 1.0 and log["frac_reward_zero_std"] == 1.0
        assert torch.isfinite(torch.tensor(log["loss"]))
    assert all(bool((b["advantages"] == 0).all()) for b in trainer.batches)


class BeforeAccounting(VideoGRPOTrainer):
    """The trainer as it was before group accounting: trl's own reward computation."""

    _calculate_rewards = GRPOTrainer._calculate_rewards


def varying(completions: list[Any], **_: Any) -> list[float]:
    return [float(len(c[0]["content"]) % 3) + 0.25 * (i % G) for i, c in enumerate(completions)]


def test_accounting_and_dynamic_sampling_off_leave_training_unchanged(
    grpo_cfg, tiny_model_dir, tiny_records, tmp_path
) -> None:
    """Same seed, same weights as the code path without accounting; and with dynamic sampling on but every group
    informative (nothing to drop), screening and replay train to the same weights too."""
    rows = load_grpo_rows([tiny_records["spatial"]], video_frames=4).rows
    cfg = grpo_cfg(tiny_model_dir, tiny_records, tmp_path / "a")
    assert cfg.dynamic_sampling.enabled is False
    ours = train(cfg, rows, varying)
    before = train(grpo_cfg(tiny_model_dir, tiny_records, tmp_path / "b"), rows, varying, BeforeAccounting)
    replayed = train(
        grpo_cfg(tiny_model_dir, tiny_records, tmp_path / "c", "dynamic_sampling.enabled=true"), rows, varying
    )
    assert weights_hash(ours.model) == weights_hash(before.model) == weights_hash(replayed.model)
    assert "groups/zero_variance" in ours.state.log_history[0]
    assert "groups/zero_variance" not in before.state.log_history[0]
    assert replayed.state.log_history[0]["dynamic_sampling/prompts_drawn"] == 0.0
