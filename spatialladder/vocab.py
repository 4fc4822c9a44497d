"""The names every layer shares, each defined once: answer kinds, modalities, question types and their tables,
stage names, fidelity switch values, and the registry names configs are checked against.

Why one module: these vocabularies used to be spelt in several places that had drifted apart (three answer-kind
lists, four modality lists, two stage tables). Pure Python on purpose (only ``typing``), so the config layer can
validate against it without importing a registry, and every layer can import it.

Registries stay with their code (``questions.GENERATORS``, ``rewards.REWARDS``, ``eval.BENCHMARKS``);
``tests/test_vocab.py`` asserts that their keys equal the name lists here, so the two cannot drift.
"""

from __future__ import annotations

from typing import Literal, get_args

# --- answer kinds -----------------------------------------------------------------------------------------------

AnswerKind = Literal["mca", "na", "grounding"]
"""``mca`` multiple choice (an option letter), ``na`` numeric answer (scored by MRA), ``grounding`` 2D boxes with
labels (stage 1; scored by IoU)."""
ANSWER_KINDS: tuple[AnswerKind, ...] = get_args(AnswerKind)

ANSWER_KIND_ALIASES: dict[str, AnswerKind] = {"mc": "mca", "number": "na", "numeric": "na", "box": "grounding"}
"""Other spellings a GRPO row's ``answer_kind`` column may use (the rewards accept them; ``box`` is the grounding
kind's name in the official reward code)."""

VsiAnswerKind = Literal["mca", "na"]
"""The kinds VSI-Bench-style benchmarks have: what ``metrics.core.vsi_sample_score``, the VSI aggregate and the
lmms-eval prompt accept."""
VSI_ANSWER_KINDS: tuple[VsiAnswerKind, ...] = get_args(VsiAnswerKind)

PromptKind = Literal["mca", "na", "free"]
"""What a post prompt asks for: an option letter, a number, or a free answer (SPAR-Bench view-change only)."""
PROMPT_KINDS: tuple[PromptKind, ...] = get_args(PromptKind)


def answer_kind_of_options(options: object) -> VsiAnswerKind:
    """``mca`` when a question lists options, else ``na``: the one rule for a question's kind, since neither the
    released records nor the benchmarks carry an answer-kind field (a grounding answer is told apart earlier)."""
    return "mca" if options else "na"


def canonical_answer_kind(kind: str) -> AnswerKind | None:
    """``kind`` or its alias as one of ``ANSWER_KINDS``; None when it is neither (the caller names the error)."""
    if kind in ANSWER_KINDS:
        return kind  # type: ignore[return-value]
    return ANSWER_KIND_ALIASES.get(kind)


# --- modalities and data types ----------------------------------------------------------------------------------

DataType = Literal["single_image", "multi_view", "video"]
"""The official ``data_type`` of a SpatialLadder-26k spatial record (official-spatialladder.md §2.3)."""
DATA_TYPES: tuple[DataType, ...] = get_args(DataType)

DATA_TYPE_ALIASES: dict[str, DataType] = {
    "single image": "single_image",
    "image": "single_image",
    "multi view": "multi_view",
    "multi-view": "multi_view",
}
"""Other spellings the trainers accept in a record's ``data_type`` / ``modality`` (compared lower-cased)."""

Modality = Literal["localization", "single_image", "multi_view", "video"]
"""What build-data makes, in this order: grounding records (stage 1), then the three spatial data types."""
MODALITIES: tuple[Modality, ...] = get_args(Modality)

LOCALIZATION = "localization"
"""The stage-1 modality, its generator's name and the ``vsi_question_type`` of its records."""

# --- question types ---------------------------------------------------------------------------------------------

VSI_DIRECTION_SUBTYPES: tuple[str, str, str] = (
    "object_rel_direction_easy",
    "object_rel_direction_medium",
    "object_rel_direction_hard",
)
VSI_DIRECTION_TYPE = "object_rel_direction"
"""The merged direction row of VSI-Bench's results table (the mean of the three subtypes), and SPBench's own
single direction type."""

VSI_QUESTION_TYPES: tuple[str, ...] = (
    "object_counting",
    "object_size_estimation",
    "room_size_estimation",
    "object_abs_distance",
    "object_rel_distance",
    *VSI_DIRECTION_SUBTYPES,
    "obj_appearance_order",
    "route_planning",
)
"""VSI-Bench's ``question_type`` values (vsibench-spbench-scannet.md §1.2); each has a generator of that name."""

