"""Video frames for evaluation: N frames at ``np.linspace(0, total - 1, N)`` (or a protocol's own rule) decoded
with PyAV, and where they sit in the file (its frame rate, its frame count, the indices sampled).

PyAV wheels bundle FFmpeg, so decoding needs no system libraries. Frame indices follow the official harnesses
(lmms-eval ``load_video`` and SpatialLadder ``load_video_frames`` both use ``np.linspace(..., dtype=int)``; the
one sampler for that rule is ``spatialladder.sampling``); the lmms-eval Qwen3 protocols pass their own sampler
(``eval.inputs``). Frames come back as one ``(N, H, W, 3)`` uint8 array: the Qwen2.5-VL processor turns it into
exactly the same tensors as a list of PIL frames, in about half the time. The families that stamp times as text
(Qwen3-VL, Qwen3.5) are told the file's own times: :meth:`VideoTime.metadata`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spatialladder.errors import DataFormatError
from spatialladder.sampling import uniform_indices

FRAME_CACHE_BYTES = 512 * 2**20
"""Default budget of ``FrameCache``: ~17 VSI-Bench videos of 32 frames at 640×480, ~13 after the official
pre-resize (32 × 728×560 uint8)."""


def frame_indices(total: int, n: int) -> list[int]:
    """``np.linspace(0, total - 1, n, dtype=int)`` (``spatialladder.sampling``): repeats indices when the video is
    shorter than ``n``, as the official loaders do."""
    if total < 1:
        raise DataFormatError("video has no frames")
    return uniform_indices(total, n).tolist()


Sampler = Callable[[int, float | None], list[int]]
"""``(decoded frame count, the file's frame rate or None) -> indices of the frames to keep``; hashable by value (a
frozen dataclass), since the frame cache keys by it."""


@dataclass(frozen=True)
class Uniform:
    """``n`` frames at ``np.linspace(0, total - 1, n, dtype=int)`` (:func:`frame_indices`)."""

    n: int

    def __call__(self, total: int, fps: float | None = None) -> list[int]:
        return frame_indices(total, self.n)


@dataclass(frozen=True)
class VideoTime:
    """Where sampled frames sit in their file: the decoded frame count, its average frame rate (None when the
    container states none) and the indices sampled, in order."""

    path: str
    total: int
    fps: float | None
    indices: tuple[int, ...]

    def metadata(self) -> dict[str, Any]:
        """The processor's ``video_metadata`` for these frames: Qwen3-VL's ``<t seconds>`` stamps are
        mean(index pair) / fps (``processing_qwen3_vl.py`` ``_calculate_timestamps``), as for qwen-vl-utils' own
        reader (``fps``, ``frames_indices``, ``total_num_frames``: ``vision_process.py`` 371-376)."""
        if not self.fps:
            raise DataFormatError(
                f"video {self.path}: the container states no frame rate; its frames' times are unknown"
            )
        return {"fps": self.fps, "frames_indices": list(self.indices), "total_num_frames": self.total}


def count_frames(path: str | Path) -> int:
    """Exact decoded frame count (container metadata is unreliable for some encoders, so we decode)."""
    import av

    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def _count_packets(path: Path) -> tuple[int, float | None]:
    """Video packets in the container, read without decoding (equals the decoded count for well-formed files), and
    the stream's average frame rate (what decord's ``get_avg_fps`` reports), None if it states none."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        return sum(1 for packet in container.demux(video=0) if packet.size), float(rate) if rate else None


def _decode_at(path: Path, wanted: list[int]) -> tuple[dict[int, np.ndarray], int]:
    """RGB arrays of the frames at ``wanted`` and the number of frames decoded (the whole stream, in one pass).

    One ``VideoReformatter`` is reused for every frame: ``frame.to_image()`` builds a new swscale context per
    frame, which costs ~50× the conversion itself on small frames; the pixels are identical.
    """
    import av
    from av.video.reformatter import VideoReformatter

    needed = set(wanted)
    picked: dict[int, np.ndarray] = {}
    reformatter = VideoReformatter()
    decoded = 0
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in needed:
                picked[index] = reformatter.reformat(frame, format="rgb24").to_ndarray()
            decoded = index + 1
    return picked, decoded


def read_frames(path: str | Path, n: int) -> np.ndarray:
    """``n`` RGB frames sampled uniformly over the whole video, as ``(n, H, W, 3)`` uint8; decodes the file once."""
    return read_video(path, Uniform(n))[0]


