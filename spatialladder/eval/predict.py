"""Predicting: this process's shard of the questions → its predictions file, batched, flushed per answer, resumable.

Every record carries ``run_key``, the hash of the settings that change a prediction (:func:`prediction_settings`),
so a rerun reuses only predictions made the same way; a blind run (``blind``) has its own key and its own file,
``predictions.blind.jsonl``, beside a sighted run's. A shard holds every question on its videos
(:func:`video_key`), and with ``share_video_prefix`` its questions are predicted video by video
(:func:`plan_batches`), so a video is encoded once for all its questions, by one rank.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

from spatialladder.config.eval import EvalConfig
from spatialladder.eval.base import BenchmarkSpec, EvalSample
from spatialladder.eval.inputs import VisionInputs
from spatialladder.eval.messages import build_message, resolve_protocol, vision_inputs
from spatialladder.eval.sharding import (
    BLIND_PREDICTIONS,
    PREDICTIONS,
    collect_predictions,
    repair_tail,
    shard,
    shard_path,
)
from spatialladder.eval.video import FrameCache

logger = logging.getLogger(__name__)


def prediction_settings(cfg: EvalConfig) -> dict[str, Any]:
    """Every setting that changes a prediction (model, prompt, inputs, backend, decoding), as JSON values, with the
    input protocol's defaults filled in (``resolve_protocol``): a config that leaves them open and one that spells
    out the same values predict alike. ``"blind": true`` only for a blind run, so a sighted run's key is what it
    was before blind runs existed."""
    cfg = resolve_protocol(cfg)
    blind = {"blind": True} if cfg.blind else {}
    return {
        "model": cfg.model.model_dump(mode="json"),
        "prompt": cfg.prompt,
        "frames": cfg.frames,
        "video_fps": cfg.video_fps,
        "input_protocol": cfg.input_protocol,
        "backend": cfg.backend,
        "max_new_tokens": cfg.resolved_max_new_tokens(),
        "generation": cfg.generation.model_dump(mode="json"),
        **blind,
    }


def predictions_name(cfg: EvalConfig) -> str:
    """The run's predictions file: ``predictions.blind.jsonl`` for a blind run, else ``predictions.jsonl``."""
    return BLIND_PREDICTIONS if cfg.blind else PREDICTIONS


def run_key(cfg: EvalConfig) -> str:
    """Hash of :func:`prediction_settings`; a resumed run must match it."""
    return hashlib.sha256(json.dumps(prediction_settings(cfg), sort_keys=True).encode()).hexdigest()[:16]


def make_generator(cfg: EvalConfig, samples: Sequence[EvalSample] = ()) -> Any:
    """The configured backend; vLLM is sized for the most images any sample of ``samples`` carries (none at all
    when blind)."""
    if cfg.backend == "hf":
        from spatialladder.eval.generation import HFGenerator

        return HFGenerator(cfg)
    from spatialladder.eval.vllm_backend import VLLMGenerator

    if cfg.blind:
        return VLLMGenerator(cfg, max_images=0, video=False)
    max_images = max((len(s.images) for s in samples), default=1)
    return VLLMGenerator(cfg, max_images=max_images, video=any(s.video is not None for s in samples))


def video_key(sample: EvalSample) -> str | None:
    """The video a question is on (its resolved path), None for a question without one."""
    return None if sample.video is None else str(Path(sample.video).resolve())


def plan_batches(
    samples: Sequence[EvalSample], batch_size: int, inputs: VisionInputs, frames: int, *, by_video: bool
) -> list[tuple[list[EvalSample], list[Hashable] | None]]:
    """``samples`` in batches of at most ``batch_size``, each with the key of every question's video (None for a
    batch with questions on no video or with images).

    ``by_video``: the questions on a video (without images) are gathered, in the order of each video's first
    question, and batched in that order, a batch ending one video's questions and beginning the next one's; a key
    names what the model is shown (file, frames, input protocol). Other questions follow in their own order.
    Otherwise: consecutive batches in ``samples`` order, no keys.
    """
    if not by_video:
        return [(list(samples[i : i + batch_size]), None) for i in range(0, len(samples), batch_size)]
    groups: dict[Hashable, list[EvalSample]] = {}
    rest: list[EvalSample] = []
    for sample in samples:
        if sample.video is None or sample.images:
            rest.append(sample)
        else:
            groups.setdefault((video_key(sample), frames, inputs), []).append(sample)
    ordered = [(sample, key) for key, group in groups.items() for sample in group]
    plan: list[tuple[list[EvalSample], list[Hashable] | None]] = []
    for i in range(0, len(ordered), batch_size):
        chunk = ordered[i : i + batch_size]
        plan.append(([sample for sample, _ in chunk], [key for _, key in chunk]))
    return plan + [(rest[i : i + batch_size], None) for i in range(0, len(rest), batch_size)]


