"""The shortcut audit: hand-computed cases, a biased fixture flagged and its random control not, scene-grouped
folds, determinism, build-data's manifest and report, and the audit-data command on ours and released records."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from spatialladder.cli import app
from spatialladder.data.audit import Item, audit_items, cross_validate, na_chance, option_text, scene_key
from spatialladder.data.build import build_dataset
from spatialladder.metrics.core import mean_relative_accuracy

from .conftest import make_config

OBJECTS = ("chair", "table", "sofa", "bed", "lamp", "door", "window", "sink", "tv", "shelf")


def biased_items(n: int = 240, scenes: int = 24, seed: int = 0) -> list[Item]:
    """Four groups over ``scenes`` fake scenes: every count is 2 (biased), counts spread log-uniformly over
    0.1..30 (control), 'left' always the right option in shuffled positions (biased), random MC (control)."""
    rng = np.random.default_rng(seed)
    items = []
    for i in range(n):
        scene = f"scene{i % scenes:04d}_00"
        obj = OBJECTS[rng.integers(len(OBJECTS))]
        count_q = f"How many {obj}(s) are in this room?"
        items.append(Item("spatial", "video", "count_biased", scene, count_q, None, "2"))
        spread = float(np.exp(rng.uniform(np.log(0.1), np.log(30.0))))
        items.append(Item("spatial", "video", "count_control", scene, count_q, None, f"{spread:.2f}"))
        sides = list(rng.permutation(["left", "right", "back"]))
        opts = tuple(f"{'ABC'[k]}. {t}" for k, t in enumerate(sides))
        question = f"Standing by the {obj}, is the sofa to the left, right or back?"
        items.append(Item("spatial", "video", "mc_biased", scene, question, opts, "ABC"[sides.index("left")]))
        picks = list(rng.permutation(OBJECTS)[:4])
        opts = tuple(f"{'ABCD'[k]}. {t}" for k, t in enumerate(picks))
        question = f"Which of these objects ({', '.join(picks)}) is the closest to the {obj}?"
        items.append(Item("spatial", "video", "mc_control", scene, question, opts, "ABCD"[rng.integers(4)]))
    return items


def test_na_chance_is_the_order_of_magnitude_guess():
    grid = np.linspace(-0.5, 0.5, 1001)
    assert na_chance() == pytest.approx(np.mean([mean_relative_accuracy(10**u, 1.0) for u in grid]))
    # by hand: P(|10**u - 1| <= t) = log10((1 + t) / (1 - t)) for u uniform on [-1/2, 1/2], mean over t = .05 … .5
    by_hand = np.mean([np.log10((1 + t) / (1 - t)) for t in np.arange(1, 11) * 0.05])
    assert na_chance() == pytest.approx(by_hand, abs=2e-3)


def test_hand_computed_group_every_answer_a():
    """Two options, gold always A: chance 50, the majority letter (A) 100; two scenes → two folds."""
    items = [Item("f", "video", "t", f"s{i % 2}", f"q {i}", ("A. x", "B. y"), "A") for i in range(8)]
    scores = cross_validate(items, folds=5, seed=0, trees=5)
    assert scores.folds == 2 and scores.chance == 0.5
    assert scores.majority.tolist() == [1.0] * 8 and scores.gap_pp() == 50.0


def test_one_scene_is_not_audited_with_the_reason():
    items = [Item("f", "video", "t", "s0", "q", None, "2") for _ in range(5)]
    scores = cross_validate(items, folds=5, seed=0)
    assert scores.reason == "1 scene: scene-grouped folds need at least 2" and scores.majority is None


def test_no_scene_is_in_train_and_test_folds():
    """Each scene names itself in its questions and has one answer of its own: a scene seen in training would be
    answered exactly (forest 100); held out whole, its name is unseen and its answer unknowable."""
    rng = np.random.default_rng(0)
    names = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]
    answers = {name: f"{float(np.exp(rng.uniform(0.0, 6.0))):.1f}" for name in names}
    items = [Item("f", "video", "t", name, f"How many chair(s) are in the {name} room?", None, answers[name])
             for name in names for _ in range(6)]  # fmt: skip
    scores = cross_validate(items, folds=5, seed=0, trees=20)
    assert scores.folds == 5 and scores.forest.mean() < 0.5


def test_biased_rows_flagged_and_random_controls_not():
    audit = audit_items(biased_items(), folds=5, seed=0, margin_pp=10.0, trees=30)
    rows = {r["question_type"]: r for r in audit["rows"]}
    assert rows["count_biased"]["majority"] == 100.0 and rows["count_biased"]["flagged"]
    assert rows["mc_biased"]["forest"] == 100.0 and rows["mc_biased"]["chance"] == 33.33
    assert rows["mc_biased"]["flagged"]
    assert not rows["count_control"]["flagged"] and not rows["mc_control"]["flagged"]
    assert rows["mc_control"]["chance"] == 25.0 and rows["count_control"]["chance"] == round(100 * na_chance(), 2)
    assert all(r["n"] == 240 and r["n_scenes"] == 24 and r["folds"] == 5 for r in rows.values())


def test_unusable_answers_are_counted_not_dropped_silently():
    items = biased_items(40, scenes=4)
    items += [Item("spatial", "video", "mc_control", "scene0000_00", "q?", ("A. x", "B. y"), "E"),
              Item("spatial", "video", "count_control", "scene0000_00", "q?", None, "many")]  # fmt: skip
    audit = audit_items(items, folds=2, seed=0, trees=5)
    assert audit["skipped"] == {"MC answer is not one of its option letters": 1, "numeric answer is not a number": 1}


def test_option_text_and_scene_keys():
    assert option_text("B. Left ") == "left" and option_text("left") == "left"
    assert scene_key({"scene_id": "scene0001_00"}, ["x/1.jpg"]) == ("scene0001_00", "scene_id")
    assert scene_key({}, ["images/scene0002_01/820.jpg"]) == ("scene0002_01", "ScanNet id in the image path")
    assert scene_key({}, ["room7/1.jpg"]) == ("room7", "image folder")


def released(path: Path, items: list[Item]) -> Path:
    """Items as SpatialLadder-26k lines: no scene_id, modality or vsi_question_type; image paths carry the scene."""
    lines = []
    for i, it in enumerate(items):
        row = {"question_id": i, "question": it.question, "options": list(it.options) if it.options else None,
               "answer": it.answer, "image": [f"{it.scene}/{k}.jpg" for k in range(2)],
               "question_type": it.question_type, "data_type": "multi_view"}  # fmt: skip
        lines.append(json.dumps(row))
    lines.append(json.dumps({"question_id": 0, "question": "Find the chair.", "image": ["scene0000_00/1.jpg"],
                             "answer": [{"bbox_2d": [1, 2, 3, 4], "label": "chair"}]}))  # fmt: skip
    coldstart = {"question_id": 0, "prompt": "How many chair(s)? Think first.", "image": ["scene0001_00/1.jpg"],
                 "solution": "<think>…</think><answer>2</answer>", "data_type": "single_image"}  # fmt: skip
    lines.append(json.dumps(coldstart))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_audit_data_cli_on_released_records_is_deterministic(tmp_path):
    data = released(tmp_path / "spld_spatial_data.jsonl", biased_items(60, scenes=6))
    outs = []
    for name in ("a", "b"):
        result = CliRunner().invoke(app, ["audit-data", str(data), "--out", str(tmp_path / name), "--folds", "3"])
        assert result.exit_code == 0, result.output
        outs.append((tmp_path / name / "audit.json").read_bytes())
    assert outs[0] == outs[1]
    audit = json.loads(outs[0])
    assert audit["scene_keys"] == {"ScanNet id in the image path": 242}
    rows = {r["question_type"]: r for r in audit["rows"]}
    assert rows["count_biased"]["flagged"] and rows["count_biased"]["modality"] == "multi_view"
    assert rows["localization"]["reason"].startswith("grounding") and rows["localization"]["n"] == 1
    assert rows["(cold start)"]["reason"].startswith("cold start") and rows["(cold start)"]["n"] == 1
    assert rows["count_biased"]["n_scenes"] == 6 and rows["count_biased"]["folds"] == 3
    assert "| count_biased | na | 60 | 6 |" in result.output and "flagged" in result.output
    assert (tmp_path / "b" / "audit.md").read_text().startswith("# Shortcut audit")


def test_audit_data_bad_input_is_one_line(tmp_path, monkeypatch, capsys, console):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"question": "q", "answer": "1", "image": ["a/1.jpg"], "question_type": "object count"}\nnot json\n'
    )
    no_type = tmp_path / "no_type.jsonl"
    no_type.write_text('{"question": "q", "answer": "1", "image": ["a/1.jpg"]}\n')
    for path, message in ((bad, "bad.jsonl:2: not valid JSON"), (no_type, "no_type.jsonl:1: a spatial record without")):
        assert console(["audit-data", str(path), "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err and "Traceback" not in err


@pytest.fixture(scope="module")
def audited_build(scans, tmp_path_factory):
    out = tmp_path_factory.mktemp("audited")
    build_dataset(make_config(scans, out), progress=False)
    return out


def test_build_data_writes_the_audit_to_manifest_and_report(audited_build):
    manifest = json.loads((audited_build / "manifest.json").read_text())
    audit = manifest["audit"]
    assert audit["folds"] == 5 and audit["seed"] == 0 and "seconds" not in audit and "debias" not in manifest
    spatial = [json.loads(line) for line in (audited_build / "spld_spatial_data.jsonl").read_text().splitlines()]
    spatial_rows = [r for r in audit["rows"] if r["file"] == "spatial"]
    assert sum(r["n"] for r in spatial_rows) == len(spatial)  # every record in one row, audited or not
    for r in spatial_rows:
        assert set(r) >= {"modality", "question_type", "kind", "n", "n_scenes", "chance", "majority", "forest"}
        assert r["folds"] == (min(5, r["n_scenes"]) if r["n_scenes"] >= 2 else 0)
        assert (r["reason"] is None) == (r["n_scenes"] >= 2)
    grounding = [r for r in audit["rows"] if r["file"] == "grounding"]
    assert len(grounding) == 1 and grounding[0]["n"] == manifest["files"]["grounding"]["records"]
    report = (audited_build / "build_report.md").read_text()
    assert "## Shortcut audit" in report and "| spatial | video |" in report


def test_audit_data_on_our_build_matches_the_manifest(audited_build, tmp_path):
    """The command and build-data score our records alike (same folds, seed, predictors)."""
    result = CliRunner().invoke(
        app, ["audit-data", str(audited_build / "spld_spatial_data.jsonl"), "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    ours = json.loads((tmp_path / "audit.json").read_text())
    manifest = json.loads((audited_build / "manifest.json").read_text())["audit"]
    keep = ("modality", "question_type", "n", "chance", "majority", "forest", "flagged")
    cli_rows = [{k: r[k] for k in keep} for r in ours["rows"]]
    build_rows = [{k: r[k] for k in keep} for r in manifest["rows"] if r["file"] == "spatial"]
    assert cli_rows == build_rows
    assert ours["scene_keys"] == {"scene_id": sum(r["n"] for r in ours["rows"])}
