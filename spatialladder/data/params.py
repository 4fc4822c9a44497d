"""Per-generator parameters of a data config, validated against each generator's ``Params``.

The config layer checks only the generator *names* (against ``spatialladder.vocab``); the parameter models live
with the generators (``spatialladder.questions``), a layer above the configs, so their values are checked here,
by build-data before any scene is read and by ``config validate``.
"""

from __future__ import annotations

from pydantic import ValidationError

from spatialladder.config.base import Strict
from spatialladder.config.data import DataConfig
from spatialladder.config.load import format_validation_error
from spatialladder.errors import ConfigError
from spatialladder.questions import get_generator


def resolve_generator_params(cfg: DataConfig, source: str = "<config>") -> DataConfig:
    """``cfg`` with every ``generators`` entry replaced by its validated ``Params`` (defaults filled in), so the
    manifest and shard fingerprints record every knob. A bad value is a ConfigError naming the key path, e.g.
    ``data.yaml: generators.object_rel_distance.ambiguity_rule: Input should be 'paper' or 'v3r_v1' (got 'x')``."""
    resolved: dict[str, Strict] = {}
    for name, params in cfg.generators.items():
        model = get_generator(name).params
        if isinstance(params, model):
            resolved[name] = params
            continue
        try:
            resolved[name] = model.model_validate(params or {})
        except ValidationError as exc:
            raise ConfigError(format_validation_error(exc, source, at=("generators", name))) from None
    return cfg.model_copy(update={"generators": resolved})


def generator_params(cfg: DataConfig, name: str) -> Strict:
    """The validated parameters of generator ``name``: its configured ones, else its defaults."""
    params = cfg.generators.get(name)
    model = get_generator(name).params
    if isinstance(params, model):
        return params
    if params is None:
        return model()
    return resolve_generator_params(cfg).generators[name]
