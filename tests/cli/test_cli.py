"""The console script, driven in process through Typer's runner."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from spatialladder.cli import app

runner = CliRunner()

SFT = {
    "kind": "sft",
    "stage": "spatial",
    "output_dir": "out/s2",
    "model": {"name_or_path": "Qwen/Qwen2.5-VL-3B-Instruct"},
    "data": {"files": ["d.jsonl"]},
    "trainer": {"learning_rate": 1e-5, "bf16": False, "use_cpu": True},
}


def test_help_lists_commands_and_examples() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "config" in result.output and "make-tiny-model" in result.output
    for args in (["config", "validate", "--help"], ["config", "show", "--help"], ["make-tiny-model", "--help"]):
        sub = runner.invoke(app, args)
        assert sub.exit_code == 0 and "Example:" in sub.output, args


def test_config_validate_builds_trl_config(tmp_path: Path) -> None:
    path = tmp_path / "s2.yaml"
    path.write_text(yaml.safe_dump(SFT))
    result = runner.invoke(app, ["config", "validate", "-c", str(path)])
    assert result.exit_code == 0, result.output
    assert "trl.SFTConfig" in result.output


def test_config_validate_catches_trl_typo(tmp_path: Path) -> None:
    path = tmp_path / "s2.yaml"
    path.write_text(yaml.safe_dump({**SFT, "trainer": {"learning_rte": 1e-5}}))
    result = runner.invoke(app, ["config", "validate", "-c", str(path)])
    assert result.exit_code != 0
    assert "trainer.learning_rte: not a field of trl.SFTConfig" in str(result.exception)


def test_config_show_applies_override(tmp_path: Path) -> None:
    path = tmp_path / "s2.yaml"
    path.write_text(yaml.safe_dump(SFT))
    result = runner.invoke(app, ["config", "show", "-c", str(path), "--set", "seed=123"])
    assert result.exit_code == 0, result.output
    shown = yaml.safe_load(result.output)
    assert shown["seed"] == 123 and shown["loss_on"] == "assistant"


def test_make_tiny_model(tmp_path: Path) -> None:
    result = runner.invoke(app, ["make-tiny-model", str(tmp_path / "tiny")])
    assert result.exit_code == 0, result.output
    for name in ("config.json", "model.safetensors", "processor_config.json", "tokenizer.json", "chat_template.jinja"):
        assert (tmp_path / "tiny" / name).is_file(), name
