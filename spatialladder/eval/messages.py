"""Prompting: one benchmark question → the chat message, images and video frames the model is given, by the run's
input protocol (``resolve_protocol``: the model family's unless the config names one)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spatialladder.config.eval import EvalConfig
from spatialladder.errors import ConfigError
from spatialladder.eval.base import BenchmarkSpec, EvalSample
from spatialladder.eval.inputs import LMMS_EVAL, VisionInputs
from spatialladder.eval.video import FrameCache, read_video
from spatialladder.models.families import ModelFamily
from spatialladder.prompts import LMMS_PRE, eval_user_text

DIRECT = VisionInputs("direct")
OFFICIAL_REPETITION_PENALTY = 1.05
"""The Qwen2.5-VL-3B-Instruct / SpatialLadder-3B ``generation_config.json`` value the official eval inherits."""


def user_text(sample: EvalSample, spec: BenchmarkSpec, style: str) -> str:
    """The benchmark's own official text for ``direct`` where it has one (MMSI, MindCube), else the shared one."""
    if style == "direct" and spec.direct_text is not None:
        return spec.direct_text(sample)
    return eval_user_text(
        style, sample.question, sample.options, sample.kind, letter_examples=spec.letter_examples, extra=sample.extra
    )


def blind_user_text(text: str) -> str:
    """The user text of a blind run (``eval --blind``): the sighted text less lmms-eval's visual pre-prompt
    ``"These are frames of a video."`` (its first line under ``prompt: lmms``), the rest word for word.

    TsT (arXiv 2511.04655) asks its blind models the question, its options and the post prompt only
    (vision-x-nyu/test-set-training@ef47fa7, branch meta_nov25, ``src/TsT/evaluators/llm/data/conversion.py``
    ``get_blind_qa``, lines 18-81: ``instruction_template`` "…{question}" + options + ``post_prompt``; the "blind QA"
    format "text-only, no visual information", ``CLAUDE.md`` 135); thinking-in-space's ``vsibench_doc_to_text`` has no
    blind mode. A sentence announcing frames that are not there would tell the model about missing input rather than
    ask the question, so it goes; every other word (the ``direct`` / ``thinking`` templates, a benchmark's own
    instruction such as MindCube's "examining the provided images") is the benchmark's question text and stays, so
    sighted and blind runs differ in the vision only (docs/fidelity.md)."""
    return text.removeprefix(LMMS_PRE + "\n")


def resolve_protocol(cfg: EvalConfig, family: ModelFamily | None = None) -> EvalConfig:
    """``cfg`` with its input protocol and that protocol's defaults filled in where it leaves them open (None):
    ``input_protocol`` = the model family's ``eval_protocol``; ``frames`` = 32 (lmms-eval Qwen3.5: 768, at 2 fps);
    ``generation.repetition_penalty`` = 1.05 for ``official`` / ``direct``, the checkpoint's own
    ``generation_config.json`` value for the lmms-eval protocols (lmms-eval passes none); a thinking protocol's
    ``max_new_tokens``. ``family`` is read from the checkpoint when not given. A resolved config comes back as is."""
    if cfg.resolved:
        return cfg
    if family is None:
        from spatialladder.models.load import model_family

        family = model_family(cfg.model.name_or_path)
    protocol = cfg.input_protocol or family.eval_protocol
    lmms = LMMS_EVAL.get(protocol)
    if lmms is None:
        return cfg.with_protocol(protocol, frames=32, repetition_penalty=OFFICIAL_REPETITION_PENALTY)
    if family.patch_size != lmms.patch_size:
        raise ConfigError(
            f"input_protocol {protocol!r} feeds lmms-eval's patch-{lmms.patch_size} families (Qwen3-VL, Qwen3.5); "
            f"model {cfg.model.name_or_path} is {family.name} (patch {family.patch_size}): use official or direct"
        )
    penalty = cfg.generation.repetition_penalty or checkpoint_repetition_penalty(cfg.model.name_or_path)
    return cfg.with_protocol(
        protocol, frames=lmms.max_num_frames, repetition_penalty=penalty, max_new_tokens=lmms.max_new_tokens
    )


