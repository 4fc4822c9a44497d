"""Stage-3 GRPO on the tiny model: video really in the loss, mixed modalities, rewards, weights, sampling, resume."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import pytest

from spatialladder.config.grpo import GRPOStageConfig
from spatialladder.config.load import load_config
from spatialladder.errors import ConfigError
from spatialladder.models.load import load_model_and_processor
from spatialladder.train.grpo import build_trainer, run_grpo
from spatialladder.train.grpo_rows import load_grpo_rows, rows_to_dataset
from spatialladder.train.trl_args import to_grpo_args


def rows_of(records: dict[str, Path], *data_types: str) -> list[dict[str, Any]]:
    rows = load_grpo_rows([records["spatial"]], video_frames=4).rows
    return [r for r in rows if r["data_type"] in data_types]


def random_reward(completions: list[Any], **kwargs: Any) -> list[float]:
    """Varies within every group, so advantages are non-zero and the policy must move."""
    rng = random.Random(len(kwargs["prompts"]) + kwargs["trainer_state"].global_step)
    return [rng.random() for _ in completions]


def vision_grad_calls(model: Any) -> list[bool]:
    """Record, for every vision-tower forward, whether autograd was on (True only in the loss pass)."""
    calls: list[bool] = []
    model.model.visual.register_forward_hook(
        lambda module, args, out: calls.append(__import__("torch").is_grad_enabled())
    )
    return calls


def trained(cfg: GRPOStageConfig, rows: list[dict[str, Any]], rewards: list[Any], trainer_cls: Any = None) -> Any:
    loaded = load_model_and_processor(cfg.model, for_training=True)
    calls = vision_grad_calls(loaded.model)
    before = {n: p.detach().clone() for n, p in loaded.model.named_parameters()}
    trainer = build_trainer(cfg, to_grpo_args(cfg), loaded, rows_to_dataset(rows), rewards)
    if trainer_cls is not None:
        trainer.__class__ = trainer_cls
    trainer.train()
    changed = {n for n, p in loaded.model.named_parameters() if not bool((p.detach() == before[n]).all())}
    return trainer, calls, changed


def test_video_rows_put_the_vision_tower_in_the_loss_pass(grpo_cfg, tiny_model_dir, tiny_records, tmp_path) -> None:
    cfg = grpo_cfg(tiny_model_dir, tiny_records, tmp_path, "prompts_per_step=1")
    trainer, calls, changed = trained(cfg, rows_of(tiny_records, "video"), [random_reward])
    assert calls == [False, True, False, True]  # per step: one rollout (no grad), one loss forward (grad)
    assert any(n.startswith("model.visual.") for n in changed)
    assert trainer.state.global_step == 2


def test_plain_trl_leaves_the_video_out_of_the_loss(grpo_cfg, tiny_model_dir, tiny_records, tmp_path) -> None:
    """The gap this project closes: trl 1.16 alone generates with the video but scores without it."""
    from trl import GRPOTrainer

    from spatialladder.train.video_grpo import VIDEO_COLUMN, VideoGRPOTrainer, with_video_part

    class TrlOnly(VideoGRPOTrainer):
        def _generate_and_score_completions(self, inputs):  # video inline in the prompt, then trl's own scoring
            inputs = [{**x, "prompt": with_video_part(x["prompt"], x[VIDEO_COLUMN])} for x in inputs]
            return GRPOTrainer._generate_and_score_completions(self, inputs)

    cfg = grpo_cfg(tiny_model_dir, tiny_records, tmp_path, "prompts_per_step=1", "beta=0")
    _, calls, changed = trained(cfg, rows_of(tiny_records, "video"), [random_reward], TrlOnly)
    assert calls == [False, False]  # rollouts saw the video; the loss never did
    assert not any(n.startswith("model.visual.") for n in changed)


def test_video_in_loss_false_reproduces_the_official_gap(grpo_cfg, tiny_model_dir, tiny_records, tmp_path) -> None:
    """The official-ladder switch: rollouts with the video, policy and reference log-probs without it (§5.5)."""
    cfg = grpo_cfg(tiny_model_dir, tiny_records, tmp_path, "prompts_per_step=1", "video_in_loss=false")
    trainer, calls, changed = trained(cfg, rows_of(tiny_records, "video"), [random_reward])
    assert calls == [False, False]  # the vision tower ran for the two rollouts only, never with grad (β > 0 here)
    assert changed and not any(n.startswith("model.visual.") for n in changed)
    assert trainer.state.global_step == 2


@pytest.mark.parametrize("mode, grid", [("once", [1, 18, 26]), ("official", [1, 18, 24])])
def test_image_resize_official_pre_resizes_images_like_the_official_trainer(
    grpo_cfg, tiny_model_dir, tmp_path, mode, grid
) -> None:
    """1296×968 at 100,352 px: one processor resize gives 252×364 (18×26 patches); qwen-vl-utils' fetch_image first
    (980×1288, as the official trainer's process_vision_info), then the processor, gives 252×336 (18×24)."""
    from PIL import Image

    from spatialladder.train.grpo_rows import record_to_row

    Image.new("RGB", (1296, 968), (90, 120, 150)).save(tmp_path / "frame.jpg")
    record = {"question": "How far?", "options": None, "answer": "2", "image": ["frame.jpg"],
              "question_type": "absolute distance", "data_type": "single_image"}  # fmt: skip
    records = {"spatial": tmp_path / "unused.jsonl"}
    cfg = grpo_cfg(tiny_model_dir, records, tmp_path / "out", "prompts_per_step=1",
                   "trainer.max_steps=1", "model.max_pixels=100352", "model.min_pixels=12544",
                   f"data.image_resize={mode}")  # fmt: skip
    loaded = load_model_and_processor(cfg.model, for_training=True)
    grids: list[list[int]] = []
    loaded.model.model.visual.register_forward_hook(
        lambda module, args, kwargs, out: grids.extend(
            kwargs.get("grid_thw", args[1] if len(args) > 1 else None).tolist()
        ),
        with_kwargs=True,
    )
    rows = [record_to_row(record, tmp_path)]
    trainer = build_trainer(cfg, to_grpo_args(cfg), loaded, rows_to_dataset(rows), [random_reward])
    trainer.train()
    assert len(grids) >= 2 and all(g == grid for g in grids)  # rollout and loss pass alike


def test_without_video_in_loss_the_forward_reads_video_pads_as_text(tiny_model_dir) -> None:
    """What each log-prob forward gets: no video tensors, video pads typed 0, transformers 4.49's text positions
    (cumsum(mask) - 1, 1 on padding) when no image grid is left."""
    import torch

    from spatialladder.models.families import family_named
    from spatialladder.train.video_grpo import VideoGRPOTrainer

    trainer = VideoGRPOTrainer.__new__(VideoGRPOTrainer)
    trainer._image_token_id, trainer._video_token_id, trainer.video_in_loss = 7, 9, False
    trainer.family = family_named("qwen2.5-vl")  # set by __init__ from the model config
    row = {"pixel_values_videos": torch.ones(4, 3), "video_grid_thw": torch.tensor([[1, 2, 2]])}
    ids = torch.tensor([[0, 5, 9, 9, 9, 9, 6, 1], [5, 9, 9, 9, 9, 6, 1, 2]])
    mask = torch.tensor([[0, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 0]])
    out = trainer._chunk_vision([row, row], ids, mask)
    assert set(out) == {"mm_token_type_ids", "position_ids"}
    assert not out["mm_token_type_ids"].any()
    expected = [[1, 0, 1, 2, 3, 4, 5, 6], [0, 1, 2, 3, 4, 5, 6, 1]]
    assert out["position_ids"].shape == (3, 2, 8) and all(p.tolist() == expected for p in out["position_ids"])
    trainer.video_in_loss = True
    out = trainer._chunk_vision([row, row], ids, mask)
    assert out["video_grid_thw"].tolist() == [[1, 2, 2]] * 2 and "position_ids" not in out
    assert out["mm_token_type_ids"].tolist()[0] == [0, 0, 2, 2, 2, 2, 0, 0]


def test_mixed_batch_trains_and_rewards_get_answer_columns(grpo_cfg, tiny_model_dir, tiny_records, tmp_path) -> None:
    seen: dict[str, list[Any]] = {}

    def recording_reward(completions: list[Any], **kwargs: Any) -> list[float]:
        for key in ("solution", "answer_kind", "question_type", "data_type"):
            seen.setdefault(key, []).extend(kwargs[key])
        return random_reward(completions, **kwargs)

    cfg = grpo_cfg(tiny_model_dir, tiny_records, tmp_path, "prompts_per_step=3", "trainer.max_steps=1")
    rows = rows_of(tiny_records, "single_image", "multi_view", "video")[:3]  # one of each, one step
    trainer, calls, changed = trained(cfg, rows, [recording_reward])
    assert sorted(set(seen["data_type"])) == ["multi_view", "single_image", "video"]
    assert sorted(zip(seen["data_type"], seen["solution"], seen["answer_kind"], seen["question_type"], strict=True))[
        ::4
    ] == [
        ("multi_view", "1", "na", "object count"),
        ("single_image", "A", "mca", "relative distance"),
        ("video", "10", "na", "room size"),
    ]
    assert calls.count(True) == 2  # the loss forward encodes the images and the video
    assert any(n.startswith("model.visual.") for n in changed)


def test_reward_weights_are_applied(grpo_cfg, tiny_model_dir, tiny_records, tmp_path) -> None:
    def one(completions: list[Any], **kwargs: Any) -> list[float]:
        return [1.0] * len(completions)

    def three(completions: list[Any], **kwargs: Any) -> list[float]:
        return [3.0] * len(completions)

    cfg = grpo_cfg(
        tiny_model_dir,
        tiny_records,
        tmp_path,
        "rewards=[{name: format, weight: 2.0}, {name: accuracy, weight: 0.5}]",
        "trainer.max_steps=1",
    )
    trainer, _, _ = trained(cfg, rows_of(tiny_records, "single_image"), [one, three])
    log = trainer.state.log_history[0]
    assert (log["rewards/one/mean"], log["rewards/three/mean"]) == (1.0, 3.0)
    assert log["reward"] == pytest.approx(2.0 * 1.0 + 0.5 * 3.0)


def test_sampling_settings_reach_the_generation_config(grpo_cfg, tiny_model_dir, tiny_records, tmp_path) -> None:
    cfg = grpo_cfg(
        tiny_model_dir,
        tiny_records,
        tmp_path,
        "sampling.temperature=0.7",
        "sampling.top_p=0.9",
        "sampling.top_k=5",
        "loss_type=dapo",
        "epsilon=0.3",
        "rewards=[{name: format}, {name: accuracy}]",
    )
    loaded = load_model_and_processor(cfg.model, for_training=True)
    trainer = build_trainer(cfg, to_grpo_args(cfg), loaded, rows_to_dataset(rows_of(tiny_records, "video")))
    gen = trainer.generation_config
    assert (gen.temperature, gen.top_p, gen.top_k, gen.max_new_tokens, gen.do_sample) == (0.7, 0.9, 5, 8, True)
    assert loaded.model.config.video_token_id in gen.suppress_tokens
    assert loaded.model.config.image_token_id in gen.suppress_tokens
    assert (trainer.loss_type, trainer.epsilon_low, trainer.beta, trainer.num_generations) == ("dapo", 0.3, 0.01, 4)
    assert [f.__name__ for f in trainer.reward_funcs] == ["format", "accuracy"]


def test_run_grpo_logs_saves_and_resumes(grpo_cfg, tiny_model_dir, tiny_records, tmp_path) -> None:
    out = tmp_path / "stage3"
    cfg = grpo_cfg(
        tiny_model_dir,
        tiny_records,
        out,
        "trainer.save_strategy=steps",
        "trainer.save_steps=1",
        "rewards=[{name: format}, {name: accuracy}]",
    )
    result = run_grpo(cfg)
    assert result.global_step == 2 and result.rows == {"single_image": 4, "multi_view": 4, "video": 4}
    first = result.log_history[0]
    for key in ("rewards/format/mean", "rewards/accuracy/mean", "rewards/format/std", "kl", "completions/mean_length"):
        assert key in first
    assert 0.0 <= first["rewards/format/mean"] <= 1.0 and 0.0 <= first["rewards/accuracy/mean"] <= 1.0
    for name in (
        "model.safetensors",
        "processor_config.json",
        "config.resolved.yaml",
        "README.md",
        "curve_kl.png",
        "curve_reward.png",
        "curve_rewards_format_mean.png",
        "curve_rewards_accuracy_mean.png",
        "train_log.jsonl",
    ):
        assert (out / name).is_file(), name
    logged = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in logged if "loss" in e] == [1, 2] and "kl" in logged[0]
    # A run killed after step 1: only checkpoint-1 survives. Rerunning the same config resumes by itself at step 2.
    shutil.rmtree(out / "checkpoint-2")
    resumed = run_grpo(cfg)
    assert resumed.resumed_from == str(out / "checkpoint-1")
    assert [e["step"] for e in resumed.log_history if "loss" in e] == [1, 2]
    assert resumed.global_step == 2


