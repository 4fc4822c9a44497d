"""How video frames and images reach the processor: the official SpatialLadder harness's path, or straight in.

``official`` (the default) reproduces ``eval_spld`` of ``ZJU-REAL/SpatialLadder``:

- video (``utils.py load_video_frames``, ``data_utils/vsibench.py``): each sampled frame is LANCZOS-resized to about
  ``max_pixels`` area keeping its aspect (``w = int(sqrt(P·ar))``, ``h = int(sqrt(P/ar))``, ``ar = w/h``), the list
  of PIL frames goes through qwen-vl-utils ``fetch_video`` (``fetch_image`` per frame: sides rounded to multiples of
  28; padded to an even count; a video-level ``smart_resize``), and that float tensor goes to the processor, which
  resizes once more to its own bounds. A 640×480 frame at 401,408 px: 731×548 → 728×560 → 700×532, grid 38×50.
- images (``data_utils/{spbench,cvbench,sparbench,viewspatial_bench}.py``): PIL images (files opened with
  ``.convert('RGB')``, parquet bytes opened as they are) go through qwen-vl-utils ``fetch_image`` at its default
  bounds (sides rounded to multiples of 28), then the processor.

``direct`` hands the decoded frames and images to the processor unchanged (one resize, by the processor).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spatialladder.errors import DataFormatError
from spatialladder.vocab import InputProtocol


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
    """The input protocol of a run: what is done to frames and images before the processor."""

    protocol: InputProtocol = "direct"
    target_pixels: int | None = None
    """Area of the official video pre-resize (the harness passes its ``max_pixels``); unused by ``direct``."""

    def __post_init__(self) -> None:
        if self.protocol == "official" and not self.target_pixels:
            raise ValueError("the official input protocol needs target_pixels (the model's max_pixels)")

    def prepare_video(self, frames: np.ndarray) -> Any:
        """Sampled ``(N, H, W, 3)`` uint8 frames → the form to cache: unchanged (direct), or the official
        pre-resize + qwen-vl-utils ``fetch_video`` result, compacted (official)."""
        if self.protocol == "direct":
            return frames
        from qwen_vl_utils import fetch_video

        video = fetch_video({"video": [official_pre_resize(f, self.target_pixels) for f in frames]})
        return compact_video(video)

    def video_for_processor(self, prepared: Any) -> Any:
        """The cached form → what the processor is given (uint8 frames for direct, float tensor for official)."""
        return prepared if self.protocol == "direct" else processor_video(prepared)

    def video_for_vllm(self, prepared: Any) -> np.ndarray:
        """The cached form → the ``(T, H, W, 3)`` uint8 frames vLLM takes: the cached array itself (direct, and
        official when compacted losslessly), else the official float tensor rounded once per video."""
        return as_uint8_frames(prepared)

    def image(self, item: Any) -> Any:
        """A PIL image from a path or encoded bytes, as the protocol's harness passes it to the processor."""
        from spatialladder.eval.base import open_image

        if self.protocol == "direct":
            return open_image(item)
        from qwen_vl_utils import fetch_image

        return fetch_image({"image": _official_open(item)})

    def record(self, *, frames: int, min_pixels: int | None, max_pixels: int | None, video_fps: float) -> dict:
        """What ``results.json`` records so two runs can be compared before their scores are."""
        official = self.protocol == "official"
        return {
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


def predicted_grid(height: int, width: int, frames: int | None, *, min_pixels: int, max_pixels: int) -> list[int]:
    """The ``[t, h, w]`` grid Qwen2.5-VL's processor gives an image (``frames=None``) or a video of that size
    (patch 14, merge 2, temporal patch 2), by its ``smart_resize``; used where we cannot read the processor's own
    output (the vLLM backend)."""
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

    h, w = smart_resize(height, width, factor=28, min_pixels=min_pixels, max_pixels=max_pixels)
    return [1 if frames is None else math.ceil(frames / 2), h // 14, w // 14]
