"""``kind: data`` — how ``spatialladder build-data`` turns ScanNet scans into SpatialLadder-26k-style QA."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from spatialladder.config.base import Strict
from spatialladder.config.scannet import ScanNetSettings
from spatialladder.errors import UnknownNameError
from spatialladder.vocab import GENERATOR_NAMES, LOCALIZATION, MODALITY_QUESTION_TYPES, PromptFidelity


def _known_generator(name: Any) -> None:
    """An unknown generator name is a validation error, so the message carries the config path."""
    if name not in GENERATOR_NAMES:
        raise ValueError(str(UnknownNameError("question generator", str(name), GENERATOR_NAMES)))


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

    single_image: list[str] = Field(default_factory=lambda: list(MODALITY_QUESTION_TYPES["single_image"]))
    multi_view: list[str] = Field(default_factory=lambda: list(MODALITY_QUESTION_TYPES["multi_view"]))
    video: list[str] = Field(default_factory=lambda: list(MODALITY_QUESTION_TYPES["video"]))
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
        for name in value:
            _known_generator(name)
            if name == LOCALIZATION:
                raise ValueError("localization is its own modality, not a spatial question type")
        return value


class ColdStartSettings(Strict):
    """Which spatial records also get a geometry-derived ``<think>`` rationale for cold-start SFT."""

    fraction: float = Field(0.1, ge=0.0, le=1.0)
    question_types: list[str] | None = None
    """VSI question types eligible (None = all)."""
    prompt_fidelity: PromptFidelity = "fixed"
    """Stage-3 prompt wording (spatialladder.prompts): ``official`` keeps the training-only spelling drift."""


class AuditSettings(Strict):
    """The shortcut audit of the merged spatial records (``spatialladder.data.audit``): non-visual predictors
    trained on the text alone with scene-grouped k-fold cross-validation, against chance."""

    enabled: bool = True
    folds: int = Field(5, ge=2)
    """GroupKFold splits (fewer when a type spans fewer scenes; one scene: the row is not audited)."""
    margin_pp: float = Field(10.0, ge=0.0, le=100.0)
    """A row is flagged when its best non-visual score exceeds chance by more than this (percentage points)."""
    trees: int = Field(100, ge=1)
    """Random-forest size (TsT's classifier: 100, ``TsT/evaluators/rf.py``)."""


class DebiasSettings(Strict):
    """TsT's Iterative Bias Pruning over the spatial records (``spatialladder.data.debias``); off by default, the
    paper's mixture. Uses ``audit.folds`` and ``audit.trees``."""

    enabled: bool = False
    margin_pp: float = Field(10.0, ge=0.0, le=100.0)
    """Stop pruning a type when its best non-visual score is within this of chance (percentage points)."""
    max_removed_fraction: float = Field(0.3, ge=0.0, le=1.0)
    """At most this fraction of a type's records is removed."""
    batch_fraction: float = Field(0.05, gt=0.0, le=1.0)
    """Records removed per round, as a fraction of the type's records before pruning (at least 1)."""
    min_per_type: int = Field(10, ge=1)
    """Never prune a type below this many records (TsT keeps 10 per VSI-Bench type)."""


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
    """``hf`` also writes ``hf/``: parquet configs with the images embedded and a Hub card (spatialladder.data.hub)."""
    hf_shard_records: int = Field(500, ge=1)
    """Records per parquet shard of the ``hf`` export (``train-00000-of-0000N.parquet``), which bounds the files'
    size (a 16-frame video record at 640 px is ~1 MB of JPEG); memory is bounded by a 100-record row group."""
    html_report: bool = True
    """Also write ``build_report.html``: sampled records with their frames, scene plans, answer histograms."""
    image_max_side: int = Field(640, ge=28)
    jpeg_quality: int = Field(90, ge=1, le=100)
    max_failure_fraction: float = Field(0.05, ge=0.0, le=1.0)
    mixture: MixtureSettings = Field(default_factory=MixtureSettings)
    modalities: ModalitySettings = Field(default_factory=ModalitySettings)
    generators: dict[str, Any] = Field(default_factory=dict)
    """Per-generator parameters, ``{name: {param: value}}``. The names are checked here; the values against each
    generator's ``Params`` by ``spatialladder.data.params.resolve_generator_params``, which build-data and
    ``config validate`` run before any work."""
    coldstart: ColdStartSettings = Field(default_factory=ColdStartSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    debias: DebiasSettings = Field(default_factory=DebiasSettings)

    @field_validator("generators", mode="before")
    @classmethod
    def _generator_names(cls, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise ValueError(f"expected a mapping of generator name → parameters, got {type(value).__name__}")
        for name, params in value.items():
            _known_generator(name)
            if params is not None and not isinstance(params, dict | BaseModel):
                raise ValueError(f"{name}: expected a mapping of parameter → value, got {type(params).__name__}")
        return value

    @model_validator(mode="after")
    def _frames_available(self) -> DataConfig:
        if self.modalities.video_frames > self.scannet.num_frames and self.scannet.frame_selection == "uniform":
            raise ValueError(
                f"modalities.video_frames ({self.modalities.video_frames}) exceeds scannet.num_frames "
                f"({self.scannet.num_frames}): video records draw from the scene's chosen frames"
            )
        return self