def test_checkpoints_of_another_config_are_refused_and_no_resume_starts_over(
    grpo_cfg, tiny_model_dir, tiny_records, tmp_path
) -> None:
    """The resume policy SFT has: a folder holding another config's checkpoints is refused (one line naming the
    folder and what to do), ``--resume`` needs a checkpoint, ``--no-resume`` trains from step 0 and first removes
    the old checkpoints so no later resume can pick one up."""
    from spatialladder.config.load import save_resolved

    out = tmp_path / "stage3"
    earlier = grpo_cfg(tiny_model_dir, tiny_records, out, "trainer.learning_rate=0.5")
    cfg = grpo_cfg(tiny_model_dir, tiny_records, out)
    with pytest.raises(ConfigError, match="--resume: no checkpoint-\\* folder in output_dir"):
        run_grpo(cfg, resume=True)
    save_resolved(earlier, out)
    (out / "checkpoint-3").mkdir()
    with pytest.raises(ConfigError) as refused:
        run_grpo(cfg)
    message = str(refused.value)
    assert f"output_dir {out} holds checkpoint-3 from a different config" in message and "\n" not in message
    assert "pass --resume to continue it anyway, --no-resume to start over" in message
    (out / "config.resolved.yaml").unlink()  # checkpoints nothing says the origin of are not resumed either
    with pytest.raises(ConfigError, match="holds checkpoint-3 but no config.resolved.yaml"):
        run_grpo(cfg)

    fresh = run_grpo(cfg, resume=False)
    assert fresh.resumed_from is None and fresh.global_step == 2
    assert not (out / "checkpoint-3").exists()
    assert load_config(out / "config.resolved.yaml").model_dump() == cfg.model_dump()


