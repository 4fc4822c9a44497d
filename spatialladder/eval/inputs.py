"""How a benchmark's video frames and images reach the model: one named protocol per run (``input_protocol``, by
default the model family's ``eval_protocol``), recorded in ``results.json``.

``official`` (Qwen2.5-VL's) reproduces ``eval_spld`` of ``ZJU-REAL/SpatialLadder``:

- video (``utils.py load_video_frames``, ``data_utils/vsibench.py``): each sampled frame is LANCZOS-resized to about
  ``max_pixels`` area keeping its aspect (``w = int(sqrt(P·ar))``, ``h = int(sqrt(P/ar))``, ``ar = w/h``), the list
  of PIL frames goes through qwen-vl-utils ``fetch_video`` (``fetch_image`` per frame: sides rounded to multiples of
  28; padded to an even count; a video-level ``smart_resize``), and that float tensor goes to the processor, which
  resizes once more to its own bounds. A 640×480 frame at 401,408 px: 731×548 → 728×560 → 700×532, grid 38×50.
  The frame list is resized as the Qwen team fixed qwen-vl-utils (:func:`fetch_frame_list`), whatever copy is
  installed.
- images (``data_utils/{spbench,cvbench,sparbench,viewspatial_bench}.py``): PIL images (files opened with
  ``.convert('RGB')``, parquet bytes opened as they are) go through qwen-vl-utils ``fetch_image`` at its default
  bounds (sides rounded to multiples of 28), then the processor.

``direct`` hands the decoded frames and images to the processor unchanged (one resize, by the processor).

``lmms-eval-qwen3_vl`` / ``lmms-eval-qwen3_5`` (Qwen3-VL's / Qwen3.5's) feed the model as lmms-eval's ``qwen3_vl`` /
``qwen3_5`` wrappers do (EvolvingLMMs-Lab/lmms-eval a878850, ``lmms_eval/models/simple/qwen3_vl.py``; lines below
are that file's unless named): the benchmark's own video file is a qwen-vl-utils ``video`` element with the
wrapper's keys (``_build_video_kwargs``, 213-230), so qwen-vl-utils 0.0.14 picks the frames (``vision_process.py``
``smart_nframes``, then ``torch.linspace(0, total - 1, n).round()``: :class:`QwenVLUtilsFrames`) and sizes them in
the family's factor 32 (``fetch_video`` 448-475: :func:`qwen_vl_utils_resize`), with no pre-resize; images are
``fetch_image`` elements with
the wrapper's bounds (321-329); ``process_vision_info(image_patch_size=16)`` (363-368); the processor runs with
``do_resize=False``, ``do_sample_frames=False`` and the file's ``video_metadata`` (373-394); system prompt
"You are a helpful assistant." (90, 304); greedy. Frames are decoded with PyAV (lmms-eval: torchcodec or decord).
Qwen3.5 (``qwen3_5.py``) changes the bounds (24-26), takes the video's frames at qwen-vl-utils' 2 fps (up to 768),
thinks (``enable_thinking=True``, 29) and cuts the think block from the answer (``_strip_thinking``, 267-272).
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spatialladder.errors import DataFormatError
from spatialladder.eval.video import Sampler, Uniform, VideoTime
from spatialladder.vocab import InputProtocol

LMMS_EVAL_SOURCE = "EvolvingLMMs-Lab/lmms-eval@a878850dd77307a0c8509d24037368d2d6547818"
QWEN_VL_UTILS_FIX = "QwenLM/Qwen3-VL fe12058 (PR #1820)"


@dataclass(frozen=True)
class LmmsEvalWrapper:
    """What one of lmms-eval's Qwen3 wrappers fixes (``lmms_eval/models/simple/qwen3_vl.py`` at a878850, and
    ``qwen3_5.py`` for Qwen3.5); ``max_num_frames`` is the default of the run's ``frames``."""

    wrapper: str
    min_pixels: int
    max_pixels: int
    total_pixels: int | None
    max_num_frames: int
    enable_thinking: bool | None = None
    """Passed to the chat template when not None (``_apply_chat_template``, 232-238)."""
    max_new_tokens: int | None = None
    """The wrapper's ``DEFAULT_GEN_KWARGS`` where it thinks (Qwen3.5: 1024, ``qwen3_5.py`` 14-19): the VSI-Bench
    task's 16 would cut the think block before any answer."""
    system_prompt: str = "You are a helpful assistant."
    patch_size: int = 16
    """``process_vision_info(..., image_patch_size=16)`` (363-368): the Qwen3 families' patch."""

    def pixel_keys(self) -> dict[str, int]:
        """The video element's pixel keys: ``min_pixels`` and ``total_pixels`` when set, else ``max_pixels``."""
        if self.total_pixels is not None:
            return {"min_pixels": self.min_pixels, "total_pixels": self.total_pixels}
        return {"min_pixels": self.min_pixels, "max_pixels": self.max_pixels}

    def video_element(self, frames: int) -> dict[str, int]:
        """``_build_video_kwargs`` with ``fps`` unset: ``nframes`` = frames, or ``max_frames`` = frames when
        ``total_pixels`` is set (qwen-vl-utils then samples at its default 2 fps)."""
        count = {"nframes": frames} if self.total_pixels is None else {"max_frames": frames}
        return {**self.pixel_keys(), **count}

    def image_element(self) -> dict[str, int]:
        return {"max_pixels": self.max_pixels, "min_pixels": self.min_pixels}


