"""Loaders of the local Hub layouts, registry and missing-file errors."""

from pathlib import Path

import numpy as np
import pytest

from spatialladder.errors import DataFormatError, UnknownNameError
from spatialladder.eval import BENCHMARKS, get_benchmark
from spatialladder.eval.video import frame_indices, read_frames
from spatialladder.testing.synthetic_benchmarks import BenchItem, solid_frames, write_cvbench
from spatialladder.testing.writers import write_video


def test_registry_and_alias():
    assert get_benchmark("vsi") is BENCHMARKS["vsibench"]
    assert get_benchmark("vsi-debiased") is BENCHMARKS["vsibench-debiased"]
    names = "cvbench, mindcube, mmsi, sparbench, spbench-mv, spbench-si, viewspatial, vsi, vsi-debiased, vsibench, "
    names += "vsibench-debiased"
    with pytest.raises(UnknownNameError, match=names):
        get_benchmark("vsi-bench")


def test_vsibench_loader(vsi_dir: Path):
    samples = get_benchmark("vsibench").load(vsi_dir)
    assert [s.id for s in samples] == ["0", "1", "2", "3", "4", "5"]
    assert samples[0].kind == "na" and samples[0].options is None
    assert samples[2].options == ("A. bed", "B. tv", "C. sofa", "D. lamp")
    assert samples[3].video == vsi_dir / "scannet" / "scene0001_00.mp4"


def test_missing_files_list_the_layout(tmp_path: Path, vsi_dir: Path):
    with pytest.raises(DataFormatError, match=r"(?s)test-00000-of-00001\.parquet.*<dataset>/<scene_name>\.mp4"):
        get_benchmark("vsibench").load(tmp_path)
    with pytest.raises(DataFormatError, match="SPBench-MV.parquet"):
        get_benchmark("spbench-mv").load(tmp_path)
    broken = tmp_path / "vsi"
    broken.mkdir()
    (broken / "test-00000-of-00001.parquet").write_bytes((vsi_dir / "test-00000-of-00001.parquet").read_bytes())
    with pytest.raises(DataFormatError, match=r"row 0: video .*scene0000_00\.mp4 not found"):
        get_benchmark("vsibench").load(broken)


def test_spbench_loader(spbench_dir: Path):
    samples = get_benchmark("spbench-si").load(spbench_dir)
    assert samples[0].images == (spbench_dir / "images" / "scene0100_00" / "0_0.png",)
    assert samples[1].kind == "mca"


def test_cvbench_loader_and_scoring(tmp_path: Path):
    items = [
        BenchItem("Count", "How many? (A) 1 (B) 2", "(B)", "x", solid_frames(1), source="COCO"),
        BenchItem("Depth", "Which is closer? (A) a (B) b", "(A)", "x", solid_frames(1), source="Omni3D"),
    ]
    spec = get_benchmark("cvbench")
    samples = spec.load(write_cvbench(items, tmp_path))
    assert [s.group for s in samples] == ["COCO", "Omni3D"]
    assert isinstance(samples[0].images[0], bytes)
    assert spec.score("(b) two", samples[0], "spatialladder") == (1.0, True)
    assert spec.score("B", samples[1], "spatialladder") == (0.0, True)
    assert spec.aggregate(samples, [1.0, 0.0], "present")["overall"] == 50.0


def test_frame_indices_and_decoding(tmp_path: Path):
    assert frame_indices(100, 4) == [0, 33, 66, 99]
    assert frame_indices(3, 5) == [0, 0, 1, 1, 2]
    frames = [np.full((32, 32, 3), 40 * i, dtype=np.uint8) for i in range(6)]
    decoded = read_frames(write_video(tmp_path / "v.mp4", frames), 3)  # indices 0, 2, 5
    means = [float(np.asarray(f).mean()) for f in decoded]
    assert means == pytest.approx([0, 80, 200], abs=8)
    with pytest.raises(DataFormatError, match="does not exist"):
        read_frames(tmp_path / "none.mp4", 3)
