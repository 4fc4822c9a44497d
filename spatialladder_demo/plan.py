"""What the demo builds and runs: sizes, seed and folders (``DemoPlan``), its steps, and every evaluation."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from spatialladder.vocab import STAGE_DIRS

STEPS = ("scenes", "data", "benchmarks", "model", "ladder", "eval", "report")
DEFAULT_FAMILY = "qwen2.5-vl"
DEMO_FACTOR = 28
"""The pixel factor ``configs/demo/`` budgets are written in (Qwen2.5-VL's)."""
MODELS = ("base", *STAGE_DIRS)
BENCHES = ("vsibench", "spbench-si", "spbench-mv")

EVAL_RUNS: tuple[tuple[str, str, str], ...] = (
    *((m, b, "direct") for m in MODELS for b in BENCHES),
    *((m, b, "thinking") for m in ("coldstart", "stage3") for b in BENCHES),
)
"""(model, bench, prompt): every model on every benchmark with the direct prompt; the two reasoning-trained models
(cold start, stage 3) also with the thinking prompt they were trained on."""


@dataclass(frozen=True)
class DemoPlan:
    """What the demo builds; its fingerprint decides which finished steps can be reused."""

    out_dir: Path
    train_scenes: int = 8
    heldout_scenes: int = 2
    seed: int = 0
    smoke: bool = False
    configs_dir: Path = Path("configs/demo")
    family: str = DEFAULT_FAMILY
    """The base model's family (``spatialladder.models.families``): the tiny model built and its pixel budgets."""

    def fingerprint(self, step: str) -> str:
        data = {"step": step, "train": self.train_scenes, "heldout": self.heldout_scenes, "seed": self.seed,
                "smoke": self.smoke}  # fmt: skip
        if self.family != DEFAULT_FAMILY:  # the paper's family keeps the fingerprints (and resumes) it always had
            data["family"] = self.family
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    def eval_overrides(self) -> dict[str, object]:
        """What the demo's evaluations change for the family: its pixel budgets and, for the families whose own
        protocol is lmms-eval's (native-resolution frames, 2 fps for Qwen3.5, 1,024 thinking tokens), the ``direct``
        input protocol, so a CPU demo stays minutes long; ``spatialladder eval`` defaults to the family's protocol."""
        if self.family == DEFAULT_FAMILY:
            return {}
        return {**self.pixel_overrides(), "input_protocol": "direct"}

    def pixel_overrides(self) -> dict[str, int]:
        """The demo configs' budgets (1-16 merged tokens of 28² px per image and frame) in the family's factor: none
        for Qwen2.5-VL (the configs as written), 1024-16,384 px for the factor-32 families."""
        from spatialladder.models.families import family_named

        family = family_named(self.family)
        if family.pixel_factor == DEMO_FACTOR:
            return {}
        return {"model.min_pixels": family.tokens_to_pixels(1), "model.max_pixels": family.tokens_to_pixels(16)}

    def path(self, *parts: str) -> Path:
        return self.out_dir.joinpath(*parts)

    @property
    def n_frames(self) -> int:
        return 24 if self.smoke else 40

    def model_dir(self, name: str) -> Path:
        """The base model or a rung's checkpoint folder."""
        return self.path("models", "base") if name == "base" else self.path("checkpoints", name)

    def eval_dir(self, model: str, prompt: str, bench: str) -> Path:
        return self.path("eval", f"{model}-{prompt}", bench)


@dataclass
class DemoResult:
    report: Path
    steps: dict[str, str] = field(default_factory=dict)  # step → "ran" | "reused"