def test_resume_starts_from_the_checkpoint_weights_and_ends_as_uninterrupted(
    grpo_cfg, tiny_model_dir, tiny_records, tmp_path
) -> None:
    """transformers 5's Trainer reloads a plain model's checkpoint with a key-name-blind ``load_state_dict`` that
    keeps the starting weights; the resumed run must start from the checkpoint and end where an uninterrupted one
    does (generation sampling is reproducible: the checkpoint restores the RNG state)."""
    import torch
    from safetensors.torch import load_file

    from spatialladder.train.checkpoints import load_for_training

    out = tmp_path / "stage3"
    cfg = grpo_cfg(
        tiny_model_dir,
        tiny_records,
        out,
        "trainer.max_steps=4",
        "trainer.save_strategy=steps",
        "trainer.save_steps=2",
        "trainer.lr_scheduler_type=constant",
    )
    run_grpo(cfg, reward_funcs=[random_reward])
    uninterrupted = load_file(str(out / "model.safetensors"))
    shutil.rmtree(out / "checkpoint-4")  # killed after step 2
    ckpt = out / "checkpoint-2"

    loaded = load_for_training(cfg.model, str(ckpt))
    loaded.model.save_pretrained(tmp_path / "reloaded")
    saved, reloaded = (
        load_file(str(ckpt / "model.safetensors")),
        load_file(str(tmp_path / "reloaded/model.safetensors")),
    )
    assert saved.keys() == reloaded.keys() and all(torch.equal(saved[k], reloaded[k]) for k in saved)
    assert loaded.model.config.name_or_path == str(tiny_model_dir)  # trl's reference model: the stage's start

    resumed = run_grpo(cfg, resume=True, reward_funcs=[random_reward])
    assert resumed.resumed_from == str(ckpt) and resumed.global_step == 4
    final = load_file(str(out / "model.safetensors"))
    initial = load_file(str(tiny_model_dir / "model.safetensors"))
    assert any(not torch.equal(saved[k], initial[k]) for k in saved)  # the first leg moved the weights
    assert all(torch.allclose(final[k], uninterrupted[k], atol=1e-5) for k in final)