def checkpoint_repetition_penalty(name_or_path: str) -> float:
    """The ``repetition_penalty`` ``generate`` takes from the checkpoint's ``generation_config.json`` when none is
    passed (1.0 without one), read from the base model of an adapter."""
    from transformers import GenerationConfig

    from spatialladder.models.load import base_source, resolve_source

    source = base_source(resolve_source(name_or_path))
    if Path(source).is_dir() and not (Path(source) / "generation_config.json").is_file():
        return 1.0
    try:
        config = GenerationConfig.from_pretrained(source)
    except OSError as exc:
        raise ConfigError(
            f"model {source}: cannot read its generation_config.json for the repetition penalty ({exc}); set "
            "generation.repetition_penalty"
        ) from None
    return float(config.repetition_penalty or 1.0)


def vision_inputs(cfg: EvalConfig, family: ModelFamily | None = None) -> VisionInputs:
    """The run's input protocol for ``family`` (read from the checkpoint when not given); the official video
    pre-resize targets the processor's ``max_pixels``."""
    if family is None:
        from spatialladder.models.load import model_family

        family = model_family(cfg.model.name_or_path)
    protocol = cfg.input_protocol or family.eval_protocol
    return VisionInputs(
        protocol,
        cfg.model.max_pixels if protocol == "official" else None,
        patch_size=family.patch_size,
        timestamps=family.video_time == "timestamps",
    )


def build_message(
    sample: EvalSample,
    spec: BenchmarkSpec,
    style: str,
    frames: int,
    cache: FrameCache | None = None,
    inputs: VisionInputs = DIRECT,
    backend: str = "hf",
    blind: bool = False,
) -> tuple[list, list, list]:
    """The protocol's system turn (if it has one) and one user turn, vision before text, plus the images and video
    frames in message order, prepared by ``inputs`` (the official harness's pre-resize, lmms-eval's qwen-vl-utils
    resize, or none) in the form the processor is given.

    Videos are in the form ``backend`` takes: the processor's input for ``hf``, uint8 frames for ``vllm`` (so a
    float tensor is neither built nor rounded back per question). Video frames come from ``cache`` when given, so
    questions on the same video decode (and prepare) it once, and questions on it asked one after another get the
    very same processor input (not to be modified). For the timestamp families the video item carries the file's
    ``video_metadata`` (:func:`video_metadata_of` reads it back).

    ``blind``: no image or video at all (none opened or decoded, no placeholder in the message) and the text of
    :func:`blind_user_text`; the protocol's system turn stays.
    """
    system = [] if inputs.system_prompt is None else [{"role": "system", "content": inputs.system_prompt}]
    if blind:
        text = blind_user_text(user_text(sample, spec, style))
        return [*system, {"role": "user", "content": [{"type": "text", "text": text}]}], [], []
    content: list[dict[str, Any]] = []
    images = [inputs.image(item) for item in sample.images]
    content += [{"type": "image"} for _ in images]
    videos = []
    if sample.video is not None:
        convert = inputs.video_for_vllm if backend == "vllm" else inputs.video_for_processor
        sampler = inputs.sampler(frames)
        if cache is None:
            raw, time = read_video(sample.video, sampler)
            video = convert(inputs.prepare_video(raw))
        else:
            video, time = cache.clip(sample.video, sampler, inputs.prepare_video, convert)
        videos.append(video)
        content.append(inputs.video_content(time))
    content.append({"type": "text", "text": user_text(sample, spec, style)})
    return [*system, {"role": "user", "content": content}], images, videos


def video_metadata_of(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``video_metadata`` the video items of ``messages`` carry, in order (none for Qwen2.5-VL's protocol)."""
    return [
        item["video_metadata"]
        for message in messages
        if isinstance(message["content"], list)
        for item in message["content"]
        if item.get("type") == "video" and "video_metadata" in item
    ]
