"""Vision-media facts shared by training and evaluation (base layer: no torch, no trainer, no benchmark).

Video time, the one rule. A model family tells time in one of two ways (``ModelFamily.video_time``):

- ``mrope`` (Qwen2.5-VL): time enters the rope's T axis as ``second_per_grid_ts`` = temporal patch / fps. Frames
  are declared at the configured rate with indices 0..n-1 (``data.video_fps``; the official 2 fps → 1.0).
- ``timestamps`` (Qwen3-VL, Qwen3.5): the processor writes ``<t seconds>`` before each temporal patch, t the mean
  of the patch's first and last frame times ``frames_indices[i] / fps`` (transformers ``processing_qwen3_vl.py``
  ``replace_video_token`` L75-103, ``_calculate_timestamps`` L173-184). Without metadata it assumes 24 fps (L84-90)
  and, with the video processor's ``do_sample_frames`` left at its class default True
  (``video_processing_qwen3_vl.py`` L126), resamples a frame list to ``int(n / 24 · 2)`` frames, at least
  ``min_frames`` 4 (``sample_frames`` L170-178, called from ``video_processing_utils.py`` L119, L649-658): 32 frames
  become 4. So these families get the frames' capture times (:class:`CaptureTimes`) and ``do_sample_frames=False``.

A record that carries no capture times (the released SpatialLadder-26k files) is declared as qwen-vl-utils 0.0.14
declares a frame list (``vision_process.py`` ``fetch_video`` L434-446: fps = ``sample_fps``, indices 0..n-1), at
``data.video_fps``: the same declaration as Qwen2.5-VL's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from spatialladder.errors import DataFormatError
from spatialladder.vocab import VIDEO_TIMES

FRAME_INDICES_KEY = "frame_indices"
CAPTURE_FPS_KEY = "capture_fps"
"""Keys of a ``{"type": "video", "video": frames}`` chat part carrying its :class:`CaptureTimes`; the chat template
and ``ProcessorMixin.apply_chat_template`` read only ``type`` and ``video`` of a video part, so they travel with the
frames unseen (not ``fps``, which qwen-vl-utils would read as a sampling rate)."""


@dataclass(frozen=True)
class CaptureTimes:
    """Where a video's shown frames sit in their source video: frame ``i`` was captured ``frame_indices[i] / fps``
    seconds after the video started."""

    frame_indices: tuple[int, ...]
    fps: float

    def part_keys(self) -> dict[str, Any]:
        """What a video chat part holds for these times (:data:`FRAME_INDICES_KEY`, :data:`CAPTURE_FPS_KEY`)."""
        return {FRAME_INDICES_KEY: list(self.frame_indices), CAPTURE_FPS_KEY: self.fps}

    @classmethod
    def of_part(cls, part: dict[str, Any]) -> CaptureTimes | None:
        """The times a video chat part carries, or None."""
        indices, fps = part.get(FRAME_INDICES_KEY), part.get(CAPTURE_FPS_KEY)
        if indices is None or fps is None:
            return None
        return cls(tuple(int(i) for i in indices), float(fps))


def video_metadata(frame_counts: Sequence[int], fps: float) -> list[dict[str, Any]]:
    """Processor ``video_metadata`` declaring each frame list (of the given lengths) as sampled at ``fps``.

    Without it transformers 5 assumes 24 fps for a frame list: Qwen2.5-VL's ``second_per_grid_ts`` becomes
    2/24 = 0.083 instead of 2/fps (1.0 at the official 2 fps), squeezing the video's temporal positions 12-fold.
    """
    return [{"fps": fps, "total_num_frames": n, "frames_indices": list(range(n))} for n in frame_counts]


def frame_list_metadata(
    video_time: str, num_frames: int, declared_fps: float, times: CaptureTimes | None
) -> dict[str, Any]:
    """The ``video_metadata`` entry of one ``num_frames``-frame list for a family telling time by ``video_time``.

    ``timestamps`` with capture times: the frames' own indices and the source's rate, so each stamp is the capture
    time; ``total_num_frames`` is the last index + 1 (the source spans at least that far; only sampling reads it,
    and sampling is off). Otherwise (``mrope``, or no capture times): :func:`video_metadata` at ``declared_fps``.
    A fresh dict and list every call: the Qwen3-VL processor pads an odd ``frames_indices`` list in place.
    """
    if video_time not in VIDEO_TIMES:
        raise ValueError(f"video_time {video_time!r}: expected one of {', '.join(VIDEO_TIMES)}")
    if video_time == "mrope" or times is None:
        return video_metadata([num_frames], declared_fps)[0]
    if len(times.frame_indices) != num_frames:
        raise DataFormatError(
            f"a video of {num_frames} frames carries {len(times.frame_indices)} frame indices; expected one per frame"
        )
    return {
        "fps": times.fps,
        "total_num_frames": max(times.frame_indices) + 1,
        "frames_indices": list(times.frame_indices),
    }


def video_parts(conversation: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The video parts of one chat, in the order the processor collects the videos."""
    return [
        part
        for message in conversation
        if isinstance(message.get("content"), list)
        for part in message["content"]
        if part.get("type") == "video"
    ]


