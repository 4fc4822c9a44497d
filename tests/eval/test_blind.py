"""``eval --blind``: the same questions with no image or video, no vision encoder call, no decoding; its own files
beside a sighted run's, and the vision gain (sighted − blind) per task once both are in the folder."""

import json
import shutil
from pathlib import Path

import pytest

from spatialladder.config.base import ModelSettings
from spatialladder.errors import DataFormatError
from spatialladder.eval import get_benchmark
from spatialladder.eval.html_report import EVIDENCE_START
from spatialladder.eval.messages import DIRECT, build_message
from spatialladder.eval.predict import predict_shard, prediction_settings, run_key
from spatialladder.eval.report import update_vision_gain, write_reports
from spatialladder.eval.runner import run_eval, run_score
from spatialladder.eval.sharding import BLIND_PREDICTIONS, PREDICTIONS
from spatialladder.prompts import LMMS_PRE
from spatialladder.testing.synthetic_benchmarks import BenchItem, solid_frames, write_cvbench

from .test_runner import make_cfg


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def unreadable_videos(vsi_dir: Path, to: Path) -> Path:
    """A copy of a VSI-Bench folder whose videos are not videos: any attempt to decode one fails."""
    shutil.copytree(vsi_dir, to)
    videos = list(to.rglob("*.mp4"))
    assert videos
    for video in videos:
        video.write_bytes(b"not an mp4")
    return to


@pytest.fixture(scope="module")
def cvbench_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    items = [
        BenchItem("Count", "How many chairs? (A) 1 (B) 2", "(B)", "s", solid_frames(1), source="ADE20K"),
        BenchItem("Depth", "Which is closer? (A) a (B) b", "(A)", "s", solid_frames(1, seed=1), source="Omni3D"),
    ]
    return write_cvbench(items, tmp_path_factory.mktemp("cvbench"))


def test_blind_message_is_the_text_alone_less_the_video_pre_prompt(vsi_dir: Path, cvbench_dir: Path, tmp_path: Path):
    """No image or video item, nothing opened; ``lmms`` loses its first line "These are frames of a video." (TsT's
    blind text: question, options, post prompt), every other prompt is word for word the sighted one."""
    spec = get_benchmark("vsibench")
    sample = spec.load(unreadable_videos(vsi_dir, tmp_path / "vsi"), media=True)[2]  # MC, on a video
    inputs = DIRECT
    blind, images, videos = build_message(sample, spec, "lmms", 4, None, inputs, blind=True)
    assert images == [] and videos == []
    (turn,) = blind
    (item,) = turn["content"]
    assert item["type"] == "text"
    assert item["text"] == (
        "Which is the closest to the bed?\nOptions:\nA. bed\nB. tv\nC. sofa\nD. lamp\n"
        "Answer with the option's letter from the given choices directly."
    )
    assert LMMS_PRE not in item["text"]
    sighted, _, _ = build_message(spec.load(vsi_dir)[2], spec, "direct", 4, None, inputs)
    (blind_direct,), _, _ = build_message(sample, spec, "direct", 4, None, inputs, blind=True)
    assert blind_direct["content"] == [sighted[0]["content"][-1]]  # the sighted text item, alone
    cv = get_benchmark("cvbench")
    image_sample = cv.load(cvbench_dir)[0]
    (turn,), images, videos = build_message(image_sample, cv, "direct", 1, None, inputs, blind=True)
    (sighted_turn,), sighted_images, _ = build_message(image_sample, cv, "direct", 1, None, inputs)
    assert images == videos == [] and len(sighted_images) == 1
    assert turn["content"] == [sighted_turn["content"][-1]]


def test_blind_run_key_differs_and_the_sighted_key_is_unchanged(tiny_model_dir: Path, vsi_dir: Path, tmp_path: Path):
    sighted = make_cfg(tiny_model_dir, vsi_dir, tmp_path / "o")
    blind = make_cfg(tiny_model_dir, vsi_dir, tmp_path / "o", blind=True)
    assert "blind" not in prediction_settings(sighted)  # keys of runs made before blind runs existed still match
    assert prediction_settings(blind) == {**prediction_settings(sighted), "blind": True}
    assert run_key(blind) != run_key(sighted)


def vision_calls(generator) -> list[int]:
    """A counter of the vision tower's forward calls on the real (tiny) model."""
    from spatialladder.models.families import family_for
    from spatialladder.models.load import vision_tower

    calls = [0]
    tower = vision_tower(generator.model, family_for(generator.model.config))
    tower.register_forward_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    return calls


