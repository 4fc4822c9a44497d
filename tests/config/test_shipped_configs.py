"""Every YAML under configs/ validates deeply (schema, registries, trl's own config classes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from spatialladder.config.load import load_config, read_yaml
from spatialladder.config.validate import deep_validate

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
ALL = sorted(p for p in CONFIGS.rglob("*.yaml") if "accelerate" not in p.parts)


def test_there_are_configs() -> None:
    assert ALL, f"no configs found under {CONFIGS}"


@pytest.mark.parametrize("path", ALL, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_config_validates(path: Path) -> None:
    cfg = load_config(path)
    assert deep_validate(cfg, str(path))[0].startswith("schema")


@pytest.mark.parametrize("path", sorted((CONFIGS / "accelerate").glob("*.yaml")), ids=lambda p: p.name)
def test_accelerate_configs_are_mappings(path: Path) -> None:
    data = read_yaml(path)
    assert "distributed_type" in data and "num_processes" in data