def video_processor_kwargs(video_time: str, parts: Sequence[dict[str, Any]], declared_fps: float) -> dict[str, Any]:
    """Processor kwargs for the video parts of a batch (every chat's, in order): one ``video_metadata`` entry per
    video (:func:`frame_list_metadata`), and for ``timestamps`` families ``do_sample_frames=False`` (the frames are
    chosen already; see the module doc). ``{}`` without videos. ``mrope`` adds nothing else: Qwen2.5-VL's inputs
    stay as they were."""
    if not parts:
        return {}
    meta = [frame_list_metadata(video_time, len(p["video"]), declared_fps, CaptureTimes.of_part(p)) for p in parts]
    out: dict[str, Any] = {"video_metadata": meta}
    if video_time == "timestamps":
        out["do_sample_frames"] = False
    return out


def frame_stamps(metadata: dict[str, Any], temporal_patch_size: int = 2) -> list[float]:
    """Seconds of each temporal patch as Qwen3-VL's processor computes them (``processing_qwen3_vl.py``
    ``_calculate_timestamps`` L173-184; vLLM's copy in ``models/qwen3_vl.py``, 0.31 L1046-1059): an odd list gets
    its last index repeated, then each patch's first and last frame times are averaged."""
    indices = list(metadata["frames_indices"])
    if len(indices) % temporal_patch_size:
        indices += [indices[-1]] * (temporal_patch_size - len(indices) % temporal_patch_size)
    seconds = [i / metadata["fps"] for i in indices]
    return [
        (seconds[i] + seconds[i + temporal_patch_size - 1]) / 2 for i in range(0, len(seconds), temporal_patch_size)
    ]


def stamp_text(seconds: float) -> str:
    """One stamp as the processor writes it (``processing_qwen3_vl.py`` L101: ``f"<{t:.1f} seconds>"``)."""
    return f"<{seconds:.1f} seconds>"


def timestamped_video_ids(
    stamps: Sequence[float],
    tokens_per_patch: int,
    encode: Callable[[str], list[int]],
    vision_start: int,
    video_pad: int,
    vision_end: int,
) -> list[int]:
    """A timestamped video's tokens, one group per temporal patch: the stamp, ``<|vision_start|>``, the patch's
    pads, ``<|vision_end|>`` (``processing_qwen3_vl.py`` L99-102; vLLM ``Qwen3VLMultiModalProcessor.get_video_repl``,
    0.31 L1624-1680, which tokenises each stamp on its own: the tokens around a stamp are special, so the chat
    text's tokenisation splits there too)."""
    out: list[int] = []
    for seconds in stamps:
        out += [*encode(stamp_text(seconds)), vision_start, *[video_pad] * tokens_per_patch, vision_end]
    return out


def expand_placeholders(
    ids: Sequence[int], updates: Sequence[tuple[Sequence[int], Sequence[Sequence[int]]]]
) -> list[int]:
    """``ids`` with the i-th match of each ``(target, replacements)`` update replaced by ``replacements[i]``, matches
    found left to right without overlap (vLLM's ``PromptReplacement`` on token ids, one item per match); a count
    of matches other than the number of replacements is an error."""
    used = [0] * len(updates)
    out: list[int] = []
    i = 0
    while i < len(ids):
        for k, (target, replacements) in enumerate(updates):
            if list(ids[i : i + len(target)]) == list(target):
                if used[k] == len(replacements):
                    raise RuntimeError(
                        f"more placeholders {list(target)} in the prompt than the {len(replacements)} items"
                    )
                out += replacements[used[k]]
                used[k] += 1
                i += len(target)
                break
        else:
            out.append(ids[i])
            i += 1
    items = [len(replacements) for _, replacements in updates]
    if used != items:
        raise RuntimeError(f"placeholders {used} do not match the items {items}")
    return out


def vllm_video(
    frames: Sequence[Any], fps: float | None = None, *, metadata: dict[str, Any] | None = None
) -> tuple[Any, dict[str, Any]]:
    """One video as vLLM's Qwen VL processors take it (``video_needs_metadata=True``): the frames as one
    ``(T, H, W, 3)`` uint8 array, and metadata (the fields of transformers' ``VideoMetadata``, which vLLM builds from
    it; ``do_sample_frames`` False: every frame is kept): ``metadata`` as :func:`frame_list_metadata` gives it, or
    the frames declared at ``fps`` with indices 0..n-1."""
    import numpy as np

    if isinstance(frames, np.ndarray) and frames.dtype == np.uint8 and frames.ndim == 4:
        video = frames  # already one array (eval's cached frames): no copy per question
    else:
        arrays = [
            np.asarray(frame.convert("RGB") if hasattr(frame, "convert") else frame, dtype=np.uint8) for frame in frames
        ]
        shapes = sorted({a.shape for a in arrays})
        if len(shapes) != 1:
            raise DataFormatError(f"a video row's {len(arrays)} frames differ in size {shapes}; vLLM takes one array")
        video = np.stack(arrays)
    if metadata is None:
        if fps is None:
            raise ValueError("vllm_video needs the frames' fps or their metadata")
        metadata = video_metadata([len(video)], fps)[0]
    if len(metadata["frames_indices"]) != len(video):
        raise DataFormatError(f"{len(metadata['frames_indices'])} frame indices for a video of {len(video)} frames")
    meta = {**metadata, "frames_indices": list(metadata["frames_indices"])}
    return video, {**meta, "duration": meta["total_num_frames"] / meta["fps"], "do_sample_frames": False}
