"""``kind: data`` — how ``spatialladder build-data`` turns ScanNet scans into SpatialLadder-26k-style QA."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from spatialladder.config.base import Strict
from spatialladder.config.scannet import ScanNetSettings

SINGLE_IMAGE_TYPES = [
    "object_abs_distance",
    "object_size_estimation",
    "object_rel_distance",
    "object_rel_direction_easy",
    "object_rel_direction_medium",
    "object_rel_direction_hard",
]
MULTI_VIEW_TYPES = [*SINGLE_IMAGE_TYPES, "object_counting"]
VIDEO_TYPES = [*MULTI_VIEW_TYPES, "room_size_estimation", "obj_appearance_order"]
MODALITIES = ("localization", "single_image", "multi_view", "video")


def _lookup(get: Any, name: str) -> Any:
    """Registry lookup whose failure becomes a validation error, so the message carries the config path."""
    from spatialladder.errors import UnknownNameError

    try:
        return get(name)
    except UnknownNameError as exc:
        raise ValueError(str(exc)) from None


class MixtureSettings(Strict):
    """Records per modality for ``reference_scenes`` scans; scaled linearly to the scans actually built.

    Defaults are SpatialLadder-26k's proportions on ScanNet's 1,201 train scans (official-spatialladder.md §2.1).
    """

    localization: int = Field(5929, ge=0)
    single_image: int = Field(5929, ge=0)
    multi_view: int = Field(5752, ge=0)
    video: int = Field(9000, ge=0)
    reference_scenes: int = Field(1201, ge=1)


class ModalitySettings(Strict):
    """Which question types each modality asks and how frames are chosen and judged visible."""

    single_image: list[str] = Field(default_factory=lambda: list(SINGLE_IMAGE_TYPES))
    multi_view: list[str] = Field(default_factory=lambda: list(MULTI_VIEW_TYPES))
    video: list[str] = Field(default_factory=lambda: list(VIDEO_TYPES))
    """Add ``route_planning`` here to generate route questions (off by default: the paper has none)."""
    video_frames: int = Field(32, ge=1)
    """Frames per video record, uniform over the scene's chosen frames (``scannet.num_frames`` of them)."""
    multi_view_frames: int = Field(8, ge=1)
    min_visible_fraction: float = Field(0.3, ge=0.0, le=1.0)
    """An object counts as shown in a frame when this fraction of its in-view points passes the depth test …"""
    min_visible_points: int = Field(20, ge=1)
    """… and at least this many of its points are visible."""
    appearance_from: Literal["shown_frames", "all_frames"] = "shown_frames"
    """First appearance for video records: over the frames the record shows (what the model can see), or the
    ingestion's scan over all frames (VSI-Bench, which showed the whole video)."""

    @field_validator("single_image", "multi_view", "video")
    @classmethod
    def _known_types(cls, value: list[str]) -> list[str]:
        from spatialladder.questions import get_generator

        for name in value:
            _lookup(get_generator, name)
            if name == "localization":
                raise ValueError("localization is its own modality, not a spatial question type")
        return value


class ColdStartSettings(Strict):
    """Which spatial records also get a geometry-derived ``<think>`` rationale for cold-start SFT."""

    fraction: float = Field(0.1, ge=0.0, le=1.0)
    question_types: list[str] | None = None
    """VSI question types eligible (None = all)."""
    prompt_fidelity: Literal["fixed", "official"] = "fixed"
    """Stage-3 prompt wording (spatialladder.prompts): ``official`` keeps the training-only spelling drift."""


class DataConfig(Strict):
    """Everything ``build-data`` needs; every knob is saved in the manifest."""

    kind: Literal["data"] = "data"
    scannet: ScanNetSettings = Field(default_factory=ScanNetSettings)
    scannet_root: Path | None = None
    """``scans/`` folder with one sub-folder per scene, or the ScanNet root holding it (``scans/`` is then used)."""
    scenes_file: Path | None = None
    """Scene ids, one per line (e.g. scannetv2_train.txt); None = every folder under ``scannet_root``."""
    split_dir: Path | None = None
    """Folder holding scannetv2_val.txt, whose scenes are refused (None = the parent of ``scannet_root``)."""
    from_meta: Path | None = None
    """Build from a released VSI-Bench meta-info file instead of scans (no frames: video-path records)."""
    out_dir: Path = Path("outputs/data")
    seed: int = 0
    workers: int = Field(1, ge=1)
    format: Literal["jsonl", "hf"] = "jsonl"
    """``hf`` also writes parquet configs that ``datasets.load_dataset`` reads."""
    image_max_side: int = Field(640, ge=28)
    jpeg_quality: int = Field(90, ge=1, le=100)
    max_failure_fraction: float = Field(0.05, ge=0.0, le=1.0)
    mixture: MixtureSettings = Field(default_factory=MixtureSettings)
    modalities: ModalitySettings = Field(default_factory=ModalitySettings)
    generators: dict[str, Any] = Field(default_factory=dict)
    """Per-generator parameters, ``{name: {param: value}}``, validated against the generator's ``Params``."""
    coldstart: ColdStartSettings = Field(default_factory=ColdStartSettings)

    @field_validator("generators", mode="before")
    @classmethod
    def _generator_params(cls, value: Any) -> dict[str, Any]:
        from spatialladder.questions import get_generator

        if not isinstance(value, dict):
            raise ValueError(f"expected a mapping of generator name → parameters, got {type(value).__name__}")
        out = {}
        for name, params in value.items():
            spec = _lookup(get_generator, name)
            if isinstance(params, spec.params):
                out[name] = params
                continue
            try:
                out[name] = spec.params.model_validate(params or {})
            except ValidationError as exc:
                problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
                raise ValueError(f"{name}: {problems}") from None
        return out

    @model_validator(mode="after")
    def _frames_available(self) -> DataConfig:
        if self.modalities.video_frames > self.scannet.num_frames and self.scannet.frame_selection == "uniform":
            raise ValueError(
                f"modalities.video_frames ({self.modalities.video_frames}) exceeds scannet.num_frames "
                f"({self.scannet.num_frames}): video records draw from the scene's chosen frames"
            )
        return self

    def params_for(self, name: str) -> Strict:
        """The validated parameters of generator ``name`` (its defaults unless configured)."""
        from spatialladder.questions import get_generator

        return self.generators.get(name) or get_generator(name).params()
