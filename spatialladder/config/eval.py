"""Config for ``spatialladder eval``: which benchmark, which model, which prompt protocol and how to generate."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from spatialladder.config.base import QWEN_PATCH_PIXELS, ModelSettings, Strict
from spatialladder.errors import ConfigError, UnknownNameError
from spatialladder.vocab import (
    BENCHMARK_ALIASES,
    BENCHMARK_NAMES,
    VSI_BENCHMARKS,
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
    """Decoding settings; ``None`` max_new_tokens = the prompt's own (lmms 16, direct 128, thinking 1024), or the
    input protocol's where it thinks first (``lmms-eval-qwen3_5``: 1024).

    Greedy by default: the official eval passes ``temperature=0.01`` to a sampling generation config, which is
    greedy in effect; we use ``do_sample=False`` and record it. ``repetition_penalty`` None = the input protocol's:
    1.05 for ``official`` / ``direct``, what the official eval inherits from the Qwen2.5-VL-3B-Instruct and
    SpatialLadder-3B ``generation_config.json``; for the lmms-eval protocols the checkpoint's own
    ``generation_config.json`` value (lmms-eval passes none, so ``generate`` takes the checkpoint's). Either way the
    number is resolved before the run, passed explicitly and recorded.
    """

    max_new_tokens: int | None = Field(None, ge=1)
    do_sample: bool = False
    temperature: float = Field(1.0, gt=0.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    repetition_penalty: float | None = Field(None, gt=0.0)


class EvalConfig(Strict):
    kind: Literal["eval"]
    bench: str
    """Registry name (``spatialladder.vocab.BENCHMARK_NAMES``); ``vsi`` is an alias of ``vsibench``,
    ``vsi-debiased`` of ``vsibench-debiased``."""
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
    frames: int | None = Field(None, ge=1)
    """Video frames per question; None = the input protocol's (32; ``lmms-eval-qwen3_5``: up to 768). ``official`` /
    ``direct`` sample ``np.linspace(0, total - 1, frames, dtype=int)``; the lmms-eval protocols pass it to
    qwen-vl-utils as lmms-eval's ``max_num_frames`` (Qwen3-VL: exactly that many, ``round(linspace)``; Qwen3.5: the
    video's frames at 2 fps, at most that many)."""
    input_protocol: InputProtocol | None = None
    """None = the model family's (``models/families``: Qwen2.5-VL ``official``, Qwen3-VL ``lmms-eval-qwen3_vl``,
    Qwen3.5 ``lmms-eval-qwen3_5``), read from the checkpoint's ``config.json`` when the run starts. ``official``:
    frames and images reach the processor as in the SpatialLadder eval harness (video frames LANCZOS-resized to about
    ``model.max_pixels`` area, then qwen-vl-utils, then the processor; images through qwen-vl-utils ``fetch_image``
    first), so a 640×480 video is seen by Qwen2.5-VL at 532×700. ``direct``: decoded frames and images go straight to
    the processor (476×644 for the same video). ``lmms-eval-qwen3_vl`` / ``lmms-eval-qwen3_5``: as lmms-eval's
    Qwen3-VL / Qwen3.5 wrappers (their own pixel bounds, frames, system prompt, thinking setting; ``model.min_pixels``
    / ``max_pixels`` are not used). See docs/fidelity.md and ``spatialladder/eval/inputs.py``."""
    video_fps: float = Field(2.0, gt=0.0)
    """Qwen2.5-VL: frame rate the model is told the sampled frames have (``second_per_grid_ts`` = 2 / fps). The
    official eval ran transformers 4.49 with the processor default 2.0 (→ 1.0 s per temporal grid step);
    transformers 5 would otherwise assume 24 fps for a frame list and squeeze the temporal positions 12×
    (docs/fidelity.md). Unused by the families that stamp times as text (Qwen3-VL, Qwen3.5): their stamps come from
    the video file's own frame rate and the indices sampled."""
    batch_size: int = Field(8, ge=1)
    share_video_prefix: bool = True
    """Questions on the same video are predicted together and share its encoding: ``hf`` runs the processor and the
    vision tower once per video and prefills the prompt prefix they share (system turn, video, common text) once,
    continuing each batch of questions from a copy of that key/value cache; ``vllm`` turns on prefix caching. Greedy
    predictions are identical to ``false`` (tested), which predicts in benchmark order, every question on its own."""
    limit: int | None = Field(None, ge=1)
    """Score a seeded random subset of this many questions; None = the full benchmark."""
    seed: int = 0
    blind: bool = False
    """Ask the same questions with every image and video removed (``eval/messages.py`` ``build_message``): no
    frame is decoded and no vision encoder runs. Predictions go to ``predictions.blind.jsonl`` and the reports to
    ``results.blind.*`` beside a sighted run's in the same folder; with both there, each report gives the vision gain
    (sighted − blind) per task (``eval/report.py``)."""
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

        if self.prompt == "lmms" and BENCHMARK_ALIASES.get(self.bench, self.bench) not in VSI_BENCHMARKS:
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

    def with_protocol(
        self, protocol: str, *, frames: int, repetition_penalty: float, max_new_tokens: int | None = None
    ) -> EvalConfig:
        """This config with ``input_protocol`` set and the protocol's defaults where the config leaves them open
        (None: ``frames``, ``generation.repetition_penalty``, and ``generation.max_new_tokens`` when the protocol has
        its own), validated again; what the user set is kept. ``eval.messages.resolve_protocol`` calls it."""
        data = self.model_dump()
        data["input_protocol"] = protocol
        if data["frames"] is None:
            data["frames"] = frames
        generation = data["generation"]
        if generation["repetition_penalty"] is None:
            generation["repetition_penalty"] = repetition_penalty
        if generation["max_new_tokens"] is None and max_new_tokens is not None:
            generation["max_new_tokens"] = max_new_tokens
        return EvalConfig.model_validate(data)

    @property
    def resolved(self) -> bool:
        """Whether the protocol and its defaults are filled in (:meth:`with_protocol`)."""
        return (
            self.input_protocol is not None
            and self.frames is not None
            and self.generation.repetition_penalty is not None
        )


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