def test_video_timing_reaching_the_model_is_declared_at_the_config_fps(
    grpo_cfg, tiny_model_dir, tiny_records, tmp_path
) -> None:
    """A 4-frame list at data.video_fps 2.0 → second_per_grid_ts 2 / 2 = 1.0 in the rollout and in the loss pass
    (transformers 5 would assume 24 fps: 0.083); 4.0 fps → 0.5, so the setting is what decides it."""
    import torch

    def timings(fps: str) -> tuple[set[float], set[float]]:
        cfg = grpo_cfg(
            tiny_model_dir, tiny_records, tmp_path / fps, "trainer.max_steps=1", f"data.video_fps={fps}", "beta=0"
        )
        loaded = load_model_and_processor(cfg.model, for_training=True)
        seen: dict[bool, set[float]] = {False: set(), True: set()}
        rope_index = loaded.model.model.get_rope_index  # where second_per_grid_ts becomes temporal positions

        def spy(*args: Any, **kwargs: Any) -> Any:
            ts = kwargs.get("second_per_grid_ts")
            if kwargs.get("video_grid_thw") is not None:
                assert ts is not None and len(ts) == len(kwargs["video_grid_thw"])
                seen[torch.is_grad_enabled()].update(round(float(t), 4) for t in ts)
            return rope_index(*args, **kwargs)

        loaded.model.model.get_rope_index = spy  # a spy on this one test object, not a patch of the class
        rows = rows_of(tiny_records, "video")
        trainer = build_trainer(cfg, to_grpo_args(cfg), loaded, rows_to_dataset(rows), [random_reward])
        trainer.train()
        return seen[False], seen[True]

    assert timings("2.0") == ({1.0}, {1.0})  # (generation and old-policy passes, loss pass)
    assert timings("4.0") == ({0.5}, {0.5})


