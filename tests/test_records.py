"""One record schema: strict for what build-data writes, lenient for the released SpatialLadder-26k files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spatialladder.errors import DataFormatError
from spatialladder.records import (
    GroundingRecord,
    SpatialRecord,
    TrainingRecord,
    read_jsonl,
    read_records,
    read_training_records,
)

# Lines as the released files write them (official-spatialladder.md §2.3): no build-data extras, numeric answers as
# text, ``options`` null for numeric questions, ``image`` always a list.
OFFICIAL = {
    "grounding": {"question_id": 7, "question": "Where is the door?", "image": ["scene0000_00/0.jpg"],
                  "answer": [{"bbox_2d": [10, 20, 300, 400], "label": "door"}], "data_type": "single_image"},
    "spatial": {"question_id": 8, "question": "How many chairs?", "options": None, "answer": "3",
                "image": ["scene0000_00/0.jpg", "scene0000_00/24.jpg"], "question_type": "object count",
                "data_type": "multi_view"},
    "coldstart": {"question_id": 9, "prompt": "Question: How many chairs?", "image": ["scene0000_00/0.jpg"],
                  "solution": "<think>3 seen.</think><answer>3</answer>", "data_type": "single_image"},
}  # fmt: skip


def write_lines(path: Path, lines: list[object]) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines), encoding="utf-8")
    return path


def test_official_lines_read_leniently(tmp_path: Path) -> None:
    file = write_lines(tmp_path / "f.jsonl", list(OFFICIAL.values()))
    (w1, grounding), (w2, spatial), (w3, coldstart) = read_training_records(file)
    assert (w1, w2, w3) == (f"{file}:1", f"{file}:2", f"{file}:3")
    assert grounding.kind == "grounding" and grounding.boxes == ({"bbox_2d": [10, 20, 300, 400], "label": "door"},)
    assert grounding.image_size is None and grounding.answer is None
    assert (spatial.kind, spatial.options, spatial.answer, spatial.answer_kind) == ("spatial", None, "3", "na")
    assert spatial.data_type == "multi_view" and spatial.question_id == "8"
    assert (coldstart.kind, coldstart.prompt, coldstart.question) == ("coldstart", "Question: How many chairs?", None)


def test_lenient_mode_fills_what_the_official_files_leave_out() -> None:
    base = {"question": "Which is closer?", "answer": 2, "question_type": "relative distance"}
    one = TrainingRecord.parse({**base, "image": "a.jpg"}, "r")  # a bare path is one image
    assert (one.image, one.data_type, one.answer, one.options) == (("a.jpg",), "single_image", "2", None)
    many = TrainingRecord.parse({**base, "image": ["a.jpg", "b.jpg"], "options": []}, "r")
    assert (many.data_type, many.options, many.answer_kind) == ("multi_view", None, "na")
    aliased = TrainingRecord.parse({**base, "image": ["a.jpg"], "modality": "Multi View", "extra": 1}, "r")
    assert aliased.data_type == "multi_view"  # ``modality`` and its aliases count; unknown keys are ignored
    mca = TrainingRecord.parse({**base, "image": ["a.jpg"], "options": ["A. x", "B. y"]}, "r")
    assert (mca.options, mca.answer_kind) == (("A. x", "B. y"), "mca")
    sized = TrainingRecord.parse({**OFFICIAL["grounding"], "image_size": {"width": 648, "height": 484}}, "r")
    assert sized.image_size == (648, 484)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"options": "A. x"}, "r: options must be a list of strings or null (got 'A. x')"),
        ({"image": []}, "r: 'image' must be a non-empty list of paths (got [])"),
        ({"data_type": "audio"}, "r: data_type 'audio' not one of single_image, multi_view, video"),
    ],
)
def test_lenient_mode_still_names_what_is_wrong(change: dict, message: str) -> None:
    with pytest.raises(DataFormatError) as err:
        TrainingRecord.parse({**OFFICIAL["spatial"], **change}, "r")
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ([], "r: a grounding record's answer is an empty list (expected [{bbox_2d, label}])"),
        ([{"bbox_2d": [1, 2, 3]}], "r: each answer item needs bbox_2d [x1, y1, x2, y2] (got {'bbox_2d': [1, 2, 3]})"),
        ([{"bbox_2d": [1, 2, 3, 4]}], "r: answer item {'bbox_2d': [1, 2, 3, 4]} has no 'label'"),
    ],
)
def test_grounding_answers_are_checked(answer: list, message: str) -> None:
    with pytest.raises(DataFormatError) as err:
        TrainingRecord.parse({**OFFICIAL["grounding"], "answer": answer}, "r")
    assert str(err.value) == message


def test_unrecognised_record_lists_its_keys() -> None:
    with pytest.raises(DataFormatError, match=r"^r: unrecognised record \(keys \['image', 'question'\]\); expected"):
        TrainingRecord.parse({"question": "q", "image": ["a.jpg"]}, "r")


def test_one_reader_names_file_and_line(tmp_path: Path) -> None:
    listed = write_lines(tmp_path / "f.jsonl", [{"a": 1}, "", "[1, 2]"])
    assert next(read_jsonl(listed)) == (1, {"a": 1})
    with pytest.raises(DataFormatError) as err:
        list(read_jsonl(listed))
    assert str(err.value) == f"{listed}:3: expected a JSON object, got list"
    broken = write_lines(tmp_path / "g.jsonl", [{"a": 1}, "{oops"])
    with pytest.raises(DataFormatError) as err:
        list(read_jsonl(broken))
    assert str(err.value).startswith(f"{broken}:2: not valid JSON (")
    with pytest.raises(DataFormatError, match=r"missing.jsonl: data file not found"):
        list(read_jsonl(tmp_path / "missing.jsonl"))


def test_strict_mode_refuses_official_lines_that_lack_our_fields(tmp_path: Path) -> None:
    """Ours must carry scene_id, frame_indices, …; the same line is fine for the trainers (lenient)."""
    file = write_lines(tmp_path / "spld_spatial_data.jsonl", [OFFICIAL["spatial"]])
    with pytest.raises(DataFormatError) as err:
        read_records(file, SpatialRecord)
    message = str(err.value)
    assert message.startswith(f"{file}:1: not a SpatialRecord: ") and "scene_id: Field required" in message
    assert "\n" not in message
    assert [r.kind for _, r in read_training_records(file)] == ["spatial"]
    with pytest.raises(DataFormatError, match=r":1: not a GroundingRecord: .*scene_id: Field required"):
        read_records(write_lines(tmp_path / "g.jsonl", [OFFICIAL["grounding"]]), GroundingRecord)


def test_capture_times_are_read_when_a_record_gives_them() -> None:
    """Ours say when each frame was captured (index in the scene's video + its rate); the released files do not,
    and a record pointing at a video file lists no indices."""
    ours = TrainingRecord.parse({**OFFICIAL["spatial"], "frame_indices": [0, 24], "fps": 24}, "r")
    assert (ours.frame_indices, ours.fps) == ((0, 24), 24.0)
    assert ours.capture_times([1]) == ((24,), 24.0)
    released = TrainingRecord.parse(OFFICIAL["spatial"], "r")
    assert (released.frame_indices, released.fps, released.capture_times([0, 1])) == (None, None, None)
    video_file = {**OFFICIAL["spatial"], "image": ["scannet/scene0000_00.mp4"], "frame_indices": [], "fps": 24.0}
    assert TrainingRecord.parse(video_file, "r").capture_times([0]) is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"frame_indices": [0]}, "r: frame_indices has 1 entries for 2 images (one per image)"),
        ({"frame_indices": [0, -1]}, "r: frame_indices must be a list of frame numbers ≥ 0 (got [0, -1])"),
        ({"frame_indices": "0,24"}, "r: frame_indices must be a list of frame numbers ≥ 0 (got '0,24')"),
        ({"fps": 0}, "r: fps must be a positive number of frames per second (got 0)"),
        ({"fps": "30"}, "r: fps must be a positive number of frames per second (got '30')"),
    ],
)
def test_capture_times_that_cannot_be_true_are_refused(change: dict, message: str) -> None:
    with pytest.raises(DataFormatError) as err:
        TrainingRecord.parse({**OFFICIAL["spatial"], **change}, "r")
    assert str(err.value) == message
