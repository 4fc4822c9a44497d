"""Config for ``spatialladder train --stage all``: the four rung configs, run in ladder order."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from spatialladder.config.base import Strict
from spatialladder.vocab import STAGES


class LadderConfig(Strict):
    """Paths of the stage configs (relative to this file's folder); a missing rung is simply not run.

    Each rung after the first starts from the previous rung's final folder, whatever its own
    ``model.name_or_path`` says; ``base_model`` (if set) replaces the first rung's.
    """

    kind: Literal["ladder"]
    base_model: str | None = None
    # one field per stage of vocab.STAGES (tests/test_vocab.py checks)
    localization: str | None = None
    spatial: str | None = None
    coldstart: str | None = None
    grpo: str | None = None

    @model_validator(mode="after")
    def _some_stage(self) -> LadderConfig:
        if not self.stage_paths():
            raise ValueError(f"list at least one stage config under {', '.join(STAGES)}")
        return self

    def stage_paths(self) -> dict[str, str]:
        """Stage name → config path, in ladder order."""
        return {s: getattr(self, s) for s in STAGES if getattr(self, s) is not None}