@pytest.mark.parametrize("family", ["qwen2.5-vl", "qwen3-vl"])
def test_blind_never_calls_the_vision_tower_nor_decodes(
    family: str, tiny_family_dirs: dict, vsi_dir: Path, cvbench_dir: Path, tmp_path: Path
):
    """Videos that cannot be decoded and a hook on the vision tower: a blind run predicts every question (videos
    and images) with zero tower calls; the same generator, sighted, calls it (the hook counts)."""
    from spatialladder.eval.generation import HFGenerator

    side = 32 if family == "qwen3-vl" else 28  # one merged token of the family
    model = ModelSettings(
        name_or_path=str(tiny_family_dirs[family]), dtype="float32", min_pixels=side**2, max_pixels=4 * side**2
    )
    broken = unreadable_videos(vsi_dir, tmp_path / "vsi")
    spec = get_benchmark("vsibench")
    prompt = "lmms" if family == "qwen3-vl" else "direct"
    cfg = make_cfg(model.name_or_path, broken, tmp_path / "out", model=model, blind=True, prompt=prompt)
    generator = HFGenerator(make_cfg(model.name_or_path, vsi_dir, tmp_path / "sighted", model=model, prompt=prompt))
    calls = vision_calls(generator)
    assert predict_shard(cfg, spec, spec.load(broken), generate=generator) == (6, 0)
    cv = get_benchmark("cvbench")
    cv_cfg = make_cfg(model.name_or_path, cvbench_dir, tmp_path / "cv", model=model, bench="cvbench", blind=True)
    assert predict_shard(cv_cfg, cv, cv.load(cvbench_dir), generate=generator) == (2, 0)
    assert calls == [0]
    rows = records(tmp_path / "out" / BLIND_PREDICTIONS) + records(tmp_path / "cv" / BLIND_PREDICTIONS)
    assert len(rows) == 8 and all(r["blind"] is True and "video_grid_thw" not in r for r in rows)
    assert not (tmp_path / "out" / PREDICTIONS).exists()
    sighted = make_cfg(model.name_or_path, vsi_dir, tmp_path / "sighted", model=model, prompt=prompt, limit=1)
    predict_shard(sighted, spec, spec.load(vsi_dir)[:1], generate=generator)
    assert calls[0] >= 1  # the hook does count a sighted question's encoding


def test_blind_then_sighted_in_one_folder_report_the_vision_gain(tiny_model_dir: Path, vsi_dir: Path, tmp_path: Path):
    """End to end with the tiny Qwen2.5-VL: the blind run's files, flags and empty grids; the sighted run that
    follows in the same --out predicts every question again and both reports get sighted − blind per task."""
    out = tmp_path / "run"
    blind = run_eval(make_cfg(tiny_model_dir, unreadable_videos(vsi_dir, tmp_path / "vsi"), out, blind=True))
    assert blind.n_generated == 6 and blind.results["blind"] is True and blind.results["vision_grids"] == {}
    assert "vision_gain" not in blind.results
    for name in ("results.blind.json", "results.blind.md", "scores.blind.jsonl", "results.blind.png"):
        assert (out / name).is_file(), name
    assert (out / "config.resolved.blind.yaml").is_file() and not (out / "results.json").exists()
    sighted = run_eval(make_cfg(tiny_model_dir, vsi_dir, out))
    assert sighted.n_generated == 6 and sighted.n_reused == 0  # blind predictions are never reused
    assert sighted.results["blind"] is False and sighted.results["vision_grids"]["video_grid_thw"]
    on_disk = {name: json.loads((out / name).read_text()) for name in ("results.json", "results.blind.json")}
    s_types = on_disk["results.json"]["aggregate"]["per_type"]
    b_types = on_disk["results.blind.json"]["aggregate"]["per_type"]
    expected = {
        "overall": round(on_disk["results.json"]["overall"] - on_disk["results.blind.json"]["overall"], 6),
        "per_type": {t: round(s_types[t] - b_types[t], 6) for t in s_types},
        "blind_file": "results.blind.json",
        "sighted_file": "results.json",
    }
    assert on_disk["results.json"]["vision_gain"] == expected == on_disk["results.blind.json"]["vision_gain"]
    assert sighted.results["vision_gain"] == expected
    assert (
        "## Vision gain" in (out / "results.md").read_text()
        and "## Vision gain" in (out / "results.blind.md").read_text()
    )
    assert len(records(out / "scores.blind.jsonl")) == 6 == len(records(out / "scores.jsonl"))
    # the blind page, rewritten only to add the gain, keeps the confusion tables and gallery it was written with
    for page in ("results.html", "results.blind.html"):
        text = (out / page).read_text()
        assert "vision gain" in text and text.count(EVIDENCE_START) == 1 and "No samples were given" not in text, page


