"""``report.md``: dataset counts, scores per stage and task, each model's most common answer, and the SFT loss and
GRPO reward/KL curves, all read back from what the library's commands wrote. No timings (they vary run to run; the
report's numbers must not)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from spatialladder.eval.report import RESULTS, RESULTS_HTML, SCORES
from spatialladder.records import read_jsonl
from spatialladder.train.artifacts import LOG_NAME, reward_keys, series
from spatialladder.vocab import SFT_STAGES, STAGE_DIRS
from spatialladder_demo.plan import BENCHES, EVAL_RUNS, DemoPlan

Scores = dict[str, dict[str, dict[str, float]]]
"""bench → run label → {task: score, "overall": score} (0–100)."""


def write_report(plan: DemoPlan) -> None:
    out = plan.out_dir
    lines = ["# spatialladder demo report", ""]
    lines += [
        "Everything below ran on CPU with a **tiny random Qwen2.5-VL** (about 0.4 M parameters, built locally) and "
        f"**synthetic ScanNet-format scans** ({plan.train_scenes} for training, {plan.heldout_scenes} held out), "
        f"seed {plan.seed}{', smoke size' if plan.smoke else ''}. It shows every rung of the ladder working end to "
        "end — data, stage 1 → 2 → cold start → stage 3, evaluation — not a model worth using: a model this small "
        "and this briefly trained can at best learn answer priors (the most common letter, a typical number).",
        "",
        "## Dataset",
        "",
    ]
    manifest = json.loads((out / "data" / "manifest.json").read_text())
    lines += [
        "`localization` rows are `spld_grounding_data.jsonl`; `single_image`, `multi_view` and `video` rows make up "
        "`spld_spatial_data.jsonl` (stages 2 and 3); `coldstart` rows are `spld_coldstart_data.jsonl`, "
        "chain-of-thought "
        "versions of a share of the spatial questions.",
        "",
    ]
    lines += _counts_table(manifest)
    if (out / "data" / "build_report.html").is_file():
        lines += ["", "Look at the questions themselves — sampled records with their frames and boxes, a plan of "
                  "each scene, answer histograms: [data/build_report.html](data/build_report.html)."]  # fmt: skip
    lines += ["", "## Scores on the held-out benchmarks", ""]
    scores = _collect_scores(plan)
    lines += _score_tables(scores)
    lines += _eval_pages(plan)
    lines += ["", _what_moved(scores), "", "### Answers the models give (VSI-Bench, parsed)", ""]
    lines += _answer_priors(plan)
    lines += ["", "## Training curves", ""]
    lines += _curves(plan)
    lines += [
        "## Where everything is",
        "",
        "- `scannet/train`, `scannet/heldout`: the synthetic scans (raw ScanNet layout)",
        "- `data/`: build-data output (`spld_*_data.jsonl`, `images/`, `manifest.json`, `build_report.md`, "
        "`build_report.html` and its `report/` folder)",
        "- `benchmarks/`: the held-out VSI-Bench and SPBench folders in their Hub layouts",
        "- `checkpoints/<stage>/`: each rung's model, processor, `config.resolved.yaml`, `train_log.jsonl`",
        "- `eval/<model>-<prompt>/<bench>/`: `predictions.jsonl`, `results.json`, `results.md`, `results.html`",
        "",
    ]
    (out / "report.md").write_text("\n".join(lines), encoding="utf-8")


def _rows(path: Path) -> list[dict[str, Any]]:
    """Every object of a JSONL file the library wrote (a missing or bad file is a one-line error naming it)."""
    return [obj for _, obj in read_jsonl(path)]


def _counts_table(manifest: dict[str, Any]) -> list[str]:
    counts: dict[str, dict[str, int]] = manifest["counts"]
    lines = ["| modality (file) | question type | records |", "|---|---|---:|"]
    total = 0
    for modality in sorted(counts):
        for qtype in sorted(counts[modality]):
            lines.append(f"| {modality} | {qtype} | {counts[modality][qtype]} |")
            total += counts[modality][qtype]
    lines.append(f"| **all** | | **{total}** |")
    return lines


def _collect_scores(plan: DemoPlan) -> Scores:
    out: Scores = defaultdict(dict)
    for model, bench, prompt in EVAL_RUNS:
        results = json.loads((plan.eval_dir(model, prompt, bench) / RESULTS).read_text())
        per_type = results["aggregate"].get("per_type", {})
        out[bench][f"{model} ({prompt})"] = {**per_type, "overall": results["overall"]}
    return out


def _score_tables(scores: Scores) -> list[str]:
    lines = []
    for bench in BENCHES:
        runs = scores[bench]
        tasks = sorted({t for r in runs.values() for t in r if t != "overall"})
        lines += [f"### {bench}", "", "| model (prompt) | overall | " + " | ".join(tasks) + " |"]
        lines.append("|---|---:|" + "---:|" * len(tasks))
        for label, r in runs.items():
            cells = [f"{r[t]:.1f}" if t in r else "–" for t in tasks]
            lines.append(f"| {label} | {r['overall']:.1f} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def _eval_pages(plan: DemoPlan) -> list[str]:
    """A link to every eval run's ``results.html`` (option letters, wrong answers beside the frames seen), relative
    to the report so the folder can be moved."""
    lines = ["Each run's page (scores, option-letter confusion, wrong answers beside the frames the model saw):", ""]
    for bench in BENCHES:
        links = [
            f"[{model} ({prompt})]({(plan.eval_dir(model, prompt, bench) / RESULTS_HTML).relative_to(plan.out_dir)})"
            for model, run_bench, prompt in EVAL_RUNS
            if run_bench == bench
        ]
        lines.append(f"- {bench}: " + ", ".join(links))
    return [*lines, ""]


def _what_moved(scores: Scores) -> str:
    """One honest paragraph: base, best and stage-3 overall scores per benchmark, and what they can mean."""
    parts = []
    for bench in BENCHES:
        runs = scores[bench]
        best = max(runs, key=lambda label: runs[label]["overall"])
        parts.append(
            f"{bench}: base {runs['base (direct)']['overall']:.1f}, best {runs[best]['overall']:.1f} ({best}), "
            f"stage 3 {runs['stage3 (direct)']['overall']:.1f}"
        )
    return (
        "What moved (overall, 0–100): " + "; ".join(parts) + ". With a random 0.4 M-parameter model and a few dozen "
        "held-out questions per benchmark these are answer priors, not spatial reasoning: the table below shows each "
        "model's most common answer. The point of this run is that every rung trains, saves, chains and is scored "
        "by the official rules."
    )


def _answer_priors(plan: DemoPlan) -> list[str]:
    """Each model's most frequent VSI-Bench answer and its share: the clearest view of what a tiny model learned."""
    lines = ["| model (prompt) | most common answer | share | distinct answers |", "|---|---|---:|---:|"]
    for model, bench, prompt in EVAL_RUNS:
        if bench != "vsibench":
            continue
        answers = [str(row.get("answer")) for row in _rows(plan.eval_dir(model, prompt, bench) / SCORES)]
        if not answers:
            continue
        top, n = Counter(answers).most_common(1)[0]
        shown = json.dumps(top[:40], ensure_ascii=False).replace("|", "\\|").replace("`", "\\`")
        lines.append(f"| {model} ({prompt}) | {shown} | {n / len(answers):.0%} | {len(set(answers))} |")
    return lines


