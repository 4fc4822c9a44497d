"""Shared synthetic scenes (written once per module: each takes well under a second)."""

from __future__ import annotations

from pathlib import Path

import pytest

from spatialladder.config.scannet import ScanNetSettings

LABEL_MAP = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "scannetv2-labels.combined.tsv"


@pytest.fixture(scope="session")
def settings() -> ScanNetSettings:
    if not LABEL_MAP.is_file():
        pytest.skip(f"real label map not found at {LABEL_MAP}")
    return ScanNetSettings(label_map=LABEL_MAP, num_frames=40)