ANSWER_KIND_OF_VSI_TYPE: dict[str, VsiAnswerKind] = {
    "object_counting": "na",
    "object_size_estimation": "na",
    "room_size_estimation": "na",
    "object_abs_distance": "na",
    "object_rel_distance": "mca",
    **{t: "mca" for t in VSI_DIRECTION_SUBTYPES},
    VSI_DIRECTION_TYPE: "mca",
    "obj_appearance_order": "mca",
    "route_planning": "mca",
}
"""VSI-Bench ``MCA_QUESTION_TYPES`` / ``NA_QUESTION_TYPES`` (lmms-eval vsibench utils), plus the merged direction
type that SPBench uses."""

SpldQuestionType = Literal[
    "relative direction",
    "relative distance",
    "appearance order",
    "object size",
    "room size",
    "object count",
    "absolute distance",
    "route planning",
]
"""A SpatialLadder-26k spatial record's ``question_type`` (official-spatialladder.md §2.3); ``route planning`` is
ours (VSI's route questions were hand-written and SpatialLadder-26k has none)."""
SPLD_QUESTION_TYPE_NAMES: tuple[SpldQuestionType, ...] = get_args(SpldQuestionType)

SPLD_QUESTION_TYPES: dict[str, SpldQuestionType] = {
    "object_rel_direction_easy": "relative direction",
    "object_rel_direction_medium": "relative direction",
    "object_rel_direction_hard": "relative direction",
    "object_rel_distance": "relative distance",
    "obj_appearance_order": "appearance order",
    "object_size_estimation": "object size",
    "room_size_estimation": "room size",
    "object_counting": "object count",
    "object_abs_distance": "absolute distance",
    "route_planning": "route planning",
}
"""VSI-Bench question_type → SpatialLadder-26k training question_type (official-spatialladder.md §2.3, §7)."""

OFFICIAL_SPLD_ANSWER_KINDS: dict[str, VsiAnswerKind] = {
    SPLD_QUESTION_TYPES[vsi]: ANSWER_KIND_OF_VSI_TYPE[vsi] for vsi in SPLD_QUESTION_TYPES if vsi != "route_planning"
}
"""The official GRPO ``accu_reward_method`` per training ``question_type`` (official-spatialladder.md §5.1):
relative direction / distance and appearance order are MCA, the four size/count/distance types NA. Route planning
is not in the official table (a record's options decide)."""

FRAME_DEPENDENT_VSI_TYPES: frozenset[str] = frozenset({"obj_appearance_order"})
"""Question types whose answer is read off the frames the record lists: build-data computes first appearances over
exactly those frames (``modalities.appearance_from: shown_frames``), so a category first seen in a dropped frame can
tie or swap places in the order. Every other type is a property of the scene (counts, distances, sizes, room size,
directions), whatever frames are shown. So a video record of one is never subsampled by the trainers."""
FRAME_DEPENDENT_SPLD_TYPES: frozenset[str] = frozenset(SPLD_QUESTION_TYPES[t] for t in FRAME_DEPENDENT_VSI_TYPES)
"""The same types under their SpatialLadder-26k ``question_type`` names (``appearance order``)."""


def is_frame_dependent(question_type: object, vsi_question_type: object = None) -> bool:
    """Whether a record of this SpatialLadder-26k ``question_type`` (or VSI ``vsi_question_type``, which
    build-data records also carry) has an answer that depends on which of its frames are shown."""
    return vsi_question_type in FRAME_DEPENDENT_VSI_TYPES or str(question_type) in FRAME_DEPENDENT_SPLD_TYPES


_SINGLE_IMAGE_TYPES = ("object_abs_distance", "object_size_estimation", "object_rel_distance", *VSI_DIRECTION_SUBTYPES)
_MULTI_VIEW_TYPES = (*_SINGLE_IMAGE_TYPES, "object_counting")
MODALITY_QUESTION_TYPES: dict[str, tuple[str, ...]] = {
    "single_image": _SINGLE_IMAGE_TYPES,
    "multi_view": _MULTI_VIEW_TYPES,
    "video": (*_MULTI_VIEW_TYPES, "room_size_estimation", "obj_appearance_order"),
}
"""The VSI question types each spatial data type of SpatialLadder-26k asks (official-spatialladder.md §2.1): the
build-data defaults. Route planning is off by default (the paper has none)."""

