"""Tiny official-format records and a factory for SFT stage configs on the tiny model (CPU settings)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from spatialladder.testing.tiny_records import write_tiny_records

STAGE_FILE = {"localization": "grounding", "spatial": "spatial", "coldstart": "coldstart"}


@pytest.fixture(scope="session")
def tiny_records(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_tiny_records(tmp_path_factory.mktemp("tiny-data"))


def cpu_trainer(**extra: Any) -> dict[str, Any]:
    """CPU test settings: fp32, no checkpointing, no reporting, tiny steps."""
    return {
        "bf16": False,
        "use_cpu": True,
        "activation_checkpointing": False,
        "report_to": "none",
        "save_strategy": "no",
        "logging_steps": 1,
        "max_steps": 2,
        "per_device_train_batch_size": 2,
        "learning_rate": 1e-3,
        "disable_tqdm": True,
        **extra,
    }


@pytest.fixture
def sft_config(tiny_model_dir: Path, tiny_records: dict[str, Path]) -> Callable[..., dict[str, Any]]:
    """``sft_config(stage, out, trainer={...}, model={...}, data={...}, **top)`` → a raw SFT config mapping."""

    def build(stage: str, out: Path, trainer: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
        data = {"files": [str(tiny_records[STAGE_FILE[stage]])], **top.pop("data", {})}
        model = {"name_or_path": str(tiny_model_dir), "max_pixels": 28 * 28 * 16, "min_pixels": 28 * 28}
        return {
            "kind": "sft",
            "stage": stage,
            "output_dir": str(out),
            "model": {**model, **top.pop("model", {})},
            "data": data,
            "trainer": cpu_trainer(**(trainer or {})),
            **top,
        }

    return build


GRPO_TINY_CONFIG = Path(__file__).resolve().parents[2] / "configs/debug/grpo_tiny.yaml"


@pytest.fixture
def grpo_cfg() -> Callable[..., Any]:
    """``grpo_cfg(model_dir, records, out, *overrides)`` → the tiny GRPO config (format reward only, no progress
    bars) on ``records['spatial']``, with ``--set`` style overrides."""
    from spatialladder.config.load import load_config

    def build(model_dir: Path, records: dict[str, Path], out: Path, *overrides: str) -> Any:
        return load_config(
            GRPO_TINY_CONFIG,
            [
                f"model.name_or_path={model_dir}",
                f"data.files=[{records['spatial']}]",
                f"output_dir={out}",
                "trainer.disable_tqdm=true",
                "rewards=[{name: format}]",
                *overrides,
            ],
        )

    return build