def _curves(plan: DemoPlan) -> list[str]:
    """The SFT loss of every SFT rung, and GRPO's rewards and KL, as PNGs beside the report; their image links."""
    out = plan.out_dir
    lines = []
    sft = {
        name: series(_rows(plan.model_dir(name) / LOG_NAME), "loss")
        for name, stage in STAGE_DIRS.items()
        if stage in SFT_STAGES
    }
    if _plot(sft, "SFT loss", "loss", out / "sft_loss.png"):
        lines += ["![SFT loss](sft_loss.png)", ""]
    grpo = _rows(plan.model_dir("stage3") / LOG_NAME)
    curves = {k: series(grpo, k) for k in ["reward", *reward_keys(grpo)]}
    if _plot(curves, "GRPO rewards", "mean reward", out / "grpo_reward.png"):
        lines += ["![GRPO rewards](grpo_reward.png)", ""]
    if _plot({"kl": series(grpo, "kl")}, "GRPO KL to the reference", "KL", out / "grpo_kl.png"):
        lines += ["![GRPO KL](grpo_kl.png)", ""]
    return lines


def _plot(curves: dict[str, list[tuple[float, float]]], title: str, ylabel: str, path: Path) -> bool:
    """One line per non-empty series against step; False (no file) when every series is empty."""
    from spatialladder.figures import new_figure, save_png

    curves = {k: v for k, v in curves.items() if v}
    if not curves:
        return False
    fig = new_figure(6, 3.5)
    ax = fig.subplots()
    for name, points in curves.items():
        xs, ys = zip(*points, strict=True)
        ax.plot(xs, ys, marker=".", label=name)
    ax.set_title(title)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    save_png(fig, path, dpi=100)
    return True