def results_of(bench: str, per_type: dict[str, float], overall: float, *, blind: bool, model: str = "m") -> dict:
    return {
        "bench": bench,
        "overall": overall,
        "aggregate": {"overall": overall, "per_type": per_type},
        "n": 4,
        "n_missing": 0,
        "n_unparsed": 0,
        "scoring_profile": "spatialladder",
        "blind": blind,
        "settings": {"model": {"name_or_path": model}, "prompt": "direct", "subset": None},
    }


def test_vision_gain_on_hand_computed_scores(tmp_path: Path):
    """Sighted 50 / 30 (overall 40), blind 20 / 35 (overall 27.5): gain +30, −5, overall +12.5 pp, in both files and
    both tables; a blind run of another model later replaces the pair's gain by none."""
    sighted = results_of("vsibench", {"object_counting": 50.0, "room_size_estimation": 30.0}, 40.0, blind=False)
    blind = results_of("vsibench", {"object_counting": 20.0, "room_size_estimation": 35.0}, 27.5, blind=True)
    write_reports(sighted, [{"id": "1", "question_type": "object_counting", "answer": "2", "score": 1.0}], tmp_path)
    assert update_vision_gain(tmp_path) is None  # one run: nothing to compare
    write_reports(blind, [], tmp_path, stem="results.blind")
    gain = update_vision_gain(tmp_path)
    assert gain == {
        "overall": 12.5,
        "per_type": {"object_counting": 30.0, "room_size_estimation": -5.0},
        "blind_file": "results.blind.json",
        "sighted_file": "results.json",
    }
    for stem in ("results", "results.blind"):
        assert json.loads((tmp_path / f"{stem}.json").read_text())["vision_gain"] == gain
        md = (tmp_path / f"{stem}.md").read_text()
        assert "| task | sighted | blind | gain |" in md
        assert "| object_counting | 50.00 | 20.00 | +30.00 |" in md
        assert "| room_size_estimation | 30.00 | 35.00 | -5.00 |" in md
        assert "| **overall** | **40.00** | **27.50** | **+12.50** |" in md
    assert "(blind" in (tmp_path / "results.blind.md").read_text().splitlines()[0]
    assert len(records(tmp_path / "scores.jsonl")) == 1  # the other run's per-sample rows are kept
    write_reports(
        {**blind, "settings": {**blind["settings"], "model": {"name_or_path": "other"}}},
        [],
        tmp_path,
        stem="results.blind",
    )
    assert update_vision_gain(tmp_path) is None
    for stem in ("results", "results.blind"):
        assert "vision_gain" not in json.loads((tmp_path / f"{stem}.json").read_text())
        assert "Vision gain" not in (tmp_path / f"{stem}.md").read_text()


def test_score_reads_blind_from_the_records(vsi_dir: Path, tmp_path: Path):
    """``score`` needs no --blind: a file flagged blind reports as results.blind.*; a mixed file is an error."""
    rows = [{"id": str(i), "prediction": "2", "blind": True} for i in range(6)]
    path = tmp_path / BLIND_PREDICTIONS
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    results = run_score("vsibench", path, vsi_dir, tmp_path / "out", prompt="direct")
    assert results["blind"] is True and results["vision_grids"] == {}
    assert (tmp_path / "out" / "results.blind.json").is_file() and not (tmp_path / "out" / "results.json").exists()
    rows[0]["blind"] = False
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DataFormatError, match="5 of 6 predictions are flagged blind"):
        run_score("vsibench", path, vsi_dir, tmp_path / "out2", prompt="direct")


def test_cli_blind_flag_and_help(tiny_model_dir: Path, vsi_dir: Path, tmp_path: Path):
    """``eval --blind`` sets ``blind`` (a YAML's ``blind: true`` is not undone without the flag) and says so."""
    from typer.testing import CliRunner

    from spatialladder.cli import app
    from spatialladder.config.eval import build_eval_config

    assert build_eval_config(None, [], bench="vsi", model="m", data="d", blind=True).blind is True
    assert build_eval_config(None, ["blind=true"], bench="vsi", model="m", data="d", blind=None).blind is True
    runner = CliRunner()
    assert "--blind" in runner.invoke(app, ["eval", "--help"]).output
    config = Path(__file__).resolve().parents[2] / "configs" / "debug" / "eval_vsibench.yaml"
    args = ["eval", "-c", str(config), "--model", str(tiny_model_dir), "--data", str(vsi_dir)]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "e"), "--limit", "2", "--blind"])
    assert result.exit_code == 0, result.output
    assert "vsibench blind: overall" in result.output
    assert json.loads((tmp_path / "e" / "results.blind.json").read_text())["blind"] is True
