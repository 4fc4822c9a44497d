"""Prompting: one benchmark question → the chat message, images and video frames the model is given."""

from __future__ import annotations

from typing import Any

from spatialladder.config.eval import EvalConfig
from spatialladder.eval.base import BenchmarkSpec, EvalSample
from spatialladder.eval.inputs import VisionInputs
from spatialladder.eval.video import FrameCache, read_frames
from spatialladder.prompts import eval_user_text

DIRECT = VisionInputs("direct")


def user_text(sample: EvalSample, spec: BenchmarkSpec, style: str) -> str:
    """The benchmark's own official text for ``direct`` where it has one (MMSI, MindCube), else the shared one."""
    if style == "direct" and spec.direct_text is not None:
        return spec.direct_text(sample)
    return eval_user_text(
        style, sample.question, sample.options, sample.kind, letter_examples=spec.letter_examples, extra=sample.extra
    )


def vision_inputs(cfg: EvalConfig) -> VisionInputs:
    """The run's input protocol; the official video pre-resize targets the processor's ``max_pixels``."""
    return VisionInputs(cfg.input_protocol, cfg.model.max_pixels if cfg.input_protocol == "official" else None)


def build_message(
    sample: EvalSample,
    spec: BenchmarkSpec,
    style: str,
    frames: int,
    cache: FrameCache | None = None,
    inputs: VisionInputs = DIRECT,
    backend: str = "hf",
) -> tuple[list, list, list]:
    """One user turn, vision before text, plus the images and video frames in message order, prepared by
    ``inputs`` (the official harness's pre-resize, or none) in the form the processor is given.

    Videos are in the form ``backend`` takes: the processor's input for ``hf``, uint8 frames for ``vllm`` (so the
    official protocol's float tensor is neither built nor rounded back per question). Video frames come from
    ``cache`` when given, so questions on the same video decode (and prepare) it once, and
    questions on it asked one after another get the very same processor input (not to be modified).
    """
    content: list[dict[str, Any]] = []
    images = [inputs.image(item) for item in sample.images]
    content += [{"type": "image"} for _ in images]
    videos = []
    if sample.video is not None:
        convert = inputs.video_for_vllm if backend == "vllm" else inputs.video_for_processor
        if cache is None:
            videos.append(convert(inputs.prepare_video(read_frames(sample.video, frames))))
        else:
            videos.append(cache.get(sample.video, frames, inputs.prepare_video, convert))
        content.append({"type": "video"})
    content.append({"type": "text", "text": user_text(sample, spec, style)})
    return [{"role": "user", "content": content}], images, videos
