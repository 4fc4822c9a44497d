"""Streaming reader for ScanNet ``.sens`` RGB-D files (format: ScanNet SensReader, version 4).

Real .sens files are 0.5–3 GB, so nothing here holds the file in memory: opening scans only the 96-byte frame
headers (seeking over the image bytes), and frames are decoded only when asked for. The writer the tests use
lives in ``spatialladder.testing.writers``.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from spatialladder.errors import SceneFormatError
from spatialladder.scannet.io import decode_color

COLOR_COMPRESSION = {-1: "unknown", 0: "raw", 1: "png", 2: "jpeg"}
DEPTH_COMPRESSION = {-1: "unknown", 0: "raw_ushort", 1: "zlib_ushort", 2: "occi_ushort"}
_FRAME_HEADER = struct.Struct("<16f4Q")  # camera_to_world, timestamp_color, timestamp_depth, color bytes, depth bytes


@dataclass(frozen=True)
class SensHeader:
    version: int
    sensor_name: str
    intrinsic_color: np.ndarray  # (4, 4)
    extrinsic_color: np.ndarray
    intrinsic_depth: np.ndarray
    extrinsic_depth: np.ndarray
    color_compression: str
    depth_compression: str
    color_size: tuple[int, int]  # (width, height)
    depth_size: tuple[int, int]
    depth_shift: float  # raw depth units per metre (1000 → millimetres)
    num_frames: int


class SensFile:
    """Index of one .sens file: header, per-frame poses and byte offsets. Decodes frames on demand."""

    def __init__(self, scene: str, path: Path | str):
        self.scene, self.path = scene, Path(path)
        if not self.path.is_file():
            raise SceneFormatError(scene, self.path.name, f"missing file (looked for {self.path})")
        size = self.path.stat().st_size
        with self.path.open("rb") as handle:
            self.header = self._read_header(handle)
            n = self.header.num_frames
            self.poses = np.empty((n, 4, 4), dtype=np.float64)
            self._color_at = np.empty(n, dtype=np.int64)
            self._color_len = np.empty(n, dtype=np.int64)
            self._depth_len = np.empty(n, dtype=np.int64)
            offset = handle.tell()
            for i in range(n):
                handle.seek(offset)
                raw = handle.read(_FRAME_HEADER.size)
                if len(raw) != _FRAME_HEADER.size:
                    self._truncated(f"frame {i} of {n}: header cut short at byte {offset}")
                values = _FRAME_HEADER.unpack(raw)
                self.poses[i] = np.array(values[:16], dtype=np.float64).reshape(4, 4)
                color_len, depth_len = values[18], values[19]
                offset += _FRAME_HEADER.size
                self._color_at[i], self._color_len[i], self._depth_len[i] = offset, color_len, depth_len
                offset += color_len + depth_len
                if offset > size:
                    self._truncated(f"frame {i} of {n}: image bytes end at {offset} but the file has {size}")

    def _truncated(self, problem: str) -> None:
        raise SceneFormatError(self.scene, self.path.name, f"truncated .sens: {problem}")

    def _read_exact(self, handle: BinaryIO, n: int, what: str) -> bytes:
        data = handle.read(n)
        if len(data) != n:
            self._truncated(f"header field {what} needs {n} bytes, got {len(data)}")
        return data

    def _read_header(self, handle: BinaryIO) -> SensHeader:
        (version,) = struct.unpack("<I", self._read_exact(handle, 4, "version"))
        if version != 4:
            raise SceneFormatError(self.scene, self.path.name, f"unsupported .sens version {version} (expected 4)")
        (name_len,) = struct.unpack("<Q", self._read_exact(handle, 8, "sensor name length"))
        if name_len > 4096:
            raise SceneFormatError(self.scene, self.path.name, f"implausible sensor name length {name_len}")
        name = self._read_exact(handle, name_len, "sensor name").decode("utf-8", errors="replace")
        mats = np.frombuffer(self._read_exact(handle, 4 * 64, "calibration"), dtype="<f4").reshape(4, 4, 4)
        color_c, depth_c = struct.unpack("<ii", self._read_exact(handle, 8, "compression"))
        cw, ch, dw, dh = struct.unpack("<4I", self._read_exact(handle, 16, "image sizes"))
        (shift,) = struct.unpack("<f", self._read_exact(handle, 4, "depth shift"))
        (num_frames,) = struct.unpack("<Q", self._read_exact(handle, 8, "frame count"))
        if color_c not in COLOR_COMPRESSION or depth_c not in DEPTH_COMPRESSION:
            raise SceneFormatError(
                self.scene, self.path.name, f"unknown compression codes colour={color_c} depth={depth_c}"
            )
        if depth_c not in (0, 1):
            raise SceneFormatError(
                self.scene, self.path.name, f"depth compression {DEPTH_COMPRESSION[depth_c]} is not supported"
            )
        return SensHeader(
            version=version,
            sensor_name=name,
            intrinsic_color=mats[0].astype(np.float64),
            extrinsic_color=mats[1].astype(np.float64),
            intrinsic_depth=mats[2].astype(np.float64),
            extrinsic_depth=mats[3].astype(np.float64),
            color_compression=COLOR_COMPRESSION[color_c],
            depth_compression=DEPTH_COMPRESSION[depth_c],
            color_size=(cw, ch),
            depth_size=(dw, dh),
            depth_shift=float(shift),
            num_frames=int(num_frames),
        )

    def _decode_depth(self, i: int, data: bytes) -> np.ndarray:
        w, h = self.header.depth_size
        if self.header.depth_compression == "zlib_ushort":
            try:
                data = zlib.decompress(data)
            except zlib.error as exc:
                raise SceneFormatError(self.scene, self.path.name, f"frame {i}: corrupt zlib depth ({exc})") from exc
        if len(data) != 2 * w * h:
            raise SceneFormatError(
                self.scene, self.path.name, f"frame {i}: depth has {len(data)} bytes, expected {2 * w * h}"
            )
        return np.frombuffer(data, dtype="<u2").reshape(h, w)

    def _decode_color(self, i: int, data: bytes) -> np.ndarray:
        if self.header.color_compression == "raw":
            w, h = self.header.color_size
            if len(data) != 3 * w * h:
                raise SceneFormatError(self.scene, self.path.name, f"frame {i}: raw colour has {len(data)} bytes")
            return np.frombuffer(data, dtype=np.uint8).reshape(h, w, 3)
        return decode_color(self.scene, f"{self.path.name} frame {i}", data)

    def read_frames(
        self, indices: Iterable[int], color: bool = True, depth: bool = True
    ) -> Iterator[tuple[int, np.ndarray | None, np.ndarray | None]]:
        """Yield (index, rgb uint8 (H,W,3) or None, depth uint16 raw units (H,W) or None) in the order given.

        Only the requested frames' bytes are read; the file is opened once for the whole iteration.
        """
        with self.path.open("rb") as handle:
            for i in indices:
                i = int(i)
                if not 0 <= i < self.header.num_frames:
                    raise IndexError(f"{self.path.name}: frame {i} out of range 0..{self.header.num_frames - 1}")
                rgb = dep = None
                if color:
                    handle.seek(self._color_at[i])
                    rgb = self._decode_color(i, handle.read(self._color_len[i]))
                if depth:
                    handle.seek(self._color_at[i] + self._color_len[i])
                    dep = self._decode_depth(i, handle.read(self._depth_len[i]))
                yield i, rgb, dep
