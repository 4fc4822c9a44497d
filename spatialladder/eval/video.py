"""Video frames for evaluation: N frames at ``np.linspace(0, total - 1, N)`` decoded with PyAV.

PyAV wheels bundle FFmpeg, so decoding needs no system libraries. Frame indices follow the official harnesses
(lmms-eval ``load_video`` and SpatialLadder ``load_video_frames`` both use ``np.linspace(..., dtype=int)``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spatialladder.errors import DataFormatError


def frame_indices(total: int, n: int) -> list[int]:
    """``np.linspace(0, total - 1, n, dtype=int)``: repeats indices when the video is shorter than ``n``."""
    if total < 1:
        raise DataFormatError("video has no frames")
    return np.linspace(0, total - 1, n, dtype=int).tolist()


def count_frames(path: Path) -> int:
    """Exact decoded frame count (container metadata is unreliable for some encoders, so we decode)."""
    import av

    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def read_frames(path: str | Path, n: int) -> list:
    """``n`` RGB PIL frames sampled uniformly over the whole video; an unreadable file names itself."""
    import av

    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f"video {path} does not exist")
    try:
        wanted = frame_indices(count_frames(path), n)
        picked: dict[int, object] = {}
        needed = set(wanted)
        with av.open(str(path)) as container:
            for index, frame in enumerate(container.decode(video=0)):
                if index in needed:
                    picked[index] = frame.to_image().convert("RGB")
                if index >= wanted[-1]:
                    break
    except av.error.FFmpegError as exc:
        raise DataFormatError(f"video {path}: cannot decode ({exc})") from None
    return [picked[i] for i in wanted]


def write_video(path: str | Path, frames: list, fps: int = 24) -> Path:
    """Encode RGB frames (PIL images or HxWx3 uint8 arrays, even sizes) as an MPEG-4 mp4 (used by test fixtures)."""
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = [np.asarray(f.convert("RGB") if hasattr(f, "convert") else f, dtype=np.uint8) for f in frames]
    height, width = arrays[0].shape[:2]
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for array in arrays:
            for packet in stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