def test_stage3_from_a_lora_rung_takes_the_merged_start_as_kl_reference(
    grpo_cfg, tiny_model_dir, tiny_records, sft_config, tmp_path
) -> None:
    """The loader merges a LoRA rung's adapter into its base; trl rebuilds the reference from
    ``config._name_or_path``, which must then load to the merged start, not to the bare base model."""
    import torch

    from spatialladder.config.load import validate_mapping
    from spatialladder.config.sft import SFTStageConfig
    from spatialladder.train.checkpoints import load_for_training
    from spatialladder.train.grpo import REFERENCE_DIR, pin_reference
    from spatialladder.train.sft import run_sft

    lora_dir = tmp_path / "lora-rung"
    run_sft(validate_mapping(sft_config("coldstart", lora_dir, model={"lora": {"r": 4, "alpha": 8}}), SFTStageConfig))
    out = tmp_path / "stage3"
    cfg = grpo_cfg(lora_dir, tiny_records, out, "trainer.max_steps=1")
    assert cfg.beta > 0 and cfg.model.lora is None
    merged = {k: v.clone() for k, v in load_model_and_processor(cfg.model).model.state_dict().items()}
    base = load_model_and_processor(cfg.model.model_copy(update={"name_or_path": str(tiny_model_dir)})).model
    base = base.state_dict()
    assert base.keys() == merged.keys() and any(not torch.equal(merged[k], base[k]) for k in base)  # LoRA moved it

    loaded = load_for_training(cfg.model, None)
    assert all(p.requires_grad for p in loaded.model.parameters())  # merged, the whole model trains again
    assert pin_reference(cfg, loaded, None, out) == out / REFERENCE_DIR
    trainer = build_trainer(cfg, to_grpo_args(cfg), loaded, rows_to_dataset(rows_of(tiny_records, "single_image")))
    ref = trainer.ref_model.state_dict()
    assert ref.keys() == merged.keys() and all(torch.equal(ref[k], merged[k]) for k in merged)

    result = run_grpo(cfg, reward_funcs=[random_reward])  # the whole stage: the helper folder is gone afterwards
    assert result.global_step == 1 and not (out / REFERENCE_DIR).exists()
    assert result.log_history[0]["kl"] == pytest.approx(0.0, abs=1e-7)  # step 1: policy == reference


