"""Config for ``spatialladder eval``: which benchmark, which model, which prompt protocol and how to generate."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from spatialladder.config.base import QWEN_PATCH_PIXELS, ModelSettings, Strict
from spatialladder.errors import ConfigError, UnknownNameError
from spatialladder.vocab import (
    BENCHMARK_ALIASES,
    BENCHMARK_NAMES,
    DirectionMerge,
    InputProtocol,
    PromptStyle,
    ScoringProfile,
)


def resolve_scoring(prompt: str, scoring: str | None) -> str:
    """The numeric-answer parser a run scores with: ``scoring`` when set, else ``vsibench-2024`` (lmms-eval's) for
    the ``lmms`` prompt and ``spatialladder`` for the others; ``eval`` and ``score`` both ask here."""
    if scoring is not None:
        return scoring
    return "vsibench-2024" if prompt == "lmms" else "spatialladder"


class GenerationSettings(Strict):
    """Decoding settings; ``None`` max_new_tokens = the protocol's own (lmms 16, direct 128, thinking 1024).

    Greedy by default: the official eval passes ``temperature=0.01`` to a sampling generation config, which is
    greedy in effect; we use ``do_sample=False`` and record it. ``repetition_penalty`` 1.05 is what the official
    eval inherits from the Qwen2.5-VL-3B-Instruct and SpatialLadder-3B ``generation_config.json``; we pass it
    explicitly so the number does not depend on the checkpoint.
    """

    max_new_tokens: int | None = Field(None, ge=1)
    do_sample: bool = False
    temperature: float = Field(1.0, gt=0.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    repetition_penalty: float = Field(1.05, gt=0.0)


class EvalConfig(Strict):
    kind: Literal["eval"]
    bench: str
    """Registry name (``spatialladder.vocab.BENCHMARK_NAMES``); ``vsi`` is an alias of ``vsibench``."""
    data_dir: str
    """Local folder in the benchmark's Hub layout (see ``docs/benchmarks.md``)."""
    output_dir: str
    model: ModelSettings = Field(
        default_factory=lambda: ModelSettings(
            name_or_path="Qwen/Qwen2.5-VL-3B-Instruct",
            min_pixels=16 * QWEN_PATCH_PIXELS,
            max_pixels=512 * QWEN_PATCH_PIXELS,
        )
    )
    prompt: PromptStyle = "thinking"
    scoring: ScoringProfile | None = None
    """Numeric answer parser; None = ``vsibench-2024`` with the ``lmms`` prompt, else ``spatialladder``."""
    direction_merge: DirectionMerge = "present"
    official_quirks: bool = False
    """Score with a benchmark's official function bug for bug where we fix a quirk (SPAR-Bench; docs/fidelity.md)."""
    frames: int = Field(32, ge=1)
    """Video frames sampled at ``np.linspace(0, total - 1, frames)``."""
    input_protocol: InputProtocol = "official"
    """``official``: frames and images reach the processor as in the SpatialLadder eval harness (video frames
    LANCZOS-resized to about ``model.max_pixels`` area, then qwen-vl-utils, then the processor; images through
    qwen-vl-utils ``fetch_image`` first), so a 640×480 video is seen at 532×700. ``direct``: decoded frames and
    images go straight to the processor (476×644 for the same video). See docs/fidelity.md and
    ``spatialladder/eval/inputs.py``."""
    video_fps: float = Field(2.0, gt=0.0)
    """Frame rate the model is told the sampled frames have (``second_per_grid_ts`` = 2 / fps). The official eval
    ran transformers 4.49 with the processor default 2.0 (→ 1.0 s per temporal grid step); transformers 5 would
    otherwise assume 24 fps for a frame list and squeeze the temporal positions 12× (docs/fidelity.md)."""
    batch_size: int = Field(8, ge=1)
    share_video_prefix: bool = True
    """Questions on the same video are predicted together and share its encoding: ``hf`` runs the processor and the
    vision tower once per video and prefills the prompt prefix they share (system turn, video, common text) once,
    continuing each batch of questions from a copy of that key/value cache; ``vllm`` turns on prefix caching. Greedy
    predictions are identical to ``false`` (tested), which predicts in benchmark order, every question on its own."""
    limit: int | None = Field(None, ge=1)
    """Score a seeded random subset of this many questions; None = the full benchmark."""
    seed: int = 0
    backend: Literal["hf", "vllm"] = "hf"
    """``vllm`` (GPU nodes, ``pip install vllm``) runs vLLM's offline ``LLM.generate``; ``hf`` batched ``generate``."""
    generation: GenerationSettings = Field(default_factory=GenerationSettings)

    @field_validator("bench")
    @classmethod
    def _known_bench(cls, value: str) -> str:
        if value not in BENCHMARK_NAMES and value not in BENCHMARK_ALIASES:
            raise ValueError(str(UnknownNameError("benchmark", value, [*BENCHMARK_NAMES, *BENCHMARK_ALIASES])))
        return value

    @model_validator(mode="after")
    def _official_inputs_need_max_pixels(self) -> EvalConfig:
        if self.input_protocol == "official" and self.model.max_pixels is None:
            raise ConfigError(
                "input_protocol 'official' pre-resizes video frames to model.max_pixels, which is null; set "
                "model.max_pixels (the official eval uses 401408) or input_protocol: direct"
            )
        return self

    @model_validator(mode="after")
    def _lmms_is_video_only(self) -> EvalConfig:

        if self.prompt == "lmms" and BENCHMARK_ALIASES.get(self.bench, self.bench) != "vsibench":
            raise ConfigError(
                f"prompt 'lmms' is the lmms-eval VSI-Bench video protocol; bench {self.bench!r} needs 'direct' or "
                "'thinking'"
            )
        return self

    def resolved_scoring(self) -> str:
        """The scoring profile actually used (see :func:`resolve_scoring`)."""
        return resolve_scoring(self.prompt, self.scoring)

    def resolved_max_new_tokens(self) -> int:
        if self.generation.max_new_tokens is not None:
            return self.generation.max_new_tokens
        return {"lmms": 16, "direct": 128, "thinking": 1024}[self.prompt]


def build_eval_config(
    config: str | None,
    overrides: list[str],
    *,
    bench: str | None = None,
    model: str | None = None,
    data: str | None = None,
    out: str | None = None,
    **flags: object,
) -> EvalConfig:
    """EvalConfig from an optional YAML, then command-line flags, then ``--set`` overrides (in that order)."""
    from spatialladder.config.load import apply_overrides, read_yaml, validate_mapping

    data_map = read_yaml(config) if config else {"kind": "eval"}
    data_map.setdefault("kind", "eval")
    for key, value in {"bench": bench, "data_dir": data, "output_dir": out, **flags}.items():
        if value is not None:
            data_map[key] = value
    if model is not None:
        data_map["model"] = {**data_map.get("model", {}), "name_or_path": model}
    if "bench" not in data_map:
        raise ConfigError(f"{config or 'eval'}: no benchmark: pass --bench NAME or a config with bench:")
    data_map["bench"] = BENCHMARK_ALIASES.get(data_map["bench"], data_map["bench"])
    if "output_dir" not in data_map:
        data_map["output_dir"] = f"outputs/eval/{data_map['bench']}"
    return validate_mapping(apply_overrides(data_map, overrides), EvalConfig, source=config or "<command line>")
