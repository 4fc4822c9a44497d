"""ScanNetSettings defaults are the VSI-Bench protocol constants; unknown keys are rejected."""

from __future__ import annotations

import pydantic
import pytest

from spatialladder.config.scannet import ScanNetSettings


def test_paper_defaults():
    s = ScanNetSettings()
    assert (s.depth_ratio, s.fps, s.room_area_samples, s.room_alpha, s.num_frames) == (0.2, 24.0, 10000, 5.0, 32)
    assert (s.box_type, s.room_center_box, s.room_fill_holes, s.appearance_every_k) == ("gravity", "minimal", True, 1)
    assert s.allow_val_scenes is False


def test_strict():
    with pytest.raises(pydantic.ValidationError, match="depth_ratios"):
        ScanNetSettings(depth_ratios=0.3)
    with pytest.raises(pydantic.ValidationError, match="box_type"):
        ScanNetSettings(box_type="pca")