LMMS_EVAL: dict[str, LmmsEvalWrapper] = {
    # qwen3_vl.py 85-90: min_pixels 256·28·28, max_pixels 1,605,632, max_num_frames 32, system prompt; fps and
    # total_pixels None
    "lmms-eval-qwen3_vl": LmmsEvalWrapper("qwen3_vl", 256 * 28 * 28, 1_605_632, None, 32),
    # qwen3_5.py 24-29: 64·32² … 128·32² px, total_pixels 224·1024·32², max_num_frames 768, enable_thinking True
    "lmms-eval-qwen3_5": LmmsEvalWrapper(
        "qwen3_5", 64 * 32 * 32, 128 * 32 * 32, 224 * 1024 * 32 * 32, 768, enable_thinking=True, max_new_tokens=1024
    ),
}
"""The lmms-eval protocols by ``input_protocol`` name."""


@dataclass(frozen=True)
class QwenVLUtilsFrames:
    """The frames qwen-vl-utils' video readers pick for a ``video`` element (``vision_process.py`` of 0.0.14):
    ``smart_nframes`` (144-181: ``nframes`` rounded to even, or the video's length at 2 fps within ``min_frames``
    4 … ``max_frames``), then ``torch.linspace(0, total - 1, n).round()`` (torchvision 215, decord 317, torchcodec
    366). A video shorter than the frames asked is an error there, and here."""

    element: tuple[tuple[str, int], ...]

    def __call__(self, total: int, fps: float | None) -> list[int]:
        import torch
        from qwen_vl_utils.vision_process import smart_nframes

        element = dict(self.element)
        if fps is None and "nframes" not in element:
            raise DataFormatError("the container states no frame rate, which qwen-vl-utils samples frames by")
        try:
            n = smart_nframes(element, total_frames=total, video_fps=fps or 1.0)
        except ValueError as exc:
            raise DataFormatError(f"qwen-vl-utils cannot sample {total} frames for {element}: {exc}") from None
        return torch.linspace(0, total - 1, n).round().long().tolist()


def qwen_vl_utils_resize(video: Any, patch_size: int, element: Mapping[str, Any]) -> Any:
    """``fetch_video``'s video-level resize (qwen-vl-utils 0.0.14 ``vision_process.py`` 448-475) of a ``(T, C, H, W)``
    tensor: sides in multiples of 2·patch by ``smart_resize`` within the element's ``min_pixels`` (default 128
    tokens) and a per-frame cap of min(768 tokens, ``total_pixels`` / T · 2), lowered to the element's
    ``max_pixels`` if smaller; bicubic with antialias, returned as float (values in 0..255, not clipped)."""
    from qwen_vl_utils import vision_process as vp
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as tvf

    factor = patch_size * vp.SPATIAL_MERGE_SIZE
    nframes, _, height, width = video.shape
    min_pixels = element.get("min_pixels", vp.VIDEO_MIN_TOKEN_NUM * factor * factor)
    total_pixels = element.get("total_pixels", vp.MODEL_SEQ_LEN * factor * factor * 0.9)
    max_pixels = max(
        min(vp.VIDEO_MAX_TOKEN_NUM * factor * factor, total_pixels / nframes * vp.FRAME_FACTOR), int(min_pixels * 1.05)
    )
    max_pixels = min(element.get("max_pixels", max_pixels), max_pixels)
    h, w = vp.smart_resize(height, width, factor=factor, min_pixels=min_pixels, max_pixels=max_pixels)
    return tvf.resize(video, [h, w], interpolation=InterpolationMode.BICUBIC, antialias=True).float()


