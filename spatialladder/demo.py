"""``spatialladder demo``: the whole ladder end to end on synthetic ScanNet scenes and a tiny random Qwen2.5-VL.

It runs every rung a real user runs, through the same functions (build-data, ``train --stage all``, ``eval``),
only smaller: synthetic scans written in the real ScanNet formats, a locally built tiny model, CPU settings from
``configs/demo/``. Each step records that it finished (with a fingerprint of its inputs) under
``<out>/.demo_state/``, so an interrupted demo resumes where it stopped; inside a step, build-data shards, the
ladder's stage markers and trainer checkpoints, and eval's predictions files resume the work in flight.

A random 0.4 M-parameter model can at best learn answer priors; the report says so and nothing is tuned to
manufacture gains.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spatialladder.errors import ConfigError
from spatialladder.vocab import RECORD_FILES, RECORD_KIND_OF_STAGE, SFT_STAGES, SPBENCH_QUESTION_TYPES, STAGE_DIRS

logger = logging.getLogger(__name__)

STEPS = ("scenes", "data", "benchmarks", "model", "ladder", "eval", "report")
MODELS = ("base", *STAGE_DIRS)
BENCHES = ("vsibench", "spbench-si", "spbench-mv")

_LABELS = (
    ("chair", 4), ("desk", 1), ("table", 2), ("couch", 1), ("bed", 1), ("pillow", 3), ("lamp", 2),
    ("trash can", 2), ("bookshelf", 1), ("monitor", 2), ("towel", 1), ("plant", 2), ("nightstand", 2),
    ("door", 1), ("cabinet", 1),
)  # fmt: skip
"""Raw ScanNet labels the demo's scenes draw from, with the most instances one scene may hold."""


@dataclass(frozen=True)
class DemoPlan:
    """What the demo builds; its fingerprint decides which finished steps can be reused."""

    out_dir: Path
    train_scenes: int = 8
    heldout_scenes: int = 2
    seed: int = 0
    smoke: bool = False
    configs_dir: Path = Path("configs/demo")

    def fingerprint(self, step: str) -> str:
        data = {"step": step, "train": self.train_scenes, "heldout": self.heldout_scenes, "seed": self.seed,
                "smoke": self.smoke}  # fmt: skip
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    def path(self, *parts: str) -> Path:
        return self.out_dir.joinpath(*parts)

    @property
    def n_frames(self) -> int:
        return 24 if self.smoke else 40


@dataclass
class DemoResult:
    out_dir: Path
    report: Path
    steps: dict[str, str] = field(default_factory=dict)  # step → "ran" | "reused"


def run_demo(plan: DemoPlan) -> DemoResult:
    """Run (or resume) every demo step in order and return where the report is."""
    if not plan.configs_dir.is_dir():
        raise ConfigError(f"demo configs folder {plan.configs_dir} not found (run from the repository root)")
    if plan.train_scenes < 2 or plan.heldout_scenes < 1:
        raise ConfigError("demo: --scenes must be ≥ 2 (training scans) and held-out scans ≥ 1")
    result = DemoResult(out_dir=plan.out_dir, report=plan.path("report.md"))
    actions: dict[str, Callable[[DemoPlan], None]] = {
        "scenes": write_scenes,
        "data": build_data,
        "benchmarks": build_benchmarks,
        "model": build_model,
        "ladder": train_ladder,
        "eval": evaluate_all,
        "report": write_report,
    }
    state_dir = plan.path(".demo_state")
    state_dir.mkdir(parents=True, exist_ok=True)
    for step in STEPS:
        marker = state_dir / f"{step}.json"
        fingerprint = plan.fingerprint(step)
        if marker.is_file() and json.loads(marker.read_text())["fingerprint"] == fingerprint:
            logger.info("demo step %s: finished before, reused", step)
            result.steps[step] = "reused"
            continue
        logger.info("demo step %s: running", step)
        actions[step](plan)
        marker.write_text(json.dumps({"step": step, "fingerprint": fingerprint}))
        result.steps[step] = "ran"
    return result


