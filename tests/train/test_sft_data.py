"""Records → rows → labels: the supervised tokens, the box targets and the official encodings, on the tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spatialladder.config.base import ModelSettings
from spatialladder.errors import DataFormatError
from spatialladder.records import TrainingRecord, read_jsonl, read_training_records, record_data_type, record_images
from spatialladder.sampling import uniform_sample
from spatialladder.train.boxes import localization_target, rescale_box, resized_frame
from spatialladder.train.collator import VisionSFTCollator, training_chat_template
from spatialladder.train.sft_rows import SFTRows, SFTSample, sft_sample


def processor(model_dir: Path, max_pixels: int = 28 * 28 * 16, min_pixels: int = 28 * 28):
    from spatialladder.models.load import load_processor

    return load_processor(
        str(model_dir), ModelSettings(name_or_path=str(model_dir), max_pixels=max_pixels, min_pixels=min_pixels)
    )


def samples(records: dict[str, Path], stage: str, fidelity: str = "fixed", **data_kw: object) -> list[SFTSample]:
    from spatialladder.config.sft import SFTDataSettings

    file = records[{"localization": "grounding", "spatial": "spatial", "coldstart": "coldstart"}[stage]]
    data = SFTDataSettings(files=[str(file)], **data_kw)
    root = file.parent / "images"
    return [sft_sample(r, stage, root, data, fidelity, where) for where, r in read_training_records(file)]


def supervised(batch, tokenizer, row: int = 0) -> str:
    ids, labels = batch["input_ids"][row], batch["labels"][row]
    return tokenizer.decode(ids[labels != -100])


@pytest.mark.parametrize("index, kind", [(0, "single_image"), (1, "multi_view"), (2, "video")])
def test_assistant_only_mask_is_exactly_the_answer(tiny_model_dir, tiny_records, index, kind) -> None:
    proc = processor(tiny_model_dir)
    sample = samples(tiny_records, "spatial")[index]
    assert sample.data_type == kind
    collate = VisionSFTCollator(proc, loss_on="assistant", chat_template=training_chat_template(proc))
    batch = collate([SFTRows([sample], proc).row(0)])
    # the assistant text plus the end-of-turn token (and the template's newline after it): nothing else
    assert supervised(batch, proc.tokenizer) == sample.target + "<|im_end|>\n"
    vision_ids = {
        proc.tokenizer.convert_tokens_to_ids(t) for t in ("<|image_pad|>", "<|video_pad|>", "<|vision_start|>")
    }
    assert not any(int(t) in vision_ids for t in batch["labels"][0] if t != -100)
    pads = "<|video_pad|>" if kind == "video" else "<|image_pad|>"
    assert int((batch["input_ids"][0] == proc.tokenizer.convert_tokens_to_ids(pads)).sum()) > 0


def test_official_loss_on_all_masks_only_image_pads_and_padding(tiny_model_dir, tiny_records) -> None:
    proc = processor(tiny_model_dir)
    spatial = samples(tiny_records, "spatial")
    collate = VisionSFTCollator(proc, loss_on="all")
    batch = collate([SFTRows([s], proc).row(0) for s in spatial[:3]])  # image, multi-view and video in one batch
    tok = proc.tokenizer
    image_pad, video_pad = tok.convert_tokens_to_ids("<|image_pad|>"), tok.convert_tokens_to_ids("<|video_pad|>")
    ids, labels, attn = batch["input_ids"], batch["labels"], batch["attention_mask"]
    expected = (attn == 1) & (ids != image_pad)
    assert ((labels != -100) == expected).all()
    # the official collator supervises the prompt and every video pad token (reference §3)
    video_row = supervised(batch, tok, row=2)
    assert video_row.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n")
    assert video_row.count("<|video_pad|>") == int((ids[2] == video_pad).sum()) > 0
    assert "<|image_pad|>" not in supervised(batch, tok, row=0)


def test_video_rows_use_declared_fps_and_sampled_frames(tiny_model_dir, tiny_records) -> None:
    proc = processor(tiny_model_dir)
    video = samples(tiny_records, "spatial", video_frames=4)[2]
    row = SFTRows([video], proc).row(0)
    frames = row["messages"][0]["content"][0]["video"]
    assert len(frames) == 4 and row["images"] == []
    batch = VisionSFTCollator(proc, video_fps=2.0)([row])
    assert batch["video_grid_thw"].tolist() == [[2, 6, 8]]  # 4 frames / temporal patch 2; 84×112 px / 14
    assert batch["second_per_grid_ts"].tolist() == [1.0]  # temporal patch 2 / 2 fps, as the official processor


def test_frame_sampling_is_uniform_and_keeps_ends() -> None:
    assert uniform_sample(list(range(10)), 4) == [0, 3, 6, 9]
    assert uniform_sample(list(range(3)), 4) == [0, 1, 2]
    assert uniform_sample(list(range(5)), None) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    "max_pixels, frame, box",
    [
        (128 * 28 * 28, (364, 252), [28, 52, 197, 234]),  # paper budget: 100,352 px → 18×26 merged patches
        (16 * 28 * 28, (112, 84), [9, 17, 60, 78]),  # tiny budget: 12,544 px
    ],
)
def test_box_rescaled_to_the_frame_the_processor_produces(tiny_model_dir, tmp_path, max_pixels, frame, box) -> None:
    from PIL import Image

    proc = processor(tiny_model_dir, max_pixels=max_pixels, min_pixels=16 * 28 * 28 if max_pixels > 12544 else 784)
    img = Image.new("RGB", (1296, 968), (90, 90, 90))
    grid = proc.image_processor(images=[img], return_tensors="pt")["image_grid_thw"][0].tolist()
    assert (14 * grid[2], 14 * grid[1]) == frame == resized_frame(proc, 1296, 968)
    # x' = round(x·W'/1296), y' = round(y·H'/968), e.g. 700·364/1296 = 196.6 → 197
    assert rescale_box([100, 200, 700, 900], (1296, 968), frame) == box
    target = localization_target(
        [{"bbox_2d": [100, 200, 700, 900], "label": "chair"}], (1296, 968), (1296, 968), proc, "rescaled"
    )
    assert target == '```json\n[\n\t{"bbox_2d": ' + json.dumps(box) + ', "label": "chair"}\n]\n```'
    assert json.loads(target[len("```json\n") : -len("\n```")]) == [{"bbox_2d": box, "label": "chair"}]


def test_box_on_a_downsampled_image_uses_the_stored_frame(tiny_model_dir) -> None:
    proc = processor(tiny_model_dir, max_pixels=128 * 28 * 28, min_pixels=16 * 28 * 28)
    answer = [{"bbox_2d": [1295, 0, 1296, 967], "label": "door"}]
    # image file 648×484 (what the model sees → 364×252), boxes stored in the 1296×968 frame
    target = localization_target(answer, (648, 484), (1296, 968), proc, "rescaled")
    assert '"bbox_2d": [363, 0, 363, 251]' in target  # clamped to [0, W'-1] × [0, H'-1] like the official code


def test_official_target_is_double_json_encoded(tiny_model_dir) -> None:
    proc = processor(tiny_model_dir, max_pixels=128 * 28 * 28, min_pixels=16 * 28 * 28)
    answer = [{"bbox_2d": [100, 200, 700, 900], "label": "chair"}]
    target = localization_target(answer, (1296, 968), (1296, 968), proc, "official")
    expected = (
        '```json\n"[\\n    {\\n        \\"bbox_2d\\": [\\n            28,\\n            52,\\n            197,'
        '\\n            234\\n        ],\\n        \\"label\\": \\"chair\\"\\n    }\\n]"\n```'
    )
    assert target == expected


def test_official_rows_use_the_period_less_system_text_and_stage2_drift(tiny_model_dir, tiny_records) -> None:
    from spatialladder.prompts import sft_system_text

    proc = processor(tiny_model_dir)
    sample = samples(tiny_records, "spatial", fidelity="official")[0]
    row = SFTRows([sample], proc, system_text=sft_system_text("official")).row(0)
    assert row["messages"][0] == {
        "role": "system",
        "content": [{"type": "text", "text": "You are a helpful assistant"}],
    }
    text = row["messages"][1]["content"][-1]["text"]
    assert text == (
        "Question: Which is closer to the door in the red room?Options:\nA. chair\nB. table\n\n"
        "Please answer with the option's letter from the given choices directly."
    )
    fixed = samples(tiny_records, "spatial")[0].user_text
    assert fixed.startswith("Question: Which is closer to the door in the red room?\nOptions:\n")


def test_grounding_row_targets_the_real_image(tiny_model_dir, tiny_records) -> None:
    proc = processor(tiny_model_dir)
    sample = samples(tiny_records, "localization")[0]
    row = SFTRows([sample], proc).row(0)
    assert row["messages"][0]["content"][0] == {"type": "image"} and len(row["images"]) == 1
    # 112×84 tiny images are inside the budget: the box is unchanged
    assert (
        row["messages"][-1]["content"][0]["text"]
        == '```json\n[\n\t{"bbox_2d": [8, 20, 28, 60], "label": "door"}\n]\n```'
    )


def test_cold_start_prompt_is_verbatim(tiny_records) -> None:
    sample = samples(tiny_records, "coldstart")[0]
    assert sample.user_text == "Question: How many lamp(s) are in the red room? \nThink, then answer."
    assert sample.target == "<think>I see 1.</think><answer>1</answer>"


def test_wrong_stage_and_missing_image_are_clear_errors(tiny_records, tmp_path) -> None:
    from spatialladder.config.sft import SFTDataSettings

    data = SFTDataSettings(files=["x"])
    rec = TrainingRecord.parse(next(read_jsonl(tiny_records["spatial"]))[1], "f:1")
    with pytest.raises(DataFormatError, match=r"f:1: a spatial record in the localization stage's data"):
        sft_sample(rec, "localization", tiny_records["spatial"].parent / "images", data, "fixed", "f:1")
    with pytest.raises(DataFormatError, match=r"f:2: image 'scene0000_00/0.jpg' not found"):
        sft_sample(rec, "spatial", tmp_path, data, "fixed", "f:2")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": 1}\n{oops\n')
    with pytest.raises(DataFormatError, match=r"bad.jsonl:2: not valid JSON"):
        list(read_jsonl(bad))


def test_record_images_and_data_type_are_public_and_shared_with_grpo() -> None:
    """SFT and GRPO read records through these two (``TrainingRecord.parse``); they are public API of records."""
    assert record_images({"image": "a.jpg"}, "r") == ["a.jpg"]
    assert record_images({"image": ["a.jpg", "b.jpg"]}, "r") == ["a.jpg", "b.jpg"]
    with pytest.raises(DataFormatError, match="r: 'image' must be a non-empty list"):
        record_images({"image": []}, "r")
    assert [record_data_type({}, n, "r") for n in (1, 8)] == ["single_image", "multi_view"]
    assert record_data_type({"data_type": "Multi View"}, 1, "r") == "multi_view"
    assert record_data_type({"modality": "video"}, 16, "r") == "video"
    with pytest.raises(DataFormatError, match="r: data_type 'audio' not one of single_image, multi_view, video"):
        record_data_type({"data_type": "audio"}, 1, "r")


def test_rescale_rounds_like_the_official_scale_then_multiply() -> None:
    """Official: ``round(x * (W'/1296))``. At 364×252 the exact halves 1134·364/1296 = 318.5 and 363·252/968 = 94.5
    come out 318.50000000000006 / 94.50000000000001 that way, so the official targets are 319 and 95 (not 318, 94)."""
    assert rescale_box([1134, 363, 162, 847], (1296, 968), (364, 252)) == [319, 95, 46, 221]


def test_official_loss_on_all_also_masks_pad_token_text(tiny_model_dir, tiny_records) -> None:
    """The official collator masks ``labels == pad_token_id`` wherever it occurs, not only in the padding."""
    proc = processor(tiny_model_dir)
    pad = proc.tokenizer.pad_token
    sample = SFTSample("x", "single_image", samples(tiny_records, "spatial")[0].media, "Q", target=f"A{pad}B")
    batch = VisionSFTCollator(proc, loss_on="all")([SFTRows([sample], proc).row(0)])
    ids, labels = batch["input_ids"][0], batch["labels"][0]
    assert int((ids == proc.tokenizer.pad_token_id).sum()) == 1
    assert bool((labels[ids == proc.tokenizer.pad_token_id] == -100).all())
    assert supervised(batch, proc.tokenizer).endswith("<|im_start|>assistant\nAB<|im_end|>\n")


@pytest.mark.parametrize(("mode", "grid_hw"), [("once", [18, 26]), ("official", [18, 24])])
def test_image_resize_once_or_as_the_official_double_resize(tiny_model_dir, tmp_path, mode, grid_hw) -> None:
    """Reference §4.1: a 968×1296 ScanNet frame at 128·28·28 px is seen as 252×364 after one resize, but as 252×336
    after qwen-vl-utils' rounding (→ 980×1288) and the processor's second resize (the official pipeline)."""
    from PIL import Image

    image = tmp_path / "frame.jpg"
    Image.new("RGB", (1296, 968), (90, 120, 150)).save(image)
    proc = processor(tiny_model_dir, max_pixels=128 * 28 * 28, min_pixels=16 * 28 * 28)
    sample = SFTSample(where="t", data_type="single_image", media=(image,), user_text="q", target="A")
    row = SFTRows([sample], proc, image_resize=mode).row(0)
    enc = proc.image_processor(images=row["images"], return_tensors="pt")
    assert enc["image_grid_thw"][0, 1:].tolist() == grid_hw  # in 14-px patches
