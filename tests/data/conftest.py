"""Small synthetic ScanNet scans (helper writer, real formats) and a build config over them."""

from __future__ import annotations

from pathlib import Path

import pytest

from spatialladder.config.data import DataConfig
from spatialladder.testing.synthetic_scannet import synthetic_label_map, write_synthetic_scene

LABEL_MAP = synthetic_label_map()
SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SCENES = ("scene0000_00", "scene0001_00")


@pytest.fixture(scope="session")
def scans(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("scannet") / "scans"
    for i, scene in enumerate(SCENES):
        write_synthetic_scene(root, scene, seed=i, n_frames=24)
    return root


def make_config(scans: Path, out: Path, **overrides) -> DataConfig:
    data = {
        "scannet": {"label_map": str(LABEL_MAP), "num_frames": 24},
        "scannet_root": str(scans),
        "out_dir": str(out),
        "mixture": {"reference_scenes": 2, "localization": 6, "single_image": 8, "multi_view": 8, "video": 12},
        "modalities": {"video_frames": 16},
        "coldstart": {"fraction": 0.5},
        "image_max_side": 200,
    }
    for key, value in overrides.items():
        data[key] = {**data[key], **value} if isinstance(value, dict) and key in data else value
    return DataConfig.model_validate(data)


@pytest.fixture(scope="session")
def vsi_meta_scannet() -> Path:
    """The released VSI-Bench meta-info for ScanNet (../shared/data)."""
    path = SHARED_DATA / "vsibench_meta_scannet_val.json"
    if not path.is_file():
        pytest.skip(f"released meta-info not found at {path}")
    return path
