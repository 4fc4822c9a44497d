"""The ``spatialladder`` command line. Command bodies only load config and call one ``run_*`` function."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import typer

from spatialladder.errors import ConfigError, SpatialLadderError

app = typer.Typer(
    help="Teach Qwen2.5-VL spatial reasoning the SpatialLadder way: ScanNet → QA data → 3-stage training → benchmarks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
config_app = typer.Typer(help="Inspect and check YAML configs.", no_args_is_help=True)
app.add_typer(config_app, name="config")

SetOption = typer.Option(None, "--set", help="Override a config value: dotted.path=value (repeatable).")


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging.")) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )


@config_app.command("show")
def config_show(
    config: Path = typer.Option(..., "--config", "-c", help="YAML config file."),
    overrides: list[str] = SetOption,
) -> None:
    """Print the resolved config (defaults filled in, overrides applied).

    Example: spatialladder config show -c configs/train/stage1_localization.yaml --set trainer.learning_rate=2e-5
    """
    from spatialladder.config.load import load_config, to_yaml

    typer.echo(to_yaml(load_config(config, overrides or [])), nl=False)


@config_app.command("validate")
def config_validate(
    config: Path = typer.Option(..., "--config", "-c", help="YAML config file."),
    overrides: list[str] = SetOption,
    gpu_memory_gib: float = typer.Option(
        None,
        "--gpu-memory-gib",
        min=1.0,
        help="Check training memory against a GPU of this size (default: the visible GPU).",
    ),
    accelerate_config: Path = typer.Option(
        None,
        "--accelerate-config",
        help="The launch to check memory for (configs/accelerate/*.yaml; default: one GPU).",
    ),
    num_processes: int = typer.Option(None, "--num-processes", min=1, help="Overrides the accelerate config's."),
) -> None:
    """Validate a config deeply: schema, registry names, trl's own config classes, and whether a training run's
    states fit the GPU (needs the model's config.json at hand: a local folder or the Hub cache).

    Example: spatialladder config validate -c configs/train/stage3_grpo.yaml --set trainer.beta=0.04
    --gpu-memory-gib 79.2 --accelerate-config configs/accelerate/zero3.yaml --num-processes 2
    """
    from spatialladder.config.load import load_config
    from spatialladder.train.memory import GIB, Launch
    from spatialladder.validate import deep_validate

    launch = None
    if accelerate_config is not None:
        launch = Launch.from_accelerate_config(accelerate_config, num_processes)
    elif num_processes is not None:
        launch = Launch("ddp" if num_processes > 1 else "single", num_processes)
    device_bytes = gpu_memory_gib * GIB if gpu_memory_gib else None
    checked = deep_validate(load_config(config, overrides or []), str(config), device_bytes=device_bytes, launch=launch)
    typer.echo(f"{config}: OK ({', '.join(checked)})")


@app.command("make-tiny-model")
def make_tiny_model(
    out_dir: Path = typer.Argument(..., help="Folder to write the checkpoint into."),
    seed: int = typer.Option(0, help="Seed for the random weights."),
    family: str = typer.Option("qwen2.5-vl", "--family", help="qwen2.5-vl | qwen3-vl | qwen3.5 (the toy's family)."),
    like: str = typer.Option(
        None,
        "--like",
        help="qwen2.5-vl-3b | qwen2.5-vl-7b | qwen3-vl-2b | qwen3-vl-4b | qwen3-vl-8b | qwen3.5-0.8b | qwen3.5-2b | "
        "qwen3.5-4b: every published width, id and processor setting.",
    ),
    layers: int = typer.Option(
        None, "--layers", min=1, help="Text layers kept with --like (published: 36 / 28 for 2.5-VL 3B / 7B)."
    ),
    vision_layers: int = typer.Option(
        None, "--vision-layers", min=1, help="Vision blocks kept with --like (published: 32 for 2.5-VL)."
    ),
) -> None:
    """Write a random Qwen-family VLM (model + processor) built offline, for tests and the demo.

    Without --like: a 0.4 M-parameter toy of --family (the family's classes, patch, special tokens and chat
    template). With --like: the published config in every field but the two depths (Qwen2.5-VL's full-attention
    blocks, Qwen3-VL's DeepStack taps and Qwen3.5's layer types scaled to the kept depth), the real tokenizer ids,
    chat template and processor settings.

    Example: spatialladder make-tiny-model outputs/tiny-qwen2.5-vl
    Example: spatialladder make-tiny-model outputs/tiny-qwen3-vl --family qwen3-vl
    Example: spatialladder make-tiny-model outputs/qwen2.5-vl-3b-l1 --like qwen2.5-vl-3b --layers 1 --vision-layers 1
    Example: spatialladder make-tiny-model outputs/qwen3-vl-4b-l1 --like qwen3-vl-4b --layers 1 --vision-layers 1
    Example: spatialladder make-tiny-model outputs/qwen3.5-2b-l2 --like qwen3.5-2b --layers 2 --vision-layers 1
    """
    if like is None:
        if layers is not None or vision_layers is not None:
            raise ConfigError("--layers and --vision-layers cut a published shape: give --like NAME too")
        from spatialladder.testing.tiny_qwen import build_tiny

        typer.echo(str(build_tiny(out_dir, family, seed=seed)))
        return
    from spatialladder.testing.real_shape import build_like

    typer.echo(str(build_like(out_dir, like, layers=layers, vision_layers=vision_layers, seed=seed)))


@app.command("eval")
def eval_command(
    bench: str = typer.Option(
        None,
        "--bench",
        help="vsibench (vsi), vsibench-debiased (vsi-debiased), spbench-si, spbench-mv, cvbench, sparbench, "
        "viewspatial, mmsi, mindcube.",
    ),
    model: str = typer.Option(None, "--model", help="Checkpoint folder or Hub id."),
    data: str = typer.Option(None, "--data", help="Benchmark folder in the Hub layout."),
    config: Path = typer.Option(None, "--config", "-c", help="YAML eval config (flags override it)."),
    prompt: str = typer.Option(None, "--prompt", help="lmms | direct | thinking."),
    frames: int = typer.Option(
        None, "--frames", help="Video frames (default: the model family's protocol's, 32; Qwen3.5 ≤ 768 at 2 fps)."
    ),
    batch_size: int = typer.Option(None, "--batch-size"),
    limit: int = typer.Option(None, "--limit", help="Seeded random subset size (default: full set)."),
    seed: int = typer.Option(None, "--seed"),
    out: str = typer.Option(None, "--out", help="Output folder (default outputs/eval/<bench>); reruns resume."),
    blind: bool = typer.Option(
        False,
        "--blind",
        help="Same questions with every image and video removed: results.blind.* beside a sighted run's, and the "
        "vision gain (sighted - blind) per task once both are in --out.",
    ),
    overrides: list[str] = SetOption,
) -> None:
    """Evaluate a model on a spatial benchmark with its official prompt and scoring; resumable.

    Example: spatialladder eval --bench vsi --model hongxingli/SpatialLadder-3B --data data/VSI-Bench --prompt thinking
    Example (blind, then vision gain): the same command with --blind and the same --out
    Multi-GPU: accelerate launch --num_processes 4 -m spatialladder eval --bench sparbench --model M --data D
    """
    from spatialladder.config.eval import build_eval_config
    from spatialladder.eval.runner import run_eval

    flags = dict(prompt=prompt, frames=frames, batch_size=batch_size, limit=limit, seed=seed, blind=blind or None)
    source = str(config) if config else None
    cfg = build_eval_config(source, overrides or [], bench=bench, model=model, data=data, out=out, **flags)
    result = run_eval(cfg)
    if result.results is not None:  # the main process scores the merged shards
        scores = result.results
        kind = " blind" if scores["blind"] else ""
        typer.echo(f"{cfg.bench}{kind}: overall {scores['overall']:.2f} (n={scores['n']}) -> {cfg.output_dir}")
        if "vision_gain" in scores:
            typer.echo(f"{cfg.bench}: vision gain (sighted - blind) {scores['vision_gain']['overall']:+.2f} pp")


@app.command("build-data")
def build_data_command(
    config: Path = typer.Option(None, "--config", "-c", help="Data config YAML (kind: data)."),
    scannet_root: Path = typer.Option(None, "--scannet-root", help="ScanNet root (holding scans/) or scans/."),
    out: Path = typer.Option(None, "--out", help="Output folder (reruns resume finished scenes)."),
    workers: int = typer.Option(None, "--workers", help="Parallel scene workers."),
    seed: int = typer.Option(None, "--seed"),
    scenes: Path = typer.Option(None, "--scenes", help="File of scene ids, one per line."),
    fmt: str = typer.Option(None, "--format", help="jsonl | hf (also write parquet for datasets)."),
    from_meta: Path = typer.Option(None, "--from-meta", help="Released VSI-Bench meta-info JSON instead of scans."),
    overrides: list[str] = SetOption,
) -> None:
    """Build SpatialLadder-26k-style QA (grounding, spatial, cold-start JSONL + images) from ScanNet scans.

    Example: spatialladder build-data -c configs/data/scannet.yaml --scannet-root data/scannet/scans --workers 2
    """
    from spatialladder.data.command import run_build_data

    flags = dict(scannet_root=scannet_root, out_dir=out, workers=workers, seed=seed, scenes_file=scenes)
    result = run_build_data(config, overrides or [], format=fmt, from_meta=from_meta, **flags)
    if not result.ok:
        raise typer.Exit(1)


@app.command("audit-data")
def audit_data_command(
    files: list[Path] = typer.Argument(..., help="SpatialLadder-format JSONL files (ours or the released 26k)."),
    out: Path = typer.Option(Path("outputs/audit"), "--out", help="Where audit.json and audit.md go."),
    folds: int = typer.Option(5, "--folds", min=2, help="Scene-grouped cross-validation folds."),
    seed: int = typer.Option(0, "--seed", help="Fold shuffling and random-forest seed."),
    margin_pp: float = typer.Option(10.0, "--margin-pp", min=0.0, help="Flag rows this far above chance (pp)."),
    trees: int = typer.Option(100, "--trees", min=1, help="Random-forest trees (TsT's classifier: 100)."),
) -> None:
    """Audit QA for non-visual shortcuts: per modality and question type, how well the majority answer and a random
    forest on the question text alone score on held-out scenes (VSI rules), against chance.

    Example: spatialladder audit-data outputs/data/spld_spatial_data.jsonl --out outputs/audit --folds 5 --seed 0
    """
    from spatialladder.data.audit import render_audit, run_audit_data

    audit = run_audit_data(files, out, folds=folds, seed=seed, margin_pp=margin_pp, trees=trees)
    typer.echo("\n".join(render_audit(audit)))
    typer.echo(f"{len(audit['rows'])} rows, {sum(r['flagged'] for r in audit['rows'])} flagged -> {out}")


@app.command("score")
def score_command(
    bench: str = typer.Option(..., "--bench", help="Benchmark name (see `spatialladder eval --help`)."),
    predictions: Path = typer.Option(..., "--predictions", help="JSONL with 'id' and 'prediction', or an eval --out."),
    data: Path = typer.Option(
        ..., "--data", help="Benchmark folder; only its question file is read (videos and images may be absent)."
    ),
    out: Path = typer.Option(Path("outputs/score"), "--out", help="Where results.json/.md/.png/.html go."),
    prompt: str = typer.Option("thinking", "--prompt", help="Prompt style the predictions were made with."),
    scoring: str = typer.Option(None, "--scoring", help="vsibench-2024 | lmms-eval | spatialladder."),
    official_quirks: bool = typer.Option(False, "--official-quirks", help="Official scorer bug for bug (SPAR)."),
) -> None:
    """Score an existing predictions file by the same rules as `eval` (any model, any harness).

    Example: spatialladder score --bench vsi --predictions preds.jsonl --data data/VSI-Bench --out outputs/score
    """
    from spatialladder.eval.runner import run_score

    results = run_score(bench, predictions, data, out, prompt=prompt, scoring=scoring, official_quirks=official_quirks)
    typer.echo(f"{results['bench']}: overall {results['overall']:.2f} (n={results['n']}) -> {out}")


@app.command("train")
def train_command(
    stage: str = typer.Option(..., "--stage", help="1|2|cs|3 (or localization|spatial|coldstart|grpo), or all."),
    config: Path = typer.Option(..., "--config", "-c", help="Stage config; with --stage all a `kind: ladder` file."),
    overrides: list[str] = SetOption,
    resume: bool | None = typer.Option(
        None,
        "--resume/--no-resume",
        help="Force the resume policy of one stage: --resume continues from the newest checkpoint-* in output_dir "
        "whatever config wrote it; --no-resume starts over and removes the folder's old checkpoints. Without either, "
        "a folder holding checkpoints of this same config resumes, one of another config is refused.",
    ),
) -> None:
    """Train one rung of the ladder, or all of them (1 → 2 → cs → 3, finished stages skipped).

    Rerunning a stage resumes from its newest checkpoint when output_dir was written by the same config (config
    hash); a different config's checkpoints are refused (pass --resume or --no-resume, or pick a new output_dir).

    Example: spatialladder train --stage 1 --config configs/train/stage1_localization.yaml --set trainer.max_steps=10
    Example: spatialladder train --stage all --config configs/ladder.yaml --set spatial.trainer.learning_rate=2e-5
    Multi-GPU: accelerate launch --config_file configs/accelerate/zero3.yaml -m spatialladder train --stage 2 -c ...
    """
    from spatialladder.train.ladder import train_command as run

    for line in run(stage, config, overrides or [], resume=resume):
        typer.echo(line)


@app.command("demo")
def demo(
    out: Path = typer.Option(Path("outputs/demo"), "--out", help="Folder for everything the demo writes."),
    scenes: int = typer.Option(8, "--scenes", help="Synthetic training scans (held-out scans: a third, at least 1)."),
    seed: int = typer.Option(0, "--seed", help="One seed for scenes, data, training and eval."),
    smoke: bool = typer.Option(False, "--smoke", help="An under-a-minute version for CI: fewer frames and steps."),
    configs: Path = typer.Option(Path("configs/demo"), "--configs", help="The demo's YAML configs."),
    family: str = typer.Option(
        "qwen2.5-vl", "--family", help="The tiny base model's family: qwen2.5-vl | qwen3-vl | qwen3.5."
    ),
) -> None:
    """The whole ladder end to end on synthetic ScanNet scans and a tiny Qwen-family VLM, on CPU, offline; resumes.

    Example: spatialladder demo --out outputs/demo --scenes 8 --seed 0
    Example: spatialladder demo --out outputs/demo-qwen3-vl --family qwen3-vl --smoke
    """
    from spatialladder.models.families import family_named
    from spatialladder_demo import DemoPlan, run_demo, summary

    family_named(family)  # one line for an unknown family, before anything runs
    plan = DemoPlan(out, train_scenes=scenes, heldout_scenes=max(1, scenes // 3), seed=seed, smoke=smoke,
                    configs_dir=configs, family=family)  # fmt: skip
    typer.echo(summary(run_demo(plan)))


def _click_exception_types() -> tuple[type[Exception], ...]:
    """click's ClickException as typer raises it: typer >= 0.2x vendors click as ``typer._click`` (whose exceptions do
    not derive from click's), older typer uses click itself. Found through typer's public BadParameter, not a private
    module path; click's own class is added for code that raises it directly."""
    types = {cls for cls in typer.BadParameter.__mro__ if cls.__name__ == "ClickException"}
    try:
        import click
    except ImportError:  # typer with vendored click does not need click installed
        pass
    else:
        types.add(click.ClickException)
    return tuple(types)


def main() -> None:
    """Console entry point: library errors become one clear line and exit code 2, not a traceback; usage errors
    (unknown option or command, missing option) print click's usage line and error and exit 2, as click does."""
    try:
        code = app(standalone_mode=False)  # a command's typer.Exit(code) comes back as the return value here
    except (SpatialLadderError, OSError) as exc:  # OSError: a folder we may not create, a full disk
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        sys.exit(2)
    except (typer.Exit, typer.Abort) as exc:
        sys.exit(getattr(exc, "exit_code", 1))
    except _click_exception_types() as exc:  # usage errors arrive here in non-standalone mode
        exc.show()
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