def fetch_frame_list(frames: Sequence[Any], patch_size: int, element: Mapping[str, Any] | None = None) -> Any:
    """qwen-vl-utils ``fetch_video`` of a list of PIL frames as the Qwen team fixed it (QwenLM/Qwen3-VL fe12058, PR
    #1820, merged in abe50f4 without a release): each frame through ``fetch_image`` with the model's *patch size*
    (``vision_process.py`` 425: 0.0.14 as published passes the merge factor 2·patch there, so the frames of a list
    were rounded to multiples of 56 / 64 instead of 28 / 32), padded to an even count with the last frame
    (430-432), stacked, then the video-level resize (:func:`qwen_vl_utils_resize`). The result does not depend on
    which copy of qwen-vl-utils is installed."""
    from concurrent.futures import ThreadPoolExecutor

    import torch
    from qwen_vl_utils import vision_process as vp

    info = {k: v for k, v in (element or {}).items() if k not in ("type", "video")}
    workers = max(1, min(vp.MAX_NUM_WORKERS_FETCH_VIDEO, len(frames)))
    with ThreadPoolExecutor(max_workers=workers) as pool:  # as fetch_video; the same images either way
        images = list(pool.map(lambda frame: vp.fetch_image({"image": frame, **info}, patch_size), frames))
    images += [images[-1]] * (vp.ceil_by_factor(len(images), vp.FRAME_FACTOR) - len(images))
    video = torch.stack([torch.from_numpy(np.array(image).transpose(2, 0, 1)) for image in images])
    return qwen_vl_utils_resize(video, patch_size, info)


def official_target_size(width: int, height: int, target_pixels: int) -> tuple[int, int]:
    """``(w, h)`` of the official pre-resize: about ``target_pixels`` area at the frame's aspect, truncated.

    ``calculate_target_size`` in ``eval_spld/utils.py``: 640×480 at 401,408 px → 731×548.
    """
    aspect = width / height
    return int((target_pixels * aspect) ** 0.5), int((target_pixels / aspect) ** 0.5)


def official_pre_resize(frame: Any, target_pixels: int) -> Any:
    """One frame (HxWx3 uint8 array or PIL image) LANCZOS-resized as ``resize_image_to_target_pixels`` does."""
    from PIL import Image

    image = frame if isinstance(frame, Image.Image) else Image.fromarray(np.asarray(frame, dtype=np.uint8))
    return image.resize(official_target_size(*image.size, target_pixels), Image.Resampling.LANCZOS)


def compact_video(video: Any) -> Any:
    """qwen-vl-utils' float ``(T, C, H, W)`` tensor as uint8 ``(T, H, W, C)`` when that loses nothing, else as is.

    When the video-level resize of ``fetch_video`` keeps the size (the usual case) every value is an integer in
    0..255, so the cache holds a quarter of the bytes; ``processor_video`` restores the exact tensor.
    """
    import torch

    if torch.equal(video, video.round()) and video.min() >= 0 and video.max() <= 255:
        return video.to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()
    return video


def processor_video(compact: Any) -> Any:
    """What qwen-vl-utils handed the processor: a float32 ``(T, C, H, W)`` tensor (the processor resizes in the
    input's dtype, so uint8 and float inputs of equal values give different pixels after its resize)."""
    import torch

    if isinstance(compact, np.ndarray):
        return torch.from_numpy(compact).permute(0, 3, 1, 2).float()
    return compact