SPBENCH_QUESTION_TYPES: dict[str, str] = {
    "object_rel_direction_easy": VSI_DIRECTION_TYPE,
    "object_rel_direction_medium": VSI_DIRECTION_TYPE,
    "object_rel_direction_hard": VSI_DIRECTION_TYPE,
    "object_rel_distance": "object_rel_distance",
    "object_counting": "object_counting",
    "object_abs_distance": "object_abs_distance",
    "object_size_estimation": "object_size_estimation",
}
"""VSI question types → SPBench's names (SPBench has one direction type and no room size / appearance order)."""

# --- registries: the names configs are checked against ---------------------------------------------------------

GENERATOR_NAMES: tuple[str, ...] = (*VSI_QUESTION_TYPES, LOCALIZATION)
"""``spatialladder.questions.GENERATORS`` keys: one generator per VSI question type, plus localization."""

REWARD_NAMES: tuple[str, ...] = ("format", "accuracy", "iou")
"""``spatialladder.rewards.REWARDS`` keys."""

BENCHMARK_NAMES: tuple[str, ...] = (
    "vsibench",
    "vsibench-debiased",
    "spbench-si",
    "spbench-mv",
    "cvbench",
    "sparbench",
    "viewspatial",
    "mmsi",
    "mindcube",
)
"""``spatialladder.eval.BENCHMARKS`` keys."""
BENCHMARK_ALIASES: dict[str, str] = {"vsi": "vsibench", "vsi-debiased": "vsibench-debiased"}
VSI_BENCHMARKS: tuple[str, ...] = ("vsibench", "vsibench-debiased")
"""The VSI-Bench question sets: the full set and VSI-Bench-Debiased, scored with the same prompts and rules."""

# --- stages -----------------------------------------------------------------------------------------------------

Stage = Literal["localization", "spatial", "coldstart", "grpo"]
"""The rungs of the ladder, in ladder order (stage 1, stage 2, cold start, stage 3)."""
STAGES: tuple[Stage, ...] = get_args(Stage)

SftStage = Literal["localization", "spatial", "coldstart"]
"""The supervised rungs (``kind: sft`` configs)."""
SFT_STAGES: tuple[SftStage, ...] = get_args(SftStage)

STAGE_ALIASES: dict[str, Stage] = {"1": "localization", "2": "spatial", "cs": "coldstart", "3": "grpo"}
"""``train --stage`` short names; a full stage name is accepted too, and ``all`` runs the ladder."""
ALL_STAGES = "all"

RecordKind = Literal["grounding", "spatial", "coldstart"]
"""The three SpatialLadder-26k files: grounding (stage 1), spatial (stages 2 and 3), cold start."""
RECORD_KINDS: tuple[RecordKind, ...] = get_args(RecordKind)
RECORD_FILES: dict[str, str] = {
    "grounding": "spld_grounding_data.jsonl",
    "spatial": "spld_spatial_data.jsonl",
    "coldstart": "spld_coldstart_data.jsonl",
}
RECORD_KIND_OF_STAGE: dict[str, RecordKind] = {
    "localization": "grounding",
    "spatial": "spatial",
    "coldstart": "coldstart",
    "grpo": "spatial",
}
"""Which file each stage trains on (stage 3 reuses stage 2's spatial records, official-spatialladder.md §2.3)."""

STAGE_DIRS: dict[str, Stage] = {
    "stage1": "localization",
    "stage2": "spatial",
    "coldstart": "coldstart",
    "stage3": "grpo",
}
"""Output folder name → stage, as the demo (and the README's examples) name each rung's model."""


def canonical_stage(name: str) -> Stage | None:
    """A stage name or its ``train --stage`` alias as the stage name; None when it is neither."""
    if name in STAGES:
        return name  # type: ignore[return-value]
    return STAGE_ALIASES.get(name)


# --- fidelity switches and protocol names -----------------------------------------------------------------------

PromptFidelity = Literal["fixed", "official"]
"""``official`` reproduces the reference code's prompt text byte for byte, drift included; ``fixed`` removes the
drift (``spatialladder.prompts``)."""
PROMPT_FIDELITIES: tuple[PromptFidelity, ...] = get_args(PromptFidelity)

