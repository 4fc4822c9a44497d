"""Qwen3.5 meets its chat template: the empty think block is prompt, our targets (CoT format included) follow it.

One rule for SFT, GRPO and eval (docs/fidelity.md, "Qwen3.5"): prompts are rendered with ``enable_thinking=False``,
so they end ``<|im_start|>assistant\\n<think>\\n\\n</think>\\n\\n``; SFT supervises exactly what follows (the target and
``<|im_end|>\\n``); a GRPO completion has the same shape, so the format reward keeps the official regex. And
``padding_free`` is refused: packed rows leak into each other in the Gated DeltaNet layers.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path
from typing import Any

import pytest

from spatialladder.config.base import ModelSettings
from spatialladder.data.cot import solution_answer
from spatialladder.errors import ConfigError
from spatialladder.models.families import family_named
from spatialladder.prompts import eval_user_text
from spatialladder.records import read_training_records
from spatialladder.rewards import accuracy_reward, format_reward
from spatialladder.train.collator import VisionSFTCollator, training_chat_template
from spatialladder.train.sft_rows import SFTRows, SFTSample, sft_sample
from spatialladder.train.trl_args import check_padding_free_runtime, set_family_chat_template_kwargs

QWEN3_5 = family_named("qwen3.5")
NO_THINK_TAIL = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
PIXELS = {"min_pixels": 32 * 32, "max_pixels": 32 * 32 * 16}  # one to 16 Qwen3.5 tokens (factor 32)


@pytest.fixture(scope="module")
def qwen3_5_dir(tiny_family_dirs: dict[str, Path]) -> Path:
    return tiny_family_dirs["qwen3.5"]


def processor(model_dir: Path, template: str | None = None) -> Any:
    """The tiny Qwen3.5's processor (the no-think template of 0.8B/2B); ``think``: the ≥ 4B models' template."""
    from spatialladder.models.load import load_processor

    proc = load_processor(str(model_dir), ModelSettings(name_or_path=str(model_dir), **PIXELS), QWEN3_5)
    if template == "think":
        from trl.chat_template_utils import qwen3_5_think_chat_template

        proc.chat_template = qwen3_5_think_chat_template
    return proc


def samples(records: dict[str, Path], stage: str) -> list[SFTSample]:
    from spatialladder.config.sft import SFTDataSettings

    file = records[{"spatial": "spatial", "coldstart": "coldstart"}[stage]]
    data = SFTDataSettings(files=[str(file)])
    return [sft_sample(r, stage, file.parent / "images", data, "fixed", w) for w, r in read_training_records(file)]


def split(batch: Any, tokenizer: Any) -> tuple[list[int], str]:
    """(the ids before the first supervised token, the supervised text) of row 0."""
    ids, labels = batch["input_ids"][0], batch["labels"][0]
    first = int((labels != -100).nonzero()[0])
    assert bool((labels[first:] != -100).all()), "one supervised span, at the end"
    return ids[:first].tolist(), tokenizer.decode(ids[first:])


def generation_prompt_ids(proc: Any, row: dict[str, Any]) -> list[int]:
    """The row's user turn rendered as at rollout and eval: ``add_generation_prompt`` with the family's flags."""
    from trl.data_utils import prepare_multimodal_messages

    user = [m for m in prepare_multimodal_messages(row["messages"], images=row["images"]) if m["role"] != "assistant"]
    out = proc.apply_chat_template(
        user, add_generation_prompt=True, tokenize=True, return_dict=True, **QWEN3_5.chat_template_kwargs
    )
    return list(out["input_ids"][0])


def test_the_family_renders_every_prompt_without_thinking() -> None:
    assert QWEN3_5.thinks and QWEN3_5.chat_template_kwargs == {"enable_thinking": False}
    assert family_named("qwen2.5-vl").chat_template_kwargs == family_named("qwen3-vl").chat_template_kwargs == {}


@pytest.mark.parametrize("template", ["nothink", "think"])
def test_released_templates_differ_only_in_the_default_generation_prompt(qwen3_5_dir, template) -> None:
    """trl/chat_templates/README.md: the 0.8B/2B and ≥ 4B templates differ only in ``enable_thinking``'s default, so
    rendering with the family's flag gives every size the same prompt tail."""
    proc = processor(qwen3_5_dir, template)
    user = [{"role": "user", "content": [{"type": "text", "text": "Q?"}]}]
    default = proc.apply_chat_template(user, add_generation_prompt=True, tokenize=False)
    ours = proc.apply_chat_template(user, add_generation_prompt=True, tokenize=False, **QWEN3_5.chat_template_kwargs)
    assert ours == "<|im_start|>user\nQ?" + NO_THINK_TAIL
    thinking = "<|im_start|>user\nQ?<|im_end|>\n<|im_start|>assistant\n<think>\n"
    assert default == (ours if template == "nothink" else thinking)