def as_uint8_frames(video: Any) -> np.ndarray:
    """``(T, H, W, 3)`` uint8 frames from either form (vLLM takes uint8 arrays); float values are rounded."""
    if isinstance(video, np.ndarray):
        return video if video.dtype == np.uint8 else np.clip(np.rint(video), 0, 255).astype(np.uint8)
    return np.clip(np.rint(video.permute(0, 2, 3, 1).numpy()), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class VisionInputs:
    """The input protocol of a run: what is done to frames and images before the processor, and what goes with
    them (system prompt, video times, chat-template and processor arguments)."""

    protocol: InputProtocol = "direct"
    target_pixels: int | None = None
    """Area of the official video pre-resize (the harness passes its ``max_pixels``); unused by the others."""
    patch_size: int = 14
    """The model family's vision patch (14 Qwen2.5-VL, 16 Qwen3-VL / Qwen3.5): qwen-vl-utils' ``image_patch_size``."""
    timestamps: bool = False
    """The family stamps frame times as text (``ModelFamily.video_time == "timestamps"``): each video goes with the
    file's own ``video_metadata`` (its fps, the indices sampled) instead of Qwen2.5-VL's ``video_fps``."""

    def __post_init__(self) -> None:
        if self.protocol == "official" and not self.target_pixels:
            raise ValueError("the official input protocol needs target_pixels (the model's max_pixels)")
        lmms = self.lmms
        if lmms is not None and self.patch_size != lmms.patch_size:
            raise ValueError(
                f"input protocol {self.protocol!r} feeds patch-{lmms.patch_size} models (Qwen3-VL, Qwen3.5); this "
                f"model's patch is {self.patch_size}: use official or direct"
            )

    @property
    def lmms(self) -> LmmsEvalWrapper | None:
        """The lmms-eval wrapper this protocol follows, None for ``official`` / ``direct``."""
        return LMMS_EVAL.get(self.protocol)

    @property
    def system_prompt(self) -> str | None:
        """The system turn the protocol's harness sends (lmms-eval's), None for the chat template's own default."""
        return None if self.lmms is None else self.lmms.system_prompt

    @property
    def template_kwargs(self) -> dict[str, Any]:
        """Extra ``apply_chat_template`` arguments (Qwen3.5's ``enable_thinking``)."""
        lmms = self.lmms
        return {} if lmms is None or lmms.enable_thinking is None else {"enable_thinking": lmms.enable_thinking}

    def sampler(self, frames: int) -> Sampler:
        """Which frames of a video file the protocol takes, ``frames`` being the run's setting."""
        lmms = self.lmms
        return Uniform(frames) if lmms is None else QwenVLUtilsFrames(tuple(lmms.video_element(frames).items()))

    def prepare_video(self, frames: np.ndarray) -> Any:
        """Sampled ``(N, H, W, 3)`` uint8 frames → the form to cache: unchanged (direct); the official pre-resize +
        qwen-vl-utils frame list (official); qwen-vl-utils' video-level resize (lmms-eval); compacted."""
        if self.protocol == "direct":
            return frames
        if self.lmms is not None:
            import torch

            video = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)
            return compact_video(qwen_vl_utils_resize(video, self.patch_size, self.lmms.pixel_keys()))
        return compact_video(
            fetch_frame_list([official_pre_resize(f, self.target_pixels) for f in frames], self.patch_size)
        )

    def video_for_processor(self, prepared: Any) -> Any:
        """The cached form → what the processor is given (uint8 frames for direct, the float tensor otherwise)."""
        return prepared if self.protocol == "direct" else processor_video(prepared)

    def video_for_vllm(self, prepared: Any) -> np.ndarray:
        """The cached form → the ``(T, H, W, 3)`` uint8 frames vLLM takes: the cached array itself (direct, and
        the others when compacted losslessly), else the float tensor rounded once per video."""
        return as_uint8_frames(prepared)

    def video_content(self, time: VideoTime) -> dict[str, Any]:
        """The message's video item; for the timestamp families it carries the file's ``video_metadata``, which the
        generators hand to the processor (the chat template renders the item the same either way)."""
        if not self.timestamps:
            return {"type": "video"}
        return {"type": "video", "video_metadata": time.metadata()}

    def image(self, item: Any) -> Any:
        """A PIL image from a path or encoded bytes, as the protocol's harness passes it to the processor."""
        from spatialladder.eval.base import open_image

        if self.protocol == "direct":
            return open_image(item)
        from qwen_vl_utils import fetch_image

        bounds = {} if self.lmms is None else self.lmms.image_element()
        return fetch_image({"image": _official_open(item), **bounds}, self.patch_size)

    def processor_kwargs(self, video_metadata: list[dict[str, Any]] | None) -> dict[str, Any]:
        """Processor arguments besides text, images and videos (``video_metadata``: one per video, None without
        videos): frames are never resampled; ``official`` / ``direct`` cap pixels per frame as qwen-vl-utils does;
        the lmms-eval protocols resize nothing more (``do_resize=False``, images too)."""
        kwargs: dict[str, Any] = {}
        if video_metadata is not None:
            kwargs.update(do_sample_frames=False, video_metadata=video_metadata)
            if self.lmms is None:
                kwargs["cap_pixels_per_frame"] = True
        if self.lmms is not None:
            kwargs["do_resize"] = False
        return kwargs

    def answer(self, text: str) -> str:
        """The answer the protocol scores: lmms-eval cuts a thinking model's output after its first ``</think>``
        (``_strip_thinking``, 267-272; nothing left when the block never closes)."""
        lmms = self.lmms
        if lmms is None or not lmms.enable_thinking:
            return text
        return text.partition("</think>")[2].strip()

    def record(
        self, *, frames: int, min_pixels: int | None, max_pixels: int | None, video_fps: float, max_new_tokens: int
    ) -> dict:
        """What ``results.json`` records so two runs can be compared before their scores are."""
        lmms = self.lmms
        if lmms is not None:
            return {
                "name": self.protocol,
                "source": f"{LMMS_EVAL_SOURCE} lmms_eval/models/simple/{lmms.wrapper}.py",
                "frames": frames,
                "video_element": lmms.video_element(frames),
                "frame_indices": "qwen-vl-utils smart_nframes, torch.linspace(0, total - 1, n).round()",
                "image_element": lmms.image_element(),
                "image_patch_size": lmms.patch_size,
                "pre_resize": False,
                "processor": "do_resize=False, do_sample_frames=False",
                "video_time": "<t seconds> stamps from the file's fps and the indices sampled",
                "system_prompt": lmms.system_prompt,
                "enable_thinking": lmms.enable_thinking,
                "max_new_tokens": max_new_tokens,
                "qwen_vl_utils": _qwen_vl_utils_version(),
            }
        official = self.protocol == "official"
        out = {
            "name": self.protocol,
            "frames": frames,
            "frame_indices": "np.linspace(0, total - 1, frames, dtype=int)",
            "min_pixels": min_pixels,
            "max_pixels": max_pixels,
            "pre_resize": official,
            "video_pre_resize": (
                f"LANCZOS to int(sqrt(P*ar)) x int(sqrt(P/ar)), P = {self.target_pixels}" if official else None
            ),
            "qwen_vl_utils": _qwen_vl_utils_version() if official else None,
            "image_pre_resize": "qwen-vl-utils fetch_image (default bounds)" if official else None,
            "video_fps": video_fps,
            "second_per_grid_ts": 2.0 / video_fps,
        }
        if official:
            out["frame_list_resize"] = f"qwen-vl-utils as fixed in {QWEN_VL_UTILS_FIX}, patch {self.patch_size}"
        if self.timestamps:
            del out["video_fps"], out["second_per_grid_ts"]
            out["video_time"] = "<t seconds> stamps from the file's fps and the indices sampled"
        return out