def sample_objects(rng: np.random.Generator, room: tuple[float, float, float]) -> tuple[Any, ...]:
    """A random furnished room: labels and counts drawn per scene, boxes on a jittered grid without overlaps."""
    from spatialladder.testing.synthetic_scannet import SyntheticObject

    picks = rng.choice(len(_LABELS), size=int(rng.integers(6, 10)), replace=False)
    labels = [lab for i in sorted(picks) for lab in [_LABELS[i][0]] * int(rng.integers(1, _LABELS[i][1] + 1))]
    labels = labels[:14]
    cols = math.ceil(math.sqrt(len(labels) * room[0] / room[1]))
    rows = math.ceil(len(labels) / cols)
    cell_w, cell_d = room[0] / cols, room[1] / rows
    cells = rng.permutation(cols * rows)[: len(labels)]
    out = []
    for label, cell in zip(labels, cells, strict=True):
        r, c = divmod(int(cell), cols)
        # below the synthetic cameras (1.4 m high), so no camera ends up inside an object
        size = (rng.uniform(0.3, 0.6) * cell_w, rng.uniform(0.3, 0.6) * cell_d, rng.uniform(0.3, 1.2))
        x = (c + 0.5 + rng.uniform(-0.1, 0.1)) * cell_w
        y = (r + 0.5 + rng.uniform(-0.1, 0.1)) * cell_d
        out.append(SyntheticObject(label, None, (x, y, size[2] / 2), size, float(rng.uniform(-0.5, 0.5))))
    return tuple(out)


def write_scenes(plan: DemoPlan) -> None:
    """Training and held-out scans in ScanNet's raw layout (.txt, PLY, segs, aggregation, .sens)."""
    from spatialladder.testing.synthetic_scannet import write_synthetic_scene

    rng = np.random.default_rng(plan.seed)
    jobs = [("train", f"scene{i:04d}_00") for i in range(plan.train_scenes)]
    jobs += [("heldout", f"scene{700 + i:04d}_00") for i in range(plan.heldout_scenes)]
    for k, (split, scene_id) in enumerate(jobs):
        room = (float(rng.uniform(4.0, 7.0)), float(rng.uniform(3.5, 6.0)), 2.6)
        write_synthetic_scene(
            plan.path("scannet", split),
            scene_id,
            objects=sample_objects(rng, room),
            n_frames=plan.n_frames,
            layout="raw",
            seed=plan.seed * 1000 + k,
            room_size=room,
            depth_size=(160, 120),
            color_size=(320, 240),
            invalid_frames=(3,),
        )


def _data_overrides(plan: DemoPlan, split: str, out: str) -> list[str]:
    from spatialladder.testing.synthetic_scannet import synthetic_label_map

    return [
        f"scannet_root={plan.path('scannet', split)}",
        f"out_dir={plan.path(out)}",
        f"scannet.label_map={synthetic_label_map()}",
        f"seed={plan.seed + (0 if split == 'train' else 1000)}",
    ]


def build_data(plan: DemoPlan) -> None:
    """``spatialladder build-data`` on the training scans, and on the held-out scans for the benchmarks."""
    from spatialladder.data.command import run_build_data

    for split, cfg_name, out in (("train", "data.yaml", "data"), ("heldout", "heldout.yaml", "heldout")):
        result = run_build_data(plan.configs_dir / cfg_name, _data_overrides(plan, split, out), progress=False)
        if not result.ok:
            raise ConfigError(f"demo build-data on {split} scans failed: {result.failed}")


def build_benchmarks(plan: DemoPlan) -> None:
    """Held-out questions in VSI-Bench's Hub layout (parquet + mp4) and SPBench's (parquet + images)."""
    from PIL import Image

    from spatialladder.data.records import SpatialRecord, read_jsonl
    from spatialladder.testing.synthetic_benchmarks import BenchItem, write_spbench, write_vsibench

    root = plan.path("heldout")
    records = read_jsonl(root / RECORD_FILES["spatial"], SpatialRecord)
    images = root / "images"
    video, single, multi = [], [], []
    video_frames: dict[tuple[str, tuple[int, ...]], str] = {}
    for rec in records:
        frames = [Image.open(images / p).convert("RGB") for p in rec.image]
        if rec.modality == "video":
            key = (rec.scene_id, tuple(rec.frame_indices))
            name = video_frames.setdefault(key, f"{rec.scene_id}_{len(video_frames)}")
            video.append(BenchItem(rec.vsi_question_type, rec.question, rec.answer, name, frames, rec.options))
        elif rec.vsi_question_type in SPBENCH_QUESTION_TYPES:
            qtype = SPBENCH_QUESTION_TYPES[rec.vsi_question_type]
            item = BenchItem(qtype, rec.question, rec.answer, rec.scene_id, frames, rec.options)
            (single if rec.modality == "single_image" else multi).append(item)
    for name, items in (("VSI-Bench video", video), ("SPBench-SI", single), ("SPBench-MV", multi)):
        if not items:
            raise ConfigError(f"demo: the held-out scans produced no {name} questions; use more held-out scenes")
    write_vsibench(_even_frames(video), plan.path("benchmarks", "vsibench"))
    write_spbench(single, plan.path("benchmarks", "spbench-si"), split="SI")
    write_spbench(multi, plan.path("benchmarks", "spbench-mv"), split="MV")