@pytest.mark.parametrize("template", ["nothink", "think"])
@pytest.mark.parametrize("stage, index", [("spatial", 0), ("spatial", 1), ("coldstart", 0)])
def test_sft_supervises_exactly_the_target_after_the_generation_prompt(
    qwen3_5_dir, tiny_records, template, stage, index
) -> None:
    """Stage 2 (single image, multi-view) and cold start: the label mask selects the target and ``<|im_end|>\\n``,
    nothing of the empty think block; the ids before it are the generation prompt of the same question, token for
    token (images included), under both released templates."""
    proc = processor(qwen3_5_dir, template)
    sample = samples(tiny_records, stage)[index]
    row = SFTRows([sample], proc, family=QWEN3_5).row(0)
    assert row["messages"][-1]["reasoning_content"] == ""
    collate = VisionSFTCollator(proc, loss_on="assistant", chat_template=training_chat_template(proc, QWEN3_5))
    prompt, supervised = split(collate([row]), proc.tokenizer)
    assert supervised == sample.target + "<|im_end|>\n"
    assert prompt == generation_prompt_ids(proc, row)
    assert proc.tokenizer.decode(prompt).endswith(NO_THINK_TAIL)


def test_a_cold_start_target_keeps_our_format_and_is_not_moved_into_the_template_think_block(
    qwen3_5_dir, tiny_records
) -> None:
    """The tiny cold-start solution ``<think>I see 1.</think><answer>1</answer>``: without the empty reasoning the
    template would rewrite it as its own think block (``<think>\\nI see 1.\\n</think>\\n\\n<answer>1</answer>`` right
    after ``assistant\\n``), a shape no rollout after the no-think prompt has."""
    proc = processor(qwen3_5_dir)
    sample = samples(tiny_records, "coldstart")[0]
    assert sample.target == "<think>I see 1.</think><answer>1</answer>"
    ours = SFTRows([sample], proc, family=QWEN3_5).messages(sample, [], None)
    unthinking = dataclasses.replace(QWEN3_5, thinks=False)  # the same family, were its template's block ignored
    plain = SFTRows([sample], proc, family=unthinking).messages(sample, [], None)
    assert "reasoning_content" not in plain[-1]
    render = lambda m: proc.apply_chat_template(m, tokenize=False)  # noqa: E731
    assert render(ours).endswith(NO_THINK_TAIL + sample.target + "<|im_end|>\n")
    assert render(plain).endswith(
        "<|im_start|>assistant\n<think>\nI see 1.\n</think>\n\n<answer>1</answer><|im_end|>\n"
    )


def test_the_training_template_renders_the_released_text_and_only_moves_the_mask(qwen3_5_dir) -> None:
    proc = processor(qwen3_5_dir)
    template = training_chat_template(proc, QWEN3_5)
    user = {"role": "user", "content": [{"type": "text", "text": "Q?"}]}
    for assistant, supervised in [
        ({"content": [{"type": "text", "text": "B"}], "reasoning_content": ""}, "B<|im_end|>\n"),
        # a turn with reasoning (thinking mode): the generation prompt supplies ``<think>\n``, the model the rest
        ({"content": [{"type": "text", "text": "B"}], "reasoning_content": "R"}, "R\n</think>\n\nB<|im_end|>\n"),
    ]:
        messages = [user, {"role": "assistant", **assistant}]
        assert proc.apply_chat_template(messages, tokenize=False, chat_template=template) == proc.apply_chat_template(
            messages, tokenize=False
        )
        out = proc.apply_chat_template(
            messages, chat_template=template, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
        )
        ids, mask = out["input_ids"][0], out["assistant_masks"][0]
        assert proc.tokenizer.decode([i for i, m in zip(ids, mask, strict=True) if m]) == supervised