def _official_open(item: Any) -> Any:
    """Files as the official harness opens them (``.convert('RGB')``), parquet bytes as they are (``fetch_image``
    then converts; RGBA goes onto a white background there, where ``convert`` would drop the alpha)."""
    from PIL import Image

    if isinstance(item, (bytes, bytearray)):
        image = Image.open(io.BytesIO(item))
        image.load()
        return image
    path = Path(item)
    if not path.is_file():
        raise DataFormatError(f"image file {path} does not exist")
    with Image.open(path) as image:
        return image.convert("RGB")


def _qwen_vl_utils_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("qwen-vl-utils")
    except PackageNotFoundError:
        return None


def grids_of(inputs: Any, images_per_sample: list[int], videos_per_sample: list[int]) -> list[dict[str, list]]:
    """Each sample's ``image_grid_thw`` / ``video_grid_thw`` rows ([t, h, w] in patches) from a batched encoding.

    The processor stacks the grids of all images (and of all videos) of a batch in message order.
    """
    out: list[dict[str, list]] = [{"image_grid_thw": [], "video_grid_thw": []} for _ in images_per_sample]
    for key, counts in (("image_grid_thw", images_per_sample), ("video_grid_thw", videos_per_sample)):
        rows = inputs[key].tolist() if key in inputs else []
        if len(rows) != sum(counts):
            raise DataFormatError(f"processor returned {len(rows)} {key} rows for {sum(counts)} inputs")
        start = 0
        for grids, n in zip(out, counts, strict=True):
            grids[key] = [[int(v) for v in row] for row in rows[start : start + n]]
            start += n
    return out


def predicted_grid(
    height: int,
    width: int,
    frames: int | None,
    *,
    min_pixels: int,
    max_pixels: int,
    patch_size: int = 14,
    resize: bool = True,
) -> list[int]:
    """The ``[t, h, w]`` grid (in patches) the processor gives an image (``frames=None``) or a video of that size,
    temporal patch 2; used where we cannot read the processor's own output (the vLLM backend). ``resize=False``: the
    input is kept as it is (the lmms-eval protocols' ``do_resize=False``). Otherwise ``smart_resize`` in the family's
    factor per image and per frame (``model.max_pixels`` is per frame for every family: ``models/load.py``)."""
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

    t = 1 if frames is None else math.ceil(frames / 2)
    factor = patch_size * 2
    if not resize:
        h, w = height, width
    else:
        h, w = smart_resize(height, width, factor=factor, min_pixels=min_pixels, max_pixels=max_pixels)
    return [t, h // patch_size, w // patch_size]
