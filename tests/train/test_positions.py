"""Positions every hand-built forward gets right, per model family: the GRPO log-prob pass, padding-free packing and
the shared-prefix eval cache each give the tiny model of every family exactly the rope positions its own
``get_rope_index`` computes on the processor's inputs (an image row, a multi-view row, a video row).

Why: Qwen3-VL and Qwen3.5 raise without ``mm_token_type_ids``; Qwen2.5-VL silently falls back to 1-D text positions
without them, and squeezes or stretches a video's temporal positions without its ``second_per_grid_ts``
(``Qwen2_5_VLModel.compute_3d_position_ids``, transformers 5.24 ``modeling_qwen2_5_vl.py`` 1136-1140;
``Qwen3VLModel.compute_3d_position_ids``, ``modeling_qwen3_vl.py`` 1099-1104). The reference here is always the
model's own method on the processor's own outputs, never our code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image

from spatialladder.models.families import family_named

FAMILIES = ("qwen2.5-vl", "qwen3-vl", "qwen3.5")
GRPO_TINY_CONFIG = Path(__file__).resolve().parents[2] / "configs/debug/grpo_tiny.yaml"
FRAME_INDICES = [0, 10, 20, 30, 40, 50]
"""Six frames of a 30 fps capture: three temporal patches, stamped 0.2 / 0.8 / 1.5 s (Qwen3-VL, Qwen3.5) or
``second_per_grid_ts`` 2 / 3 fps = 0.667 (Qwen2.5-VL)."""


def solid(size: tuple[int, int], seed: int) -> Image.Image:
    return Image.new("RGB", size, ((seed * 53) % 256, (seed * 97) % 256, (seed * 31) % 256))


def conversations() -> list[list[dict[str, Any]]]:
    """An image row, a multi-view row (three images) and a video row, each a user turn."""

    def turn(parts: list[dict[str, str]], question: str) -> list[dict[str, Any]]:
        return [{"role": "user", "content": [*parts, {"type": "text", "text": question}]}]

    return [
        turn([{"type": "image"}], "How many chair(s) are in this room?"),
        turn([{"type": "image"}] * 3, "Which of these objects is the closest to the bed?"),
        turn([{"type": "video"}], "What is the size of this room (in square meters)?"),
    ]


IMAGES = [[solid((96, 64), 1)], [solid((64, 64), 2), solid((64, 128), 3), solid((128, 64), 4)], []]
VIDEOS = [[], [], [[solid((128, 96), 10 + i) for i in range(len(FRAME_INDICES))]]]


def encode(processor: Any, rows: list[int], padding_side: str = "left") -> Any:
    """The processor's own inputs for the chosen rows (videos with their capture metadata, no resampling)."""
    texts = [
        processor.apply_chat_template(conversations()[i], tokenize=False, add_generation_prompt=True) for i in rows
    ]
    images = [im for i in rows for im in IMAGES[i]]
    videos = [v for i in rows for v in VIDEOS[i]]
    kwargs: dict[str, Any] = {}
    if videos:
        meta = {"fps": 30.0, "frames_indices": FRAME_INDICES, "total_num_frames": 60}
        kwargs.update(videos=videos, video_metadata=[meta] * len(videos), do_sample_frames=False)
    return processor(
        text=texts, images=images or None, padding=True, padding_side=padding_side, return_tensors="pt", **kwargs
    )


def own_rope_index(model: Any, inputs: dict[str, Any], ids: Any, types: Any, mask: Any) -> tuple[Any, Any]:
    """The model's ``get_rope_index`` with every grid and frame time the processor returned (the model keeps what
    it takes)."""
    extra = {k: inputs[k] for k in ("image_grid_thw", "video_grid_thw", "second_per_grid_ts") if k in inputs}
    return model.model.get_rope_index(ids, types, attention_mask=mask, **extra)


@pytest.fixture(scope="module", params=FAMILIES)
def trainer(request, tiny_family_dirs: dict[str, Path], tiny_records, tmp_path_factory) -> Any:
    """A real ``VideoGRPOTrainer`` on the family's tiny model (no KL reference: only the log-prob pass is used)."""
    from spatialladder.config.load import load_config
    from spatialladder.models.load import load_model_and_processor
    from spatialladder.train.grpo import build_trainer
    from spatialladder.train.grpo_rows import load_grpo_rows, rows_to_dataset
    from spatialladder.train.trl_args import to_grpo_args

    family = family_named(request.param)
    pixels = family.token_pixels
    overrides = {
        "model.name_or_path": tiny_family_dirs[family.name],
        "model.min_pixels": pixels,
        "model.max_pixels": 64 * pixels,  # Qwen3-VL: a budget over all frames, more than 1 token a frame
        "data.files": f"[{tiny_records['spatial']}]",
        "output_dir": tmp_path_factory.mktemp(f"grpo-{family.name}"),
        "beta": 0.0,
        "rewards": "[{name: format}]",
    }
    cfg = load_config(GRPO_TINY_CONFIG, [f"{k}={v}" for k, v in overrides.items()])
    loaded = load_model_and_processor(cfg.model, for_training=True)
    rows = load_grpo_rows([tiny_records["spatial"]], video_frames=4).rows
    out = build_trainer(cfg, to_grpo_args(cfg), loaded, rows_to_dataset(rows[:1]), None)
    out.model.eval()
    return out