def test_qwen2_5_vl_keeps_trl_template_and_plain_rows(tiny_model_dir, tiny_records) -> None:
    from trl.chat_template_utils import qwen2_5_vl_training_chat_template

    from spatialladder.models.load import load_processor

    proc = load_processor(str(tiny_model_dir), ModelSettings(name_or_path=str(tiny_model_dir)))
    family = family_named("qwen2.5-vl")
    assert training_chat_template(proc, family) == training_chat_template(proc) == qwen2_5_vl_training_chat_template
    sample = samples(tiny_records, "coldstart")[0]
    assert SFTRows([sample], proc, family=family).messages(sample, [], None) == SFTRows([sample], proc).messages(
        sample, [], None
    )


def test_a_cold_start_target_is_a_full_score_grpo_completion(qwen3_5_dir) -> None:
    """The CoT target (``data/cot.py`` shape), supervised after the no-think prompt and decoded as trl decodes
    completions (``skip_special_tokens=True``), scores format 1 and accuracy 1; the same answer in the template's
    own thinking shape (the block opened by a thinking prompt) scores format 0."""
    proc = processor(qwen3_5_dir)
    target = "<think>\nLet me think. I count 3 chairs.\n</think>\n<answer>B</answer>"
    sample = SFTSample("x", "single_image", (), "Question: How many?", target=target)
    row = {"messages": SFTRows([sample], proc, family=QWEN3_5).messages(sample, [], None), "images": []}
    collate = VisionSFTCollator(proc, loss_on="assistant", chat_template=training_chat_template(proc, QWEN3_5))
    batch = collate([row])
    ids = batch["input_ids"][0][batch["labels"][0] != -100]
    completion = proc.tokenizer.decode(ids, skip_special_tokens=True)
    assert completion.strip() == target
    assert format_reward(completion) == 1.0 and accuracy_reward(completion, "B", "mca") == 1.0
    assert solution_answer(completion) == "B"
    assert format_reward("Let me think. I count 3 chairs.\n</think>\n\n<answer>B</answer>") == 0.0


def grpo_config(model_dir: Path, records: dict[str, Path], out: Path, *overrides: str) -> Any:
    from spatialladder.config.load import load_config

    return load_config(
        Path(__file__).resolve().parents[2] / "configs/debug/grpo_tiny.yaml",
        [
            f"model.name_or_path={model_dir}",
            f"model.min_pixels={PIXELS['min_pixels']}",
            f"model.max_pixels={PIXELS['max_pixels']}",
            f"data.files=[{records['spatial']}]",
            f"output_dir={out}",
            "trainer.disable_tqdm=true",
            "rewards=[{name: format}]",
            "prompts_per_step=1",
            *overrides,
        ],
    )


@pytest.mark.parametrize("template", ["nothink", "think"])
def test_a_grpo_prompt_ends_as_the_eval_prompt_of_the_same_question(
    qwen3_5_dir, tiny_records, tmp_path, template
) -> None:
    """The stage-3 row of a multiple-choice question, as the trainer encodes it for rollouts and the loss pass, is
    the eval ``thinking`` prompt of the same question and image id for id, ending in the empty think block (also
    with the ≥ 4B template, which would otherwise open ``<think>\\n``)."""
    from spatialladder.models.load import load_model_and_processor
    from spatialladder.train.grpo import build_trainer
    from spatialladder.train.grpo_rows import load_grpo_rows, rows_to_dataset
    from spatialladder.train.trl_args import to_grpo_args

    row = next(r for r in load_grpo_rows([tiny_records["spatial"]]).rows if r["question_id"] == "100")
    cfg = grpo_config(qwen3_5_dir, tiny_records, tmp_path)
    loaded = load_model_and_processor(cfg.model, for_training=True)
    if template == "think":
        from trl.chat_template_utils import qwen3_5_think_chat_template

        loaded.processor.chat_template = qwen3_5_think_chat_template
    trainer = build_trainer(cfg, to_grpo_args(cfg), loaded, rows_to_dataset([row]), None)
    assert trainer.chat_template_kwargs == {"enable_thinking": False}
    ids = trainer._encode_row(trainer._inline_vision(row)["prompt"])["prompt_ids"][0].tolist()
    assert loaded.processor.tokenizer.decode(ids).endswith(NO_THINK_TAIL)

    question = "Which is closer to the door in the red room?"
    text = eval_user_text("thinking", question, ["A. chair", "B. table"], "mca")
    eval_messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}]
    rendered = loaded.processor.apply_chat_template(
        eval_messages, add_generation_prompt=True, tokenize=False, **loaded.family.chat_template_kwargs
    )
    expected = loaded.processor(text=[rendered], images=[row["images"][0]], return_tensors="pt")["input_ids"]
    assert ids == expected[0].tolist()
    if template == "nothink":  # eval's own encoding today (it passes no template flags: the default is no-think)
        from spatialladder.config.eval import EvalConfig
        from spatialladder.eval.generation import HFGenerator

        model = ModelSettings(name_or_path=str(qwen3_5_dir), dtype="float32", **PIXELS)
        settings = {"kind": "eval", "bench": "vsi", "data_dir": str(tmp_path), "output_dir": str(tmp_path / "eval")}
        settings["input_protocol"] = "direct"  # the image as the trainer sees it (lmms-eval's pre-resizes it first)
        generator = HFGenerator(EvalConfig(**settings, model=model, share_video_prefix=False))
        assert generator.encode([(eval_messages, [row["images"][0]], [])])["input_ids"][0].tolist() == ids


