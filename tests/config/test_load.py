"""Config loading: typos, wrong types and bad enum values fail with the key path; overrides apply before validation."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from spatialladder.config.grpo import GRPOStageConfig
from spatialladder.config.load import apply_overrides, load_config, parse_override, save_resolved
from spatialladder.config.sft import SFTStageConfig
from spatialladder.errors import ConfigError

BASE = {
    "kind": "sft",
    "stage": "localization",
    "output_dir": "out/stage1",
    "model": {"name_or_path": "Qwen/Qwen2.5-VL-3B-Instruct", "max_pixels": 100352},
    "data": {"files": ["data/spld_grounding_data.jsonl"]},
    "trainer": {"learning_rate": 1e-5},
}


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_valid_config_loads_and_picks_kind(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, BASE))
    assert isinstance(cfg, SFTStageConfig)
    assert cfg.model.max_pixels == 100352
    assert cfg.loss_on == "assistant"


def test_typo_key_names_full_path(tmp_path: Path) -> None:
    bad = {**BASE, "model": {**BASE["model"], "max_pixles": 5}}
    with pytest.raises(ConfigError, match=r"model\.max_pixles: unknown key"):
        load_config(write(tmp_path, bad))


def test_wrong_type_names_path_and_value(tmp_path: Path) -> None:
    bad = {**BASE, "model": {**BASE["model"], "max_pixels": "lots"}}
    with pytest.raises(ConfigError, match=r"model\.max_pixels: .*integer.*'lots'"):
        load_config(write(tmp_path, bad))


def test_unknown_enum_lists_allowed_values(tmp_path: Path) -> None:
    bad = {**BASE, "stage": "stage9"}
    with pytest.raises(ConfigError, match=r"stage: .*'localization', 'spatial' or 'coldstart'"):
        load_config(write(tmp_path, bad))


def test_unknown_kind_lists_kinds(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"kind: expected one of data, eval, grpo, ladder, sft"):
        load_config(write(tmp_path, {**BASE, "kind": "train"}))


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    path = tmp_path / "bad.yaml"
    path.write_text("a: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)


def test_set_override_changes_value_with_yaml_typing(tmp_path: Path) -> None:
    cfg = load_config(
        write(tmp_path, BASE),
        ["trainer.learning_rate=2e-5", "model.freeze_vision_tower=true", "model.lora.r=4"],
    )
    assert cfg.trainer["learning_rate"] == 2e-5
    assert cfg.model.freeze_vision_tower is True
    assert cfg.model.lora is not None and cfg.model.lora.r == 4


def test_override_typo_fails_like_yaml_typo(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"model\.dtpye: unknown key"):
        load_config(write(tmp_path, BASE), ["model.dtpye=bfloat16"])


def test_parse_override_errors() -> None:
    with pytest.raises(ConfigError, match="dotted.path=value"):
        parse_override("no-equals-sign")
    with pytest.raises(ConfigError, match="empty segment"):
        parse_override("a..b=1")
    assert parse_override("a.b=[1, 2]") == (["a", "b"], [1, 2])


def test_override_through_scalar_is_an_error() -> None:
    with pytest.raises(ConfigError, match="output_dir is a str, not a mapping"):
        apply_overrides(BASE, ["output_dir.x=1"])


def test_owned_trainer_keys_rejected(tmp_path: Path) -> None:
    bad = {**BASE, "trainer": {"output_dir": "elsewhere"}}
    with pytest.raises(ConfigError, match=r"trainer.*output_dir is set by spatialladder itself"):
        load_config(write(tmp_path, bad))


def test_configs_are_frozen(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, BASE))
    with pytest.raises(Exception, match="frozen"):
        cfg.seed = 1  # type: ignore[misc]


def test_save_resolved_round_trips(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, BASE), ["seed=7"])
    path = save_resolved(cfg, tmp_path / "run")
    assert path.name == "config.resolved.yaml"
    again = load_config(path, model_cls=SFTStageConfig)
    assert again == cfg and again.seed == 7


def test_grpo_defaults_reproduce_paper_rewards() -> None:
    cfg = GRPOStageConfig.model_validate(
        {"kind": "grpo", "output_dir": "o", "model": {"name_or_path": "a/b"}, "data": {"files": ["x.jsonl"]}}
    )
    assert [(r.name, r.weight) for r in cfg.rewards] == [("format", 1.0), ("accuracy", 1.0)]


def test_exponent_floats_without_dot_are_floats(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, BASE).with_name("cfg.yaml"), [])
    path = tmp_path / "e.yaml"
    path.write_text(yaml.safe_dump(BASE).replace("learning_rate: 1.0e-05", "learning_rate: 1e-5"))
    assert "1e-5" in path.read_text()
    assert load_config(path).trainer["learning_rate"] == 1e-5 == cfg.trainer["learning_rate"]


def test_gpu_config_validates_on_cpu_with_device_check_skipped(tmp_path: Path) -> None:
    from spatialladder.validate import deep_validate

    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("CUDA present: trl checks the device for real")
    cfg = load_config(write(tmp_path, {**BASE, "trainer": {"bf16": True, "learning_rate": 1e-5}}))
    checked = deep_validate(cfg, "cfg.yaml")
    assert checked[-1] == "trl.SFTConfig (device check of bf16 skipped: no CUDA here)"
    with pytest.raises(ConfigError, match="learning_rte: not a field of trl.SFTConfig"):
        deep_validate(load_config(write(tmp_path, {**BASE, "trainer": {"bf16": True, "learning_rte": 1}})))


def test_yes_no_stay_strings_true_false_are_bools(tmp_path: Path) -> None:
    cfg = load_config(
        write(tmp_path, BASE), ["trainer.save_strategy=no", "trainer.x_on=on", "model.freeze_vision_tower=True"]
    )
    assert cfg.trainer["save_strategy"] == "no" and cfg.trainer["x_on"] == "on"
    assert cfg.model.freeze_vision_tower is True
