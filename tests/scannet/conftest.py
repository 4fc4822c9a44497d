"""Shared synthetic scenes (written once per module: each takes well under a second)."""

from __future__ import annotations

from pathlib import Path

import pytest

from spatialladder.config.scannet import ScanNetSettings
from spatialladder.testing.synthetic_scannet import synthetic_label_map

REAL_LABEL_MAP = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "scannetv2-labels.combined.tsv"


@pytest.fixture(scope="session")
def settings() -> ScanNetSettings:
    """Synthetic scenes map labels with the shipped subset of the real tsv (tests/scannet/test_labels.py checks that
    subset against the full ScanNet file when ../shared is present)."""
    return ScanNetSettings(label_map=synthetic_label_map(), num_frames=40)
