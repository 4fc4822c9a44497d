"""Iterative Bias Pruning: a partly biased type is pruned to within the margin, a wholly biased one stops at the
cap, the unbiased control is left alone; a debiased build on the synthetic scans keeps its files, cold-start
records, counts and question ids consistent, and is byte-identical twice."""

from __future__ import annotations

import json

import numpy as np
import pytest

from spatialladder.config.data import AuditSettings, DebiasSettings
from spatialladder.data.audit import Item, cross_validate, option_text
from spatialladder.data.build import build_dataset
from spatialladder.data.debias import prune_group
from spatialladder.records import FILES, ColdStartRecord, SpatialRecord, read_records

from .conftest import make_config
from .test_audit import OBJECTS, biased_items

AUDIT = AuditSettings(folds=4, trees=30)


def partly_biased(n: int = 240, biased: int = 80, scenes: int = 24, seed: int = 1) -> list[Item]:
    """Relative-direction-like MC over 4 options: the first ``biased`` records always have 'left' as the answer
    (a shortcut), the rest a random gold option; scenes interleaved."""
    rng = np.random.default_rng(seed)
    sides = ["left", "right", "front", "back"]
    items = []
    for i in range(n):
        order = list(rng.permutation(sides))
        gold = order.index("left") if i < biased else int(rng.integers(4))
        obj = OBJECTS[rng.integers(len(OBJECTS))]
        items.append(Item("spatial", "video", "dir", f"scene{i % scenes:04d}_00", f"By the {obj}, where is the bed?",
                          tuple(f"{'ABCD'[k]}. {t}" for k, t in enumerate(order)), "ABCD"[gold]))  # fmt: skip
    return items


def test_pruning_brings_a_biased_type_within_the_margin():
    items = partly_biased()
    before = cross_validate(items, AUDIT.folds, 0, AUDIT.trees)
    assert before.gap_pp() > 10.0  # flagged: 'left' wins a third of the time beyond chance
    settings = DebiasSettings(enabled=True, margin_pp=10.0, max_removed_fraction=0.5, batch_fraction=0.05)
    removed, info = prune_group(items, settings, AUDIT, seed=0)
    assert info["stop"] == "within margin" and info["gap_pp"] <= 10.0 and info["rounds"] >= 1
    assert info["n_after"] == len(items) - len(removed) and len(removed) % 12 == 0  # batches of ceil(5 % × 240)
    after = cross_validate([it for p, it in enumerate(items) if p not in set(removed)], AUDIT.folds, 0, AUDIT.trees)
    assert after.gap_pp() <= 10.0
    # it removes records whose answer is the shortcut ('left'): the biased ones and random ones that happen to agree
    golds = [option_text(items[p].options["ABCD".index(items[p].answer)]) for p in removed]
    assert golds.count("left") == len(removed) and sum(p < 80 for p in removed) > 0.5 * len(removed)
    assert prune_group(items, settings, AUDIT, seed=0) == (removed, info)  # deterministic


def test_a_wholly_biased_type_stops_at_the_cap_and_the_control_is_untouched():
    items = biased_items(240, scenes=24)
    settings = DebiasSettings(enabled=True, max_removed_fraction=0.25, batch_fraction=0.1)
    counts = [it for it in items if it.question_type == "count_biased"]
    removed, info = prune_group(counts, settings, AUDIT, seed=0)
    assert info["stop"] == "removal cap" and len(removed) == 60 and info["rounds"] == 3  # 25 % of 240: 24, 24, 12
    control = [it for it in items if it.question_type == "mc_control"]
    removed, info = prune_group(control, settings, AUDIT, seed=0)
    assert removed == [] and info["stop"] == "within margin" and info["rounds"] == 0


def test_floor_keeps_min_per_type():
    counts = [it for it in biased_items(24, scenes=4) if it.question_type == "count_biased"]
    settings = DebiasSettings(enabled=True, max_removed_fraction=1.0, min_per_type=20)
    removed, info = prune_group(counts, settings, AUDIT, seed=0)
    assert len(removed) == 4 and info["n_after"] == 20 and info["stop"] == "min_per_type (20)"


DEBIAS = {"enabled": True, "margin_pp": 0.0, "max_removed_fraction": 0.5, "min_per_type": 1, "batch_fraction": 0.25}


@pytest.fixture(scope="module")
def debiased_builds(scans, tmp_path_factory):
    outs = []
    for name in ("one", "two"):
        out = tmp_path_factory.mktemp(f"debiased_{name}")
        build_dataset(make_config(scans, out, debias=DEBIAS, audit={"trees": 20}), progress=False)
        outs.append(out)
    plain = tmp_path_factory.mktemp("plain")
    build_dataset(make_config(scans, plain, audit={"enabled": False}), progress=False)
    return outs, plain


def test_debiased_build_counts_files_and_coldstart_agree(debiased_builds):
    (out, _), plain = debiased_builds
    manifest = json.loads((out / "manifest.json").read_text())
    d = manifest["debias"]
    assert d["margin_pp"] == 0.0 and d["max_removed_fraction"] == 0.5 and d["rounds"] >= 1
    spatial = read_records(out / FILES["spatial"][0], SpatialRecord)
    full = read_records(plain / FILES["spatial"][0], SpatialRecord)
    before = {m: sum(t.values()) for m, t in d["before"].items()}
    after = {m: sum(t.values()) for m, t in d["after"].items()}
    assert sum(before.values()) == len(full) and sum(after.values()) == len(spatial) < len(full)
    assert manifest["counts"]["video"] == d["after"]["video"]  # the manifest's counts are the final ones
    assert manifest["files"]["spatial"]["records"] == len(spatial)
    assert [r.question_id for r in spatial] == list(range(len(spatial)))
    for g in d["groups"]:  # a type over two scenes loses at most half its records; one scene: not pruned
        assert g["n_before"] - g["n_after"] <= g["n_before"] // 2
    # cold start: exactly the plain build's records whose spatial record survived
    kept = {(r.scene_id, tuple(r.image), r.vsi_question_type, r.answer, r.question) for r in spatial}
    plain_cs = read_records(plain / FILES["coldstart"][0], ColdStartRecord)
    expected = [c for c in plain_cs if any(k[:4] == (c.scene_id, tuple(c.image), c.vsi_question_type, c.answer)
                                           and k[4] in c.prompt for k in kept)]  # fmt: skip
    coldstart = read_records(out / FILES["coldstart"][0], ColdStartRecord)
    assert [c.prompt for c in coldstart] == [c.prompt for c in expected]
    assert d["coldstart_removed"] == len(plain_cs) - len(coldstart)
    assert [c.question_id for c in coldstart] == list(range(len(coldstart)))
    report = (out / "build_report.md").read_text()
    assert "## Debiasing (Iterative Bias Pruning)" in report and "## Shortcut audit" in report


def test_debiased_build_is_byte_identical_twice(debiased_builds):
    (one, two), _ = debiased_builds
    for name in [*(f for f, _ in FILES.values()), "build_report.md"]:  # the report carries no timing
        assert (one / name).read_bytes() == (two / name).read_bytes()
    strip = [json.loads((o / "manifest.json").read_text()) for o in (one, two)]
    for m in strip:
        m["config"].pop("out_dir")
    assert strip[0] == strip[1]
