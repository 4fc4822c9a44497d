"""Writers of the file formats production code only reads (ScanNet ``.sens``, mp4 video), for tests, synthetic
scans and synthetic benchmarks; kept here so the readers' modules hold no code that only tests run."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np


def write_sens(
    path: Path | str,
    intrinsic_color: np.ndarray,
    intrinsic_depth: np.ndarray,
    color_size: tuple[int, int],
    depth_size: tuple[int, int],
    frames: Iterable[tuple[np.ndarray, bytes, np.ndarray]],
    num_frames: int,
    depth_shift: float = 1000.0,
    sensor_name: str = "StructureSensor",
) -> None:
    """Write a version-4 .sens: frames are (camera_to_world (4,4), JPEG bytes, depth uint16 (H,W)), streamed."""
    eye = np.eye(4, dtype="<f4")
    with Path(path).open("wb") as handle:
        name = sensor_name.encode()
        handle.write(struct.pack("<IQ", 4, len(name)) + name)
        for mat in (intrinsic_color, eye, intrinsic_depth, eye):
            handle.write(np.asarray(mat, dtype="<f4").tobytes())
        handle.write(struct.pack("<ii4IfQ", 2, 1, *color_size, *depth_size, depth_shift, num_frames))
        written = 0
        for k, (pose, jpeg, depth) in enumerate(frames):
            depth_bytes = zlib.compress(np.ascontiguousarray(depth, dtype="<u2").tobytes(), 1)
            handle.write(np.asarray(pose, dtype="<f4").tobytes())
            handle.write(struct.pack("<4Q", k, k, len(jpeg), len(depth_bytes)))
            handle.write(jpeg)
            handle.write(depth_bytes)
            written += 1
        if written != num_frames:
            raise ValueError(f"write_sens: header says {num_frames} frames but {written} were given")


def write_video(path: str | Path, frames: list, fps: int = 24) -> Path:
    """Encode RGB frames (PIL images or HxWx3 uint8 arrays, even sizes) as an MPEG-4 mp4."""
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