def test_processor_inputs_cover_every_kind_of_position(trainer) -> None:
    """The inputs the comparisons below use: three images in a row, a video of three temporal patches with more
    than one token per frame, and the family's frame time (mRoPE ``second_per_grid_ts`` or text stamps)."""
    processor = trainer.processing_class
    inputs = encode(processor, [0, 1, 2])
    assert len(inputs["image_grid_thw"]) == 4
    t, h, w = inputs["video_grid_thw"][0].tolist()
    assert t == 3 and h * w // 4 > 1
    text = processor.tokenizer.decode(inputs["input_ids"][2])
    if trainer.family.video_time == "mrope":
        assert inputs["second_per_grid_ts"].tolist() == pytest.approx([2 / 3])
        assert "seconds>" not in text
    else:
        assert "second_per_grid_ts" not in inputs
        assert all(f"<{s} seconds>" in text for s in ("0.2", "0.8", "1.5"))  # mean(frame pair) / 30, 1 decimal


def test_grpo_log_prob_pass_uses_the_models_own_positions(trainer) -> None:
    """The rows as ``_encode_row`` holds them (one processor call each), left-padded with completions of different
    lengths appended, as trl scores them: the positions the language model receives in the log-prob forward equal
    ``get_rope_index`` on the processor's batch inputs (its ``mm_token_type_ids``, grids and frame times)."""
    from spatialladder.train.video_grpo import PROMPT_IDS_KEY, VISION_KEYS

    processor, model = trainer.processing_class, trainer.model
    rows = []
    for i in range(3):
        alone = encode(processor, [i])
        rows.append({PROMPT_IDS_KEY: alone["input_ids"], **{k: alone[k] for k in VISION_KEYS if k in alone}})
    batch = encode(processor, [0, 1, 2])
    prompt_ids, prompt_mask = batch["input_ids"], batch["attention_mask"]
    for row, ids, mask in zip(rows, prompt_ids, prompt_mask, strict=True):  # the batch is the rows, left-padded
        assert ids[mask.bool()].tolist() == row[PROMPT_IDS_KEY][0].tolist()
    text_token = processor.tokenizer.convert_tokens_to_ids("A")
    completion = torch.full((3, 5), text_token)
    completion_mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 1, 1, 0, 0]])
    ids = torch.cat([prompt_ids, completion], dim=1)
    mask = torch.cat([prompt_mask, completion_mask], dim=1)
    types = torch.cat([batch["mm_token_type_ids"], torch.zeros_like(completion)], dim=1)
    expected, deltas = own_rope_index(model, batch, ids, types, mask)

    seen: list[torch.Tensor] = []
    hook = model.model.language_model.register_forward_pre_hook(
        lambda module, args, kwargs: seen.append(kwargs["position_ids"].clone()), with_kwargs=True
    )
    try:
        with torch.no_grad(), trainer._rows_in_use(rows):
            trainer._get_per_token_logps_and_entropies(model, ids, mask, logits_to_keep=5, batch_size=3)
    finally:
        hook.remove()
    assert len(seen) == 1 and seen[0].shape == (3, 3, ids.shape[1])
    assert torch.equal(trainer._token_types(ids), types)  # the processor's types, rebuilt from the ids
    assert torch.equal(seen[0], expected)
    assert torch.equal(model.model.rope_deltas, deltas)  # what the model keeps for a continuation
    # the positions are really 3-D: the video's temporal positions are not its text positions
    text = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 0)
    video = types == 2
    assert not torch.equal(expected[0][video], text[video])
    assert not torch.equal(expected[1][types == 1], expected[2][types == 1])  # rows and columns of the images
    # a frame time reaches the forward only where the family's video time is in the rope
    timed = [{**row, "second_per_grid_ts": torch.tensor([0.5])} if "video_grid_thw" in row else row for row in rows]
    assert ("second_per_grid_ts" in trainer._chunk_vision(timed, ids, mask)) == (trainer.family.video_time == "mrope")