def predict_shard(
    cfg: EvalConfig,
    spec: BenchmarkSpec,
    samples: Sequence[EvalSample],
    *,
    rank: int = 0,
    world_size: int = 1,
    generate=None,
) -> tuple[int, int]:
    """Predict this rank's shard of ``samples`` not yet predicted, appending to its predictions file.

    ``generate`` (a loaded generator) is built from ``cfg`` when None and only if there is work.
    Returns ``(n_generated, n_reused)`` for this shard. Blind: questions in benchmark order (no video to share),
    nothing decoded.
    """
    cfg = resolve_protocol(cfg)
    out_dir = Path(cfg.output_dir)
    key = run_key(cfg)
    name = predictions_name(cfg)
    mine = shard(samples, rank, world_size, key=video_key)
    done = collect_predictions(out_dir, key, name)
    todo = [s for s in mine if s.id not in done]
    n_reused = len(mine) - len(todo)
    logger.info(
        "%s rank %d/%d: %d questions, %d already predicted, %d to generate",
        *(spec.name, rank, world_size, len(mine), n_reused, len(todo)),
    )
    # vLLM engines of a multi-process launch start together (collectives in their start-up: vllm_backend), so while
    # any rank has questions left, a rank with none of its own still builds its engine. Every rank decides from the
    # same files: none is written before all engines are up.
    engine_everywhere = cfg.backend == "vllm" and world_size > 1 and any(s.id not in done for s in samples)
    if not todo and not engine_everywhere:
        return 0, n_reused
    generate = generate or make_generator(cfg, samples)
    if not todo:
        return 0, n_reused
    path = shard_path(out_dir, rank, world_size, name)
    out_dir.mkdir(parents=True, exist_ok=True)
    repair_tail(path)
    cache = FrameCache()
    inputs = vision_inputs(cfg)
    done_now = 0
    by_video = cfg.share_video_prefix and not cfg.blind
    with path.open("a", encoding="utf-8") as f:
        for batch, keys in plan_batches(todo, cfg.batch_size, inputs, cfg.frames, by_video=by_video):
            prompts = [
                build_message(s, spec, cfg.prompt, cfg.frames, cache, inputs, cfg.backend, blind=cfg.blind)
                for s in batch
            ]
            outputs = generate(prompts) if keys is None else generate(prompts, video_keys=keys)
            for sample, out in zip(batch, outputs, strict=True):
                f.write(json.dumps(prediction_record(sample, out, key, blind=cfg.blind), ensure_ascii=False) + "\n")
                f.flush()
            done_now += len(batch)
            logger.info("%s rank %d: %d/%d predicted", spec.name, rank, done_now, len(todo))
    if cache.decodes:
        logger.info(
            "%s rank %d: %d videos decoded, %d reused from the frame cache", spec.name, rank, cache.decodes, cache.hits
        )
    shared = getattr(generate, "shared", None)
    if shared is not None and shared.stats["questions"]:
        stats = shared.stats
        logger.info(
            "%s rank %d: %d questions on %d videos encoded once each (%d prefills); %d of %d prompt tokens prefilled",
            *(spec.name, rank, stats["questions"], stats["videos"], stats["prefills"]),
            *(stats["tokens_prefilled"], stats["prompt_tokens"]),
        )
    return len(todo), n_reused


def prediction_record(sample: EvalSample, out: Any, key: str, *, blind: bool = False) -> dict[str, Any]:
    """One line of a predictions file: the question's id, type and answer, the output, its vision grids, the key;
    a blind run's records say ``"blind": true`` (and carry no grids: the model saw none)."""
    vision = {"blind": True} if blind else out.grids
    return {
        "id": sample.id,
        "question_type": sample.question_type,
        "ground_truth": sample.ground_truth,
        "prediction": out.text,
        **vision,
        "run_key": key,
    }
