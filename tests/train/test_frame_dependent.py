"""An appearance-order answer is checked against exactly the frames the model is shown, in SFT and in GRPO.

The record below lists 32 frames, as build-data writes them (``modalities.video_frames: 32``), and its answer is
the first-appearance order over those 32. Each frame paints the objects visible in it at fixed spots, so the test
reads the order back from the frames a row actually carries. A 16-of-32 uniform subsample keeps frames
0, 2, 4, 6, 8, …: the lamp's first sighting (frame 1) is dropped, it reappears only at frame 4, after the sofa
(frame 2), and the order the model would see swaps.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from spatialladder.config.grpo import GRPODataSettings
from spatialladder.config.sft import SFTDataSettings
from spatialladder.errors import DataFormatError
from spatialladder.records import read_jsonl, read_training_records
from spatialladder.train.grpo_rows import load_grpo_rows
from spatialladder.train.media import load_image
from spatialladder.train.sft_rows import SFTRows, sft_sample

REPO = Path(__file__).resolve().parents[2]
N_FRAMES = 32
VISIBLE = {  # category -> frames showing it; first appearances 1, 2, 3 over all 32 frames
    "lamp": {1, *range(4, N_FRAMES)},
    "sofa": set(range(2, N_FRAMES)),
    "chair": {3, *range(8, N_FRAMES)},
}
SPOT = {"lamp": (4, 4), "sofa": (20, 4), "chair": (36, 4)}  # where each category is painted (x, y)
OPTIONS = ["A. lamp, sofa, chair", "B. sofa, lamp, chair", "C. sofa, chair, lamp", "D. chair, lamp, sofa"]


def order_seen(frames) -> list[str]:
    """Categories by the first of ``frames`` (PIL images, in order) that shows them: the answer the frames support."""
    first = {}
    for index, im in enumerate(frames):
        for category, (x, y) in SPOT.items():
            if im.getpixel((x, y)) == (255, 255, 255):
                first.setdefault(category, index)
    return sorted(first, key=first.get)


def answer_order(record: dict) -> list[str]:
    option = next(o for o in record["options"] if o.startswith(record["answer"] + "."))
    return option.split(". ", 1)[1].split(", ")


@pytest.fixture(scope="module")
def appearance_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from PIL import Image, ImageDraw

    root = tmp_path_factory.mktemp("appearance")
    frames = []
    for i in range(N_FRAMES):
        im = Image.new("RGB", (56, 28), (0, 0, 0))
        for category, (x, y) in SPOT.items():
            if i in VISIBLE[category]:
                ImageDraw.Draw(im).rectangle([x, y, x + 8, y + 8], fill=(255, 255, 255))
        rel = f"scene0000_00/{i * 24}.png"
        (root / "images" / rel).parent.mkdir(parents=True, exist_ok=True)
        im.save(root / "images" / rel)
        frames.append(rel)
    count = {"question": "How many lamp(s) are in this room?", "options": None, "answer": "1",
             "question_type": "object count"}  # fmt: skip
    order = {
        "question": "What will be the first-time appearance order of the following categories in the video: "
        "chair, lamp, sofa?",
        "options": OPTIONS,
        "answer": "A",
        "question_type": "appearance order",
    }
    lines = [{"question_id": i, **q, "image": frames, "data_type": "video"} for i, q in enumerate((count, order))]
    path = root / "spld_spatial_data.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    return path


def test_the_fixture_swaps_under_a_16_of_32_subsample(appearance_file: Path) -> None:
    from spatialladder.sampling import uniform_sample

    record = dict(read_jsonl(appearance_file))[2]
    paths = [appearance_file.parent / "images" / p for p in record["image"]]
    assert order_seen([load_image(p) for p in paths]) == answer_order(record) == ["lamp", "sofa", "chair"]
    assert order_seen([load_image(p) for p in uniform_sample(paths, 16)]) == ["sofa", "lamp", "chair"]


def sft_frames(file: Path, **data: object) -> list[list]:
    settings = SFTDataSettings(files=[str(file)], **data)
    samples = [sft_sample(r, "spatial", file.parent / "images", settings, "fixed", where)
               for where, r in read_training_records(file)]  # fmt: skip
    return [SFTRows([s], processor=None).row(0)["messages"][0]["content"][0]["video"] for s in samples]


def grpo_frames(file: Path, **data: object) -> list[list]:
    settings = GRPODataSettings(files=[str(file)], **data)  # the stage config's defaults, as run_grpo passes them
    rows = load_grpo_rows([file], video_frames=settings.video_frames, frame_dependent=settings.frame_dependent).rows
    return [[load_image(p) for p in row["video"]] for row in rows]


@pytest.mark.parametrize("build", [sft_frames, grpo_frames], ids=["sft", "grpo"])
@pytest.mark.parametrize("data", [{}, {"video_frames": 16}, {"video_frames": 16, "frame_dependent": "keep_all"}],
                         ids=["defaults", "subsample", "subsample-keep_all"])  # fmt: skip
def test_appearance_order_target_matches_the_frames_shown(appearance_file, build, data) -> None:
    """The SFT target / GRPO solution is the order the shown frames support, whatever ``video_frames`` says."""
    count_frames, order_frames = build(appearance_file, **data)
    record = dict(read_jsonl(appearance_file))[2]
    assert order_seen(order_frames) == answer_order(record)
    assert len(order_frames) == N_FRAMES
    # a scene-level answer (object count) does not depend on the frames: it is subsampled as configured
    assert len(count_frames) == data.get("video_frames", N_FRAMES)


@pytest.mark.parametrize("build", [sft_frames, grpo_frames], ids=["sft", "grpo"])
def test_refusal_names_file_and_line(appearance_file, build) -> None:
    with pytest.raises(DataFormatError) as err:
        build(appearance_file, video_frames=16, frame_dependent="error")
    message = str(err.value)
    assert message.startswith(f"{appearance_file}:2: ") and "\n" not in message
    assert "all 32 listed frames" in message and "data.video_frames: null" in message


def test_build_data_marks_its_appearance_records_by_vsi_type_too() -> None:
    from spatialladder.vocab import is_frame_dependent

    assert is_frame_dependent("appearance order")
    assert is_frame_dependent("x", "obj_appearance_order")
    assert not is_frame_dependent("object count", "object_counting")


def test_defaults_and_shipped_trainers_show_every_frame_build_data_writes() -> None:
    """Data and trainers agree by default: build-data's 32 frames reach the model, as in the official trainers."""
    assert SFTDataSettings(files=["x"]).video_frames is None
    assert GRPODataSettings(files=["x"]).video_frames is None
    data = yaml.safe_load((REPO / "configs/data/scannet.yaml").read_text())
    assert data["modalities"]["video_frames"] == N_FRAMES
    for name in ("stage2_spatial", "stage3_grpo", "coldstart"):
        shown = yaml.safe_load((REPO / f"configs/train/{name}.yaml").read_text())["data"].get("video_frames")
        assert shown is None or shown >= N_FRAMES, name