def test_packed_positions_are_the_models_own(trainer) -> None:
    """Padding-free packing of the three rows (right-padded, as the SFT collator pads them): rows 1-3 of the packed
    ``(4, 1, T)`` positions are ``get_rope_index``'s positions of the padded batch without the padding, row 0 the
    text positions restarting at each row, and ``RopeIndex`` (the model class's own method run on the config)
    gives the model's positions and rope deltas on the whole padded batch."""
    from spatialladder.train.packing import RopeIndex, pack_batch

    processor, model = trainer.processing_class, trainer.model
    batch = dict(encode(processor, [0, 2, 1], padding_side="right"))
    batch["labels"] = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    expected, deltas = own_rope_index(
        model, batch, batch["input_ids"], batch["mm_token_type_ids"], batch["attention_mask"]
    )
    rope_index = RopeIndex(model.config)
    assert rope_index.model_class is type(model.model)
    assert torch.equal(rope_index(batch), expected)
    times = {"second_per_grid_ts": batch["second_per_grid_ts"]} if "second_per_grid_ts" in batch else {}
    _, ours = rope_index.get_rope_index(
        batch["input_ids"],
        batch["mm_token_type_ids"],
        image_grid_thw=batch["image_grid_thw"],
        video_grid_thw=batch["video_grid_thw"],
        attention_mask=batch["attention_mask"],
        **times,
    )
    assert torch.equal(ours, deltas)

    packed = pack_batch(batch, rope_index)
    mask = batch["attention_mask"].bool()
    lengths = mask.sum(dim=1).tolist()
    assert min(lengths) < max(lengths)
    assert packed["position_ids"].shape == (4, 1, sum(lengths))
    assert torch.equal(packed["position_ids"][1:, 0], expected[:, mask])
    assert packed["position_ids"][0, 0].tolist() == [p for n in lengths for p in range(n)]
    assert torch.equal(packed["mm_token_type_ids"][0], batch["mm_token_type_ids"][mask])


def test_shared_prefix_positions_are_the_models_own(trainer) -> None:
    """Two questions on the video laid out as the shared-prefix cache lays them out (cached prefix right-aligned,
    masked filler, then each question): ``rope_positions`` gives each row, on its unmasked tokens, exactly the
    ``(4, 1, L)`` positions ``generate`` builds for that prompt alone (``_prepare_position_ids_for_generation``:
    text row, then ``get_rope_index``'s)."""
    from spatialladder.eval.shared_prefix import common_prefix_length, layout, rope_positions

    processor, model = trainer.processing_class, trainer.model
    video_row = conversations()[2]
    other = [{**video_row[0], "content": [*video_row[0]["content"][:1], {"type": "text", "text": "How many?"}]}]
    singles = []
    for conversation in (video_row, other):
        text = processor.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)
        meta = {"fps": 30.0, "frames_indices": FRAME_INDICES, "total_num_frames": 60}
        singles.append(
            processor(text=[text], videos=VIDEOS[2], video_metadata=[meta], do_sample_frames=False, return_tensors="pt")
        )
    rows = [s["input_ids"][0].tolist() for s in singles]
    shared = common_prefix_length(rows)
    vision_end = model.config.vision_end_token_id
    assert rows[0][:shared].count(model.config.video_token_id) == singles[0]["video_grid_thw"].prod() // 4
    ids, mask = layout(rows, [shared, shared - 3], vision_end)  # a shorter cached prefix in the second row
    ids, mask = torch.tensor(ids), torch.tensor(mask)
    types = torch.tensor(processor.create_mm_token_type_ids(ids.tolist()))
    grids = torch.cat([s["video_grid_thw"] for s in singles])
    seconds = None
    if "second_per_grid_ts" in trainer.family.vision_inputs:
        seconds = torch.cat([s["second_per_grid_ts"] for s in singles])
    positions = rope_positions(model, ids, mask, types, grids, seconds)
    assert positions.shape == (4, 2, ids.shape[1])
    for row, single in enumerate(singles):
        own = model._prepare_position_ids_for_generation(single["input_ids"], dict(single))
        assert torch.equal(positions[:, row, mask[row].bool()], own[:, 0])
        alone, _ = own_rope_index(model, single, single["input_ids"], single["mm_token_type_ids"], None)
        assert torch.equal(positions[1:, row, mask[row].bool()], alone[:, 0])


def test_shared_prefix_is_refused_only_for_linear_attention(trainer) -> None:
    """Qwen2.5-VL and Qwen3-VL share a video's prefix; Qwen3.5's Gated DeltaNet layers keep a recurrent state that
    cannot be cut to a shorter prefix, so it is refused by that family fact, in one line naming it."""
    from spatialladder.eval.shared_prefix import SharedVideoPrefix

    reason = SharedVideoPrefix.supported(trainer.model)
    if trainer.family.linear_attention:
        assert reason == "qwen3.5's linear-attention layers keep a recurrent state that cannot be cut to a prefix"
    else:
        assert reason is None