def test_grpo_refuses_a_thinking_prompt_for_qwen3_5_and_leaves_other_families_alone() -> None:
    from types import SimpleNamespace

    args = SimpleNamespace(chat_template_kwargs={"enable_thinking": True})
    with pytest.raises(ConfigError, match=r"trainer.chat_template_kwargs.enable_thinking: True, but qwen3.5") as err:
        set_family_chat_template_kwargs(args, QWEN3_5, "grpo.yaml")
    assert "\n" not in str(err.value)
    args = SimpleNamespace(chat_template_kwargs={"foo": 1})
    set_family_chat_template_kwargs(args, QWEN3_5)
    assert args.chat_template_kwargs == {"foo": 1, "enable_thinking": False}
    args = SimpleNamespace(chat_template_kwargs=None)
    set_family_chat_template_kwargs(args, family_named("qwen2.5-vl"))
    assert args.chat_template_kwargs is None


def test_padding_free_is_refused_for_qwen3_5_in_one_line(qwen3_5_dir, tmp_path) -> None:
    from spatialladder.config.sft import SFTStageConfig
    from spatialladder.train.trl_args import to_sft_args

    with pytest.raises(ConfigError, match=r"sft.yaml: padding_free: true would let packed rows leak .* qwen3.5") as err:
        check_padding_free_runtime("sft.yaml", QWEN3_5)
    assert "\n" not in str(err.value) and "padding_free: false" in str(err.value)
    cfg = SFTStageConfig(
        kind="sft",
        stage="spatial",
        output_dir=str(tmp_path),
        model={"name_or_path": str(qwen3_5_dir), "attn_implementation": "flash_attention_2", **PIXELS},
        data={"files": [str(tmp_path / "x.jsonl")]},
        padding_free=True,
        trainer={"use_cpu": True, "bf16": False, "report_to": "none"},
    )
    with pytest.raises(ConfigError, match="Gated DeltaNet"):  # validate time: before the CUDA / flash-attn check
        to_sft_args(cfg, "sft.yaml")


@pytest.mark.skipif(importlib.util.find_spec("fla") is not None, reason="flash-linear-attention is installed")
def test_transformers_mixes_packed_qwen3_5_rows_silently_and_refuses_row_boundaries_without_fla(qwen3_5_dir) -> None:
    """Why ``padding_free`` is refused (transformers 5.24): two rows packed as ``train/packing.py`` packs them (text
    positions restarting at 0, no mask) run without error, but the second row's logits are not its own — the Gated
    DeltaNet state runs on from the first row; given boundaries (``cu_seq_lens_q``), the layers raise without
    flash-linear-attention (``integrations/hub_kernels.py`` lines 1033-1040)."""
    import torch
    from transformers import AutoModelForImageTextToText

    model = AutoModelForImageTextToText.from_pretrained(str(qwen3_5_dir), dtype=torch.float32).eval()
    a, b = torch.tensor([[11, 12, 13, 14, 15, 16]]), torch.tensor([[21, 22, 23, 24, 25]])
    packed, positions = torch.cat([a, b], 1), torch.cat([torch.arange(6), torch.arange(5)])[None]
    with torch.no_grad():
        alone = model(input_ids=b).logits[0]
        together = model(input_ids=packed, position_ids=positions).logits[0, 6:]
        assert (together - alone).abs().max() > 1e-3
        cu = torch.tensor([0, 6, 11], dtype=torch.int32)
        with pytest.raises(ValueError, match="can't keep packed sequences apart without `flash-linear-attention`"):
            model(input_ids=packed, position_ids=positions, cu_seq_lens_q=cu, cu_seq_lens_k=cu)