def read_video(path: str | Path, sampler: Sampler) -> tuple[np.ndarray, VideoTime]:
    """The frames ``sampler`` picks, as ``(n, H, W, 3)`` uint8, and where they sit in the file; decodes it once.

    The total comes from counting packets (no decoding); if the decoder then yields a different number of frames,
    the indices are recomputed from the decoded count and the file decoded again, so the frames always match
    ``sampler(count_frames(path), fps)``.
    """
    import av

    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f"video {path} does not exist")
    try:
        total, fps = _count_packets(path)
        wanted = sampler(total, fps) if total else []
        picked, decoded = _decode_at(path, wanted)
        if decoded != total or not wanted:
            total = decoded
            wanted = sampler(total, fps)
            picked, _ = _decode_at(path, wanted)
    except av.error.FFmpegError as exc:
        raise DataFormatError(f"video {path}: cannot decode ({exc})") from None
    except DataFormatError as exc:
        raise DataFormatError(f"video {path}: {exc}") from None
    return np.stack([picked[i] for i in wanted]), VideoTime(str(path), total, fps, tuple(int(i) for i in wanted))


def _by_value(fn: Callable | None) -> Any:
    """A key for ``fn``: a bound method by its object's value and function, anything else as itself."""
    owner = getattr(fn, "__self__", None)
    return (owner, fn.__func__) if owner is not None else fn  # type: ignore[union-attr]


class FrameCache:
    """Sampled (and prepared) frames per ``(video, sampler, prepare)``, least recently used evicted past
    ``max_bytes``.

    VSI-Bench asks ~18 questions per video; with the cache each video is decoded once while its questions are
    near each other, and memory stays bounded. ``decodes`` and ``hits`` count what happened. The cached arrays
    are shared between questions and must not be modified.
    """

    def __init__(self, max_bytes: int = FRAME_CACHE_BYTES):
        self.max_bytes = max_bytes
        self.decodes = 0
        self.hits = 0
        self._frames: OrderedDict[tuple[str, Any, Any], tuple[Any, VideoTime]] = OrderedDict()
        self._bytes = 0
        self._converted: tuple[Any, Any, Any] | None = None

    def get(
        self,
        path: str | Path,
        n: int | Sampler,
        prepare: Callable[[np.ndarray], Any] | None = None,
        convert: Callable[[Any], Any] | None = None,
    ) -> Any:
        """The ``n`` sampled frames of ``path`` (or those ``n``, a sampler, picks), passed through ``prepare``
        (e.g. the official pre-resize) once: :meth:`clip` without the times."""
        return self.clip(path, n, prepare, convert)[0]

    def clip(
        self,
        path: str | Path,
        n: int | Sampler,
        prepare: Callable[[np.ndarray], Any] | None = None,
        convert: Callable[[Any], Any] | None = None,
    ) -> tuple[Any, VideoTime]:
        """The frames of ``path`` that ``n`` picks (an int: :class:`Uniform`), passed through ``prepare`` once, and
        where they sit in the file.

        The sampler and ``prepare`` are part of the key, so frames sampled or prepared one way are never returned
        for another; a bound method is keyed by its object's value (Python compares bound methods by object
        identity). ``convert`` (the form the processor is given, e.g. the official float tensor, 4× the cached
        bytes) is applied to the cached frames and kept for the latest video only: questions on a video, asked one
        after another, share it.
        """
        sampler = Uniform(n) if isinstance(n, int) else n
        key = (str(Path(path).resolve()), sampler, _by_value(prepare))
        if key in self._frames:
            self.hits += 1
            self._frames.move_to_end(key)
            frames, time = self._frames[key]
        else:
            frames, time = read_video(path, sampler)
            if prepare is not None:
                frames = prepare(frames)
            self.decodes += 1
            self._frames[key] = (frames, time)
            self._bytes += frames.nbytes
            while self._bytes > self.max_bytes and len(self._frames) > 1:
                _, (evicted, _) = self._frames.popitem(last=False)
                self._bytes -= evicted.nbytes
        if convert is None:
            return frames, time
        how = _by_value(convert)
        if self._converted is None or self._converted[0] is not frames or self._converted[1] != how:
            self._converted = (frames, how, convert(frames))  # holds ``frames``, so its identity stays unique
        return self._converted[2], time

    def __len__(self) -> int:
        return len(self._frames)