def _even_frames(items: list[Any]) -> list[Any]:
    """mp4 encoders need even frame sizes: crop one pixel where a side is odd."""
    from dataclasses import replace

    def even(img: Any) -> Any:
        w, h = img.size
        return img.crop((0, 0, w - w % 2, h - h % 2))

    return [replace(it, frames=[even(f) for f in it.frames]) for it in items]


def build_model(plan: DemoPlan) -> None:
    from spatialladder.testing.tiny_qwen import build_tiny_qwen2_5_vl

    build_tiny_qwen2_5_vl(plan.path("models", "base"), seed=plan.seed)


def _stage_overrides(plan: DemoPlan) -> list[str]:
    data = plan.path("data")
    out = []
    for name, stage in STAGE_DIRS.items():
        file = data / RECORD_FILES[RECORD_KIND_OF_STAGE[stage]]
        out += [
            f"{stage}.output_dir={plan.path('checkpoints', name)}",
            f"{stage}.data.files=[{json.dumps(str(file))}]",
            f"{stage}.seed={plan.seed}",
        ]
    if plan.smoke:
        out += [f"{s}.trainer.max_steps=3" for s in SFT_STAGES]
        out += ["grpo.trainer.max_steps=2"]
    return out


def train_ladder(plan: DemoPlan) -> None:
    """``spatialladder train --stage all`` with the demo ladder, starting from the tiny base model."""
    from spatialladder.config.ladder import LadderConfig
    from spatialladder.config.load import read_yaml, validate_mapping
    from spatialladder.train.ladder import run_ladder

    path = plan.configs_dir / "ladder.yaml"
    raw = {**read_yaml(path), "base_model": str(plan.path("models", "base"))}
    ladder = validate_mapping(raw, LadderConfig, source=str(path))
    for outcome in run_ladder(ladder, path, _stage_overrides(plan)):
        logger.info("ladder %s: %s", outcome.stage, outcome.action)


def model_dir(plan: DemoPlan, name: str) -> Path:
    return plan.path("models", "base") if name == "base" else plan.path("checkpoints", name)


def eval_plan(plan: DemoPlan) -> list[tuple[str, str, str]]:
    """(model, bench, prompt): every model on every benchmark with the direct prompt; the two reasoning-trained
    models (cold start, stage 3) also with the thinking prompt they were trained on."""
    runs = [(m, b, "direct") for m in MODELS for b in BENCHES]
    runs += [(m, b, "thinking") for m in ("coldstart", "stage3") for b in BENCHES]
    return runs


def evaluate_all(plan: DemoPlan) -> None:
    from spatialladder.config.eval import build_eval_config
    from spatialladder.eval.runner import run_eval

    for model, bench, prompt in eval_plan(plan):
        # thinking needs room for <think>…</think><answer>…</answer>; the smoke run only checks the plumbing
        tokens = 8 if plan.smoke else (256 if prompt == "thinking" else 12)
        cfg = build_eval_config(
            str(plan.configs_dir / "eval.yaml"),
            [f"prompt={prompt}", f"seed={plan.seed}", f"generation.max_new_tokens={tokens}"],
            bench=bench,
            model=str(model_dir(plan, model)),
            data=str(plan.path("benchmarks", bench)),
            out=str(plan.path("eval", f"{model}-{prompt}", bench)),
        )
        run_eval(cfg)


