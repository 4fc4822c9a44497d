"""The demo end to end at smoke size: every rung runs, the report has every stage and benchmark, reruns resume,
and the same seed gives the same report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spatialladder_demo import BENCHES, MODELS, DemoPlan, run_demo
from spatialladder_demo.plan import EVAL_RUNS

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory):
    plan = DemoPlan(tmp_path_factory.mktemp("demo") / "out", train_scenes=3, heldout_scenes=1, seed=0, smoke=True,
                    configs_dir=REPO / "configs" / "demo")  # fmt: skip
    return plan, run_demo(plan)


def test_every_step_ran_and_report_is_complete(smoke_run) -> None:
    plan, result = smoke_run
    assert result.steps == {s: "ran" for s in result.steps} and len(result.steps) == 7
    report = result.report.read_text()
    for bench in BENCHES:
        assert f"### {bench}" in report
    for model in MODELS:
        assert f"| {model} (direct) |" in report
    assert "| coldstart (thinking) |" in report and "| stage3 (thinking) |" in report
    assert (plan.out_dir / "sft_loss.png").is_file()
    manifest = json.loads((plan.out_dir / "data" / "manifest.json").read_text())
    total = sum(n for types in manifest["counts"].values() for n in types.values())
    assert f"| **all** | | **{total}** |" in report
    assert "[data/build_report.html](data/build_report.html)" in report
    assert (plan.out_dir / "data" / "build_report.html").is_file()


def test_report_links_every_eval_runs_page(smoke_run) -> None:
    plan, result = smoke_run
    report = result.report.read_text()
    for model, bench, prompt in EVAL_RUNS:
        link = f"eval/{model}-{prompt}/{bench}/results.html"
        assert f"]({link})" in report, link
        assert (plan.out_dir / link).is_file()


def test_ladder_chained_each_stage_from_the_previous(smoke_run) -> None:
    plan, _ = smoke_run
    previous = str(plan.out_dir / "models" / "base")
    for stage in ("stage1", "stage2", "coldstart", "stage3"):
        resolved = (plan.out_dir / "checkpoints" / stage / "config.resolved.yaml").read_text()
        assert f"name_or_path: {previous}" in resolved, stage
        previous = str(plan.out_dir / "checkpoints" / stage)


def test_rerun_reuses_and_interrupted_step_resumes(smoke_run) -> None:
    plan, first = smoke_run
    before = first.report.read_text()
    again = run_demo(plan)
    assert set(again.steps.values()) == {"reused"}
    # an interrupted eval: its step marker is gone and one run's predictions are half written
    (plan.out_dir / ".demo_state" / "eval.json").unlink()
    (plan.out_dir / ".demo_state" / "report.json").unlink()
    preds = plan.out_dir / "eval" / "stage3-direct" / "vsibench" / "predictions.jsonl"
    lines = preds.read_text().splitlines()
    preds.write_text("\n".join(lines[: len(lines) // 2]) + "\n")
    resumed = run_demo(plan)
    assert resumed.steps["eval"] == "ran" and resumed.steps["ladder"] == "reused"
    assert resumed.report.read_text() == before


def test_same_seed_same_report(smoke_run, tmp_path: Path) -> None:
    plan, first = smoke_run
    other = DemoPlan(tmp_path / "out", train_scenes=3, heldout_scenes=1, seed=0, smoke=True,
                     configs_dir=plan.configs_dir)  # fmt: skip
    second = run_demo(other)
    strip = lambda text, root: text.replace(str(root), "<out>")  # noqa: E731
    assert strip(second.report.read_text(), other.out_dir) == strip(first.report.read_text(), plan.out_dir)


@pytest.mark.parametrize("family", ["qwen3-vl", "qwen3.5"])
def test_every_family_climbs_the_whole_ladder(tmp_path: Path, family: str) -> None:
    """``demo --family``: the tiny base model of the family climbs stage 1 → 2 → cold start → 3 (video rows in
    GRPO) and every model is evaluated; the models are of the family, its pixel budgets were used throughout, and
    its stage-1 targets are in the family's [0, 1000] box coordinates."""
    from spatialladder.models.families import family_named

    plan = DemoPlan(tmp_path / "out", train_scenes=3, heldout_scenes=1, seed=0, smoke=True,
                    configs_dir=REPO / "configs" / "demo", family=family)  # fmt: skip
    result = run_demo(plan)
    assert result.steps == {s: "ran" for s in result.steps} and len(result.steps) == 7
    report = result.report.read_text()
    for model in MODELS:
        assert f"| {model} (direct) |" in report
    model_types = family_named(family).model_types
    factor = family_named(family).pixel_factor
    for stage in ("stage1", "stage2", "coldstart", "stage3"):
        folder = plan.out_dir / "checkpoints" / stage
        assert json.loads((folder / "config.json").read_text())["model_type"] in model_types
        assert f"max_pixels: {16 * factor**2}" in (folder / "config.resolved.yaml").read_text(), stage
    results = json.loads((plan.out_dir / "eval" / "stage3-direct" / "vsibench" / "results.json").read_text())
    assert results["settings"]["input_protocol"]["name"] == "direct"


def test_demo_vsi_folder_is_in_the_current_hub_layout(smoke_run) -> None:
    """The demo's VSI-Bench folder is written as the Hub's main branch holds it today (issue 20 item 1)."""
    plan, _ = smoke_run
    folder = plan.path("benchmarks", "vsibench")
    for name in ("test.jsonl", "pruned_ids.txt", "test_debiased.parquet", "test_pruned.parquet"):
        assert (folder / name).is_file(), name
    assert not (folder / "test-00000-of-00001.parquet").exists()
    results = json.loads((plan.eval_dir("stage3", "direct", "vsibench") / "results.json").read_text())
    assert results["settings"]["benchmark_file"]["path"] == str(folder / "test.jsonl")
    assert results["aggregate"]["per_source"]
