"""YAML → dotted ``--set`` overrides → pydantic validation, and the resolved config written beside outputs.

Overrides are applied to the raw mapping *before* validation, so a typo'd override path fails exactly like a
typo'd YAML key: with the full dotted path in the message.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from spatialladder.errors import ConfigError

M = TypeVar("M", bound=BaseModel)

RESOLVED_NAME = "config.resolved.yaml"


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads ``1e-5`` as a float (YAML 1.1 insists on ``1.0e-5``; ML configs never do)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


# YAML 1.1 also reads yes/no/on/off as booleans, so `--set trainer.save_strategy=no` would become False; keep
# only true/false (YAML 1.2), which is what every trl/accelerate knob expects.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in _Loader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def yaml_load(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; anything else is a ConfigError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``a.b.c=value``; the value is parsed as a YAML scalar/flow value (``1e-5``, ``true``, ``[1, 2]``)."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected the form dotted.path=value")
    key, raw = text.split("=", 1)
    parts = key.strip().split(".")
    if not all(parts):
        raise ConfigError(f"--set {text!r}: empty segment in key path {key!r}")
    try:
        value = yaml_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {text!r}: value is not valid YAML: {exc}") from None
    return parts, value


def apply_overrides(data: Mapping[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Return a deep copy of ``data`` with every ``dotted.path=value`` set, creating mappings as needed."""
    out = _deep_copy(data)
    for text in overrides:
        parts, value = parse_override(text)
        node: Any = out
        for i, part in enumerate(parts[:-1]):
            child = node.get(part) if isinstance(node, dict) else None
            if child is None:
                child = {}
                node[part] = child
            elif not isinstance(child, dict):
                path = ".".join(parts[: i + 1])
                raise ConfigError(f"--set {text!r}: {path} is a {type(child).__name__}, not a mapping")
            node = child
        node[parts[-1]] = value
    return out


def _deep_copy(data: Any) -> Any:
    if isinstance(data, Mapping):
        return {k: _deep_copy(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_deep_copy(v) for v in data]
    return data


def format_validation_error(exc: ValidationError, source: str, at: Sequence[str] = ()) -> str:
    """One line per problem: ``source: a.b.c: message (got value)``; ``at`` is the key path of the validated
    mapping inside its file (a nested mapping validated on its own, e.g. ``generators.object_counting``)."""
    lines = []
    for err in exc.errors():
        loc = ".".join([*at, *(str(p) for p in err["loc"] if not str(p).startswith("function-"))]) or "<root>"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key (not allowed here)"
        got = err.get("input")
        suffix = (
            f" (got {got!r})"
            if got is not None and err["type"] != "extra_forbidden" and not isinstance(got, dict)
            else ""
        )
        lines.append(f"{source}: {loc}: {msg}{suffix}")
    return "\n".join(lines)


def _expected_kinds(model_cls: type[BaseModel]) -> tuple[Any, ...]:
    field = model_cls.model_fields.get("kind")
    return typing.get_args(field.annotation) if field is not None else ()


def validate_mapping(data: Mapping[str, Any], model_cls: type[M], source: str = "<config>") -> M:
    expected = _expected_kinds(model_cls)
    kind = data.get("kind") if isinstance(data, Mapping) else None
    if expected and kind is not None and kind not in expected:  # one clear line, not a list of "unknown key"s
        raise ConfigError(f"{source}: this is a kind: {kind} config, but a kind: {expected[0]} config is needed here")
    try:
        return model_cls.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source)) from None


def load_config(path: str | Path, overrides: Iterable[str] = (), model_cls: type[M] | None = None) -> Any:
    """Load, override and validate a config. Without ``model_cls`` the kind is picked from the file's ``kind:``."""
    from spatialladder.config.schema import AnyConfig, model_for_kind

    data = apply_overrides(read_yaml(path), overrides)
    if model_cls is None:
        kind = data.get("kind")
        cls: Any = model_for_kind(kind, source=str(path)) if kind is not None else AnyConfig
        return validate_mapping(data, cls, source=str(path))
    return validate_mapping(data, model_cls, source=str(path))


def to_yaml(cfg: BaseModel) -> str:
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def save_resolved(cfg: BaseModel, out_dir: str | Path, name: str = RESOLVED_NAME) -> Path:
    """Write ``config.resolved.yaml`` (``name``: another run sharing the folder, e.g. a blind eval's
    ``config.resolved.blind.yaml``) into ``out_dir`` so every output says exactly how it was made."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / name
    tmp = target.with_suffix(".yaml.tmp")
    tmp.write_text(to_yaml(cfg), encoding="utf-8")
    tmp.replace(target)
    return target