ImageResize = Literal["once", "official"]
"""``official``: images go through qwen-vl-utils' ``fetch_image`` before the processor resizes again, as the
official trainers; ``once``: the processor alone."""

FrameDependent = Literal["keep_all", "error"]
"""What a trainer does with a frame-dependent video record that ``data.video_frames`` would subsample."""

PromptStyle = Literal["lmms", "direct", "thinking"]
"""Evaluation prompt protocols: lmms-eval's VSI-Bench text, SpatialLadder's direct and thinking texts."""
PROMPT_STYLES: tuple[PromptStyle, ...] = get_args(PromptStyle)

ScoringProfile = Literal["vsibench-2024", "lmms-eval", "spatialladder"]
"""Numeric-answer parsers of the three harnesses (they give different scores; results record which)."""
SCORING_PROFILES: tuple[ScoringProfile, ...] = get_args(ScoringProfile)

DirectionMerge = Literal["present", "official", "tis"]
"""How the three relative-direction subtypes merge into one table row (``metrics.aggregate.merge_rel_direction``)."""
DIRECTION_MERGES: tuple[DirectionMerge, ...] = get_args(DirectionMerge)

DistanceMethod = Literal["vsi_grid", "exact"]
"""How object distances are measured (``scannet.geometry``): VSI-Bench's box point sample (default) or the exact
closest distance."""
DISTANCE_METHODS: tuple[DistanceMethod, ...] = get_args(DistanceMethod)

InputProtocol = Literal["official", "direct", "lmms-eval-qwen3_vl", "lmms-eval-qwen3_5"]
"""How a benchmark's frames and images reach the model at evaluation (``spatialladder.eval.inputs``): ``official``
the SpatialLadder harness (Qwen2.5-VL's protocol), ``direct`` straight to the processor, ``lmms-eval-qwen3_vl`` /
``lmms-eval-qwen3_5`` as lmms-eval's Qwen3-VL / Qwen3.5 wrappers feed those families. Each model family names its
own (``ModelFamily.eval_protocol``), the default of an eval config that sets none."""
INPUT_PROTOCOLS: tuple[InputProtocol, ...] = get_args(InputProtocol)

VideoTime = Literal["mrope", "timestamps"]
"""How a model family tells video time (``ModelFamily.video_time``): ``mrope``, time in the rope's T axis through
``second_per_grid_ts`` (Qwen2.5-VL); ``timestamps``, one ``<t seconds>`` text stamp per temporal patch from the
video's metadata and a T axis of 1 per patch (Qwen3-VL, Qwen3.5). The one rule: ``spatialladder/media.py``."""
VIDEO_TIMES: tuple[VideoTime, ...] = get_args(VideoTime)

# --- VSI-Bench display names ------------------------------------------------------------------------------------

VSI_DISPLAY_NAMES: dict[str, dict[str, str]] = {
    "scannet": {},
    "scannetpp": {"coat hanger": "coat rack"},
    "arkitscenes": {},
}
"""Meta-info category → the name VSI-Bench's questions print, per source (a scene's ``dataset``), for the
categories whose names differ; docs/fidelity.md "VSI wording" gives the evidence per row.

Why: the released meta-info (thinking-in-space ``data/meta_info/*_meta_info_val.json``, 51e089c) already carries
the generator's own renames (VITA-Group/VLM-3R 6dd1264 ``vlm_3r_data_process/src/utils/scannetpp_utils.py``
``CATE_MAPPER``: ceiling lamp → ceiling light, mouse → computer mouse, office chair → chair;
``arkitscenes_utils.py`` ``CATE_MAPPER``: tv_monitor → tv), and its question scripts print the meta's name. Yet
VSI-Bench's ScanNet++ question on scene 38d58a7a31 names the meta's ``coat hanger`` "coat rack" (issue 20's report
of the released test set; no published mapping). ScanNet's names already match (tests), and no ARKitScenes rename
is known. A source missing here, or a category missing from its table, keeps the meta's name."""


def vsi_display_name(dataset: str, category: str) -> str:
    """The name a generated question prints for ``category`` of a scene from ``dataset`` (VSI-Bench's wording)."""
    return VSI_DISPLAY_NAMES.get(dataset, {}).get(category, category)
