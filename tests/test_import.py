"""Importing the package (and the pure modules) must stay cheap: no torch, no transformers."""

from __future__ import annotations

import subprocess
import sys

import pytest

PURE = [
    "spatialladder",
    "spatialladder.cli",
    "spatialladder.errors",
    "spatialladder.vocab",
    "spatialladder.distributed",
    "spatialladder.validate",
    "spatialladder.config.load",
    "spatialladder.config.data",
    "spatialladder.config.sft",
    "spatialladder.config.grpo",
    "spatialladder.config.eval",
    "spatialladder.questions",
    "spatialladder.scannet.pipeline",
    "spatialladder.metrics.core",
    "spatialladder.rewards",
    "spatialladder.prompts",
    "spatialladder_demo",
]


@pytest.mark.parametrize("module", PURE)
def test_import_does_not_pull_torch(module: str) -> None:
    code = (
        f"import sys, {module}; heavy = [m for m in ('torch', 'transformers', 'trl') if m in sys.modules]; "
        "print(','.join(heavy)); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{module} imported {result.stdout.strip()}: {result.stderr[-500:]}"
