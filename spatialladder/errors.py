"""Exceptions users see. Each names the file, key or value at fault and what was expected."""

from __future__ import annotations


class SpatialLadderError(Exception):
    """Base class: the CLI prints these as one clean line instead of a traceback."""


class ConfigError(SpatialLadderError):
    """A config file, key or value is invalid."""


class UnknownNameError(SpatialLadderError, KeyError):
    """A registry lookup failed; the message lists the valid names."""

    def __init__(self, kind: str, name: str, choices: list[str] | tuple[str, ...]):
        self.kind, self.name, self.choices = kind, name, sorted(choices)
        super().__init__(f"unknown {kind} {name!r}; valid names: {', '.join(self.choices)}")

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return self.args[0]


class SceneFormatError(SpatialLadderError):
    """A ScanNet scene is missing a file or a file is malformed."""

    def __init__(self, scene: str, file: str, problem: str):
        self.scene, self.file, self.problem = scene, str(file), problem
        super().__init__(f"scene {scene}: {file}: {problem}")


class DataFormatError(SpatialLadderError):
    """A dataset, record or benchmark file is missing or malformed."""


class ModelLoadError(SpatialLadderError):
    """A model path does not exist or is not a Qwen2.5-VL checkpoint."""
