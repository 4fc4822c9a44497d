"""Per-generator parameters: names checked by the config layer, values by the data layer, both before any work."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from spatialladder.cli import app
from spatialladder.config.data import DataConfig
from spatialladder.config.load import load_config, validate_mapping
from spatialladder.data.command import load_data_config, run_build_data
from spatialladder.data.params import generator_params, resolve_generator_params
from spatialladder.errors import ConfigError
from spatialladder.questions import object_rel_direction, object_rel_distance


def write(tmp_path: Path, generators: object) -> Path:
    path = tmp_path / "data.yaml"
    path.write_text(yaml.safe_dump({"kind": "data", "out_dir": str(tmp_path / "out"), "generators": generators}))
    return path


def test_values_resolve_to_each_generators_params_with_defaults(tmp_path: Path) -> None:
    cfg = load_data_config(
        write(tmp_path, {"object_rel_distance": {"ambiguity_rule": "v3r_v1"}, "room_size_estimation": None})
    )
    params = cfg.generators["object_rel_distance"]
    assert isinstance(params, object_rel_distance.Params) and params.ambiguity_rule == "v3r_v1"
    assert cfg.generators["room_size_estimation"] == generator_params(cfg, "room_size_estimation")
    # the manifest and shard fingerprints record every knob, defaults included
    dumped = cfg.model_dump(mode="json")["generators"]["object_rel_distance"]
    assert dumped == object_rel_distance.Params(ambiguity_rule="v3r_v1").model_dump(mode="json")
    assert resolve_generator_params(cfg) == cfg  # idempotent
    unset = generator_params(cfg, "object_rel_direction_hard")
    assert isinstance(unset, object_rel_direction.Params) and unset.margin_rule == "v3r_upper_edge"


def test_a_bad_value_is_one_line_naming_the_key_path(tmp_path: Path) -> None:
    path = write(tmp_path, {"object_rel_distance": {"ambiguity_rule": "loose"}})
    cfg = load_config(path)  # the config layer checks names only
    assert cfg.generators == {"object_rel_distance": {"ambiguity_rule": "loose"}}
    expected = (
        f"{path}: generators.object_rel_distance.ambiguity_rule: Input should be 'paper' or 'v3r_v1' (got 'loose')"
    )
    with pytest.raises(ConfigError) as err:
        resolve_generator_params(cfg, str(path))
    assert str(err.value) == expected
    with pytest.raises(ConfigError, match=r"generators\.object_counting\.max_per_scen: unknown key"):
        resolve_generator_params(DataConfig(generators={"object_counting": {"max_per_scen": 3}}))


def test_build_data_and_config_validate_check_values_before_any_work(tmp_path: Path) -> None:
    path = write(tmp_path, {"object_counting": {"max_per_scene": -1}})
    with pytest.raises(ConfigError, match=r"data\.yaml: generators\.object_counting\.max_per_scene: Input should be"):
        run_build_data(path, progress=False)
    assert not (tmp_path / "out").exists()
    result = CliRunner().invoke(app, ["config", "validate", "-c", str(path)])
    assert result.exit_code != 0
    assert "generators.object_counting.max_per_scene: Input should be greater than or equal to 0" in str(
        result.exception
    )
    good = CliRunner().invoke(app, ["config", "validate", "-c", str(write(tmp_path, {"object_counting": {}}))])
    assert good.exit_code == 0 and "generator params" in good.output, good.output


def test_unknown_generator_names_and_bad_shapes_fail_in_the_config_layer(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"generators: Value error, unknown question generator 'object_count'"):
        load_config(write(tmp_path, {"object_count": {}}))
    with pytest.raises(ConfigError, match=r"generators: Value error, object_counting: expected a mapping"):
        load_config(write(tmp_path, {"object_counting": 3}))
    with pytest.raises(
        ConfigError, match=r"d\.yaml: modalities\.video: Value error, unknown question generator 'rooms'"
    ):
        validate_mapping({"modalities": {"video": ["rooms"]}}, DataConfig, source="d.yaml")