def test_no_extra_reference_folder_without_kl_or_after_a_full_rung(
    grpo_cfg, tiny_model_dir, tiny_records, tmp_path
) -> None:
    from spatialladder.train.checkpoints import load_for_training
    from spatialladder.train.grpo import pin_reference

    cfg = grpo_cfg(tiny_model_dir, tiny_records, tmp_path)
    loaded = load_for_training(cfg.model, None)
    assert pin_reference(cfg, loaded, None, tmp_path) is None
    assert loaded.model.config._name_or_path == str(tiny_model_dir)
    assert list(tmp_path.iterdir()) == []


def test_only_the_main_process_writes_before_the_trainer_exists(grpo_cfg, tiny_records, tmp_path, monkeypatch) -> None:
    """Under torchrun every process runs run_grpo; ranks other than 0 must not race on the output folder."""
    from spatialladder.errors import ModelLoadError

    missing = tmp_path / "no-such-model"  # fails right after the resolved config would be written
    for rank, written in (("1", False), ("0", True)):
        out = tmp_path / f"rank{rank}"
        monkeypatch.setenv("RANK", rank)
        with pytest.raises(ModelLoadError, match="does not exist"):
            run_grpo(grpo_cfg(missing, tiny_records, out))
        assert (out / "config.resolved.yaml").is_file() is written
        assert out.exists() is written


def test_image_batches_of_prompts_of_different_lengths_keep_token_types_on_their_pads(
    grpo_cfg, tiny_model_dir, tiny_records, tmp_path
) -> None:
    """A 1-image and an 8-image prompt in one batch: generation pads them on the left, and trl's forward inputs for
    image batches come from a second processor call; its ``mm_token_type_ids`` must mark exactly the ids' image pads
    (with Qwen's default right padding they were shifted, and the rope index of the log-prob pass read other rows'
    grids, or failed outright on the demo's stage 3)."""
    import torch

    rows = {r["question_id"]: r for r in load_grpo_rows([tiny_records["spatial"]]).rows}
    cfg = grpo_cfg(tiny_model_dir, tiny_records, tmp_path, "prompts_per_step=2")
    loaded = load_model_and_processor(cfg.model, for_training=True)
    trainer = build_trainer(cfg, to_grpo_args(cfg), loaded, rows_to_dataset([rows["100"], rows["200"]]), None)
    batch = [dict(row) for row in (rows["100"], rows["200"]) for _ in range(4)]
    out = trainer._generate_and_score_completions(batch)
    ids = torch.cat([out["prompt_ids"], out["completion_ids"]], dim=1)
    pads = ids == loaded.model.config.image_token_id
    assert int(pads.sum()) > 0 and out["prompt_mask"].sum(1).unique().numel() == 2  # two prompt lengths
    assert torch.equal(out["mm_token_type_ids"] == 1, pads)
