"""The ``build-data`` command behind the CLI: config + flags → build_dataset → summary table."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spatialladder.config.data import DataConfig
from spatialladder.config.load import apply_overrides, read_yaml, validate_mapping
from spatialladder.data.build import BuildResult, build_dataset
from spatialladder.data.params import resolve_generator_params


def load_data_config(config: Path | None, overrides: Sequence[str] = (), **flags: Any) -> DataConfig:
    """YAML (or defaults) → ``--set`` overrides → explicit CLI flags (None = not given) → validated DataConfig,
    generator parameters included."""
    data = read_yaml(config) if config is not None else {"kind": "data"}
    data = apply_overrides(data, overrides)
    for key, value in flags.items():
        if value is not None:
            data[key] = str(value) if isinstance(value, Path) else value
    source = str(config or "build-data flags")
    return resolve_generator_params(validate_mapping(data, DataConfig, source=source), source)


def run_build_data(
    config: Path | None, overrides: Sequence[str] = (), progress: bool = True, **flags: Any
) -> BuildResult:
    """Build the dataset and print the per-modality summary; the caller turns ``result.ok`` into the exit code."""
    from rich.console import Console
    from rich.table import Table

    result = build_dataset(load_data_config(config, overrides, **flags), progress=progress)
    table = Table(title=f"build-data → {result.out_dir}")
    for column in ("modality", "question type", "records"):
        table.add_column(column, justify="right" if column == "records" else "left")
    for modality, types in result.counts.items():
        for name, n in types.items():
            table.add_row(modality, name, str(n))
    console = Console()
    console.print(table)
    ok = sum(o.status == "ok" for o in result.scenes.values())
    failed = len(result.failed)
    console.print(f"scenes: {ok} ok, {failed} failed ({result.failure_fraction:.1%}); {result.seconds:.1f} s")
    for scene, reason in sorted(result.failed.items()):
        console.print(f"  failed {scene}: {reason}", markup=False)
    return result