def _read_log(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _plot(series: dict[str, list[tuple[float, float]]], title: str, ylabel: str, path: Path) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = {k: v for k, v in series.items() if v}
    if not series:
        return False
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    for name, points in series.items():
        xs, ys = zip(*points, strict=True)
        ax.plot(xs, ys, marker=".", label=name)
    ax.set_title(title)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def write_report(plan: DemoPlan) -> None:
    """``report.md``: dataset counts, scores per stage and task, loss/reward/KL curves. No timings (they vary
    run to run; the report's numbers must not)."""
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
    lines += ["", "## Scores on the held-out benchmarks", ""]
    scores = _collect_scores(plan)
    lines += _score_tables(scores)
    lines += ["", _what_moved(scores), "", "### Answers the models give (VSI-Bench, parsed)", ""]
    lines += _answer_priors(plan)
    lines += ["", "## Training curves", ""]
    sft = {
        name: _points(model_dir(plan, name) / "train_log.jsonl", "loss")
        for name, stage in STAGE_DIRS.items()
        if stage in SFT_STAGES
    }
    if _plot(sft, "SFT loss", "loss", out / "sft_loss.png"):
        lines += ["![SFT loss](sft_loss.png)", ""]
    grpo_log = model_dir(plan, "stage3") / "train_log.jsonl"
    reward_keys = sorted(
        {k for e in _read_log(grpo_log) for k in e if k.startswith("rewards/") and k.endswith("/mean")}
    )
    curves = {k: _points(grpo_log, k) for k in ["reward", *reward_keys]}
    if _plot(curves, "GRPO rewards", "mean reward", out / "grpo_reward.png"):
        lines += ["![GRPO rewards](grpo_reward.png)", ""]
    if _plot({"kl": _points(grpo_log, "kl")}, "GRPO KL to the reference", "KL", out / "grpo_kl.png"):
        lines += ["![GRPO KL](grpo_kl.png)", ""]
    lines += [
        "## Where everything is",
        "",
        "- `scannet/train`, `scannet/heldout`: the synthetic scans (raw ScanNet layout)",
        "- `data/`: build-data output (`spld_*_data.jsonl`, `images/`, `manifest.json`, `build_report.md`)",
        "- `benchmarks/`: the held-out VSI-Bench and SPBench folders in their Hub layouts",
        "- `checkpoints/<stage>/`: each rung's model, processor, `config.resolved.yaml`, `train_log.jsonl`",
        "- `eval/<model>-<prompt>/<bench>/`: `predictions.jsonl`, `results.json`, `results.md`",
        "",
    ]
    (out / "report.md").write_text("\n".join(lines), encoding="utf-8")


def _points(path: Path, key: str) -> list[tuple[float, float]]:
    return [(float(e["step"]), float(e[key])) for e in _read_log(path) if key in e and "step" in e]


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


def _collect_scores(plan: DemoPlan) -> dict[str, dict[str, dict[str, float]]]:
    """bench → run label → {task: score, "overall": score} (0–100)."""
    out: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
    for model, bench, prompt in eval_plan(plan):
        results = json.loads(plan.path("eval", f"{model}-{prompt}", bench, "results.json").read_text())
        per_type = results["aggregate"].get("per_type", {})
        out[bench][f"{model} ({prompt})"] = {**per_type, "overall": results["overall"]}
    return out


def _score_tables(scores: dict[str, dict[str, dict[str, float]]]) -> list[str]:
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


def _what_moved(scores: dict[str, dict[str, dict[str, float]]]) -> str:
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
    for model, bench, prompt in eval_plan(plan):
        if bench != "vsibench":
            continue
        path = plan.path("eval", f"{model}-{prompt}", bench, "scores.jsonl")
        answers = [str(row.get("answer")) for row in _read_log(path)]
        if not answers:
            continue
        top, n = Counter(answers).most_common(1)[0]
        shown = json.dumps(top[:40], ensure_ascii=False).replace("|", "\\|").replace("`", "\\`")
        lines.append(f"| {model} ({prompt}) | {shown} | {n / len(answers):.0%} | {len(set(answers))} |")
    return lines


def summary(result: DemoResult) -> str:
    ran = Counter(result.steps.values())
    return f"report: {result.report} (steps ran: {ran.get('ran', 0)}, reused: {ran.get('reused', 0)})"


def plan_dict(plan: DemoPlan) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(plan).items()}
