"""spatialladder.vocab is the one home of the shared names: the registries and tables built elsewhere must agree
with it exactly, so a new generator, reward, benchmark or stage cannot be added in one place only."""

from __future__ import annotations

import subprocess
import sys
from typing import get_args

import pytest

from spatialladder import vocab


def test_question_generator_registry_equals_the_vocab() -> None:
    from spatialladder.questions import GENERATORS

    assert tuple(GENERATORS) == vocab.GENERATOR_NAMES
    assert set(vocab.SPLD_QUESTION_TYPES) == set(vocab.VSI_QUESTION_TYPES)
    assert set(vocab.SPLD_QUESTION_TYPES.values()) == set(vocab.SPLD_QUESTION_TYPE_NAMES)


def test_reward_registry_equals_the_vocab() -> None:
    from spatialladder.rewards import REWARDS

    assert tuple(REWARDS) == vocab.REWARD_NAMES


def test_benchmark_registry_and_aliases_equal_the_vocab() -> None:
    from spatialladder.eval import BENCHMARKS, get_benchmark

    assert tuple(BENCHMARKS) == vocab.BENCHMARK_NAMES
    for alias, name in vocab.BENCHMARK_ALIASES.items():
        assert get_benchmark(alias) is BENCHMARKS[name]


def test_parsers_prompts_and_configs_use_the_vocab_names() -> None:
    from spatialladder.config.eval import EvalConfig
    from spatialladder.config.ladder import LadderConfig
    from spatialladder.config.schema import model_for_kind
    from spatialladder.metrics.core import NUMBER_PARSERS

    assert tuple(NUMBER_PARSERS) == vocab.SCORING_PROFILES
    assert get_args(EvalConfig.model_fields["scoring"].annotation)[0] is vocab.ScoringProfile
    assert [f for f in LadderConfig.model_fields if f not in ("kind", "base_model")] == list(vocab.STAGES)
    assert get_args(model_for_kind("sft").model_fields["stage"].annotation) == vocab.SFT_STAGES
    assert vocab.SFT_STAGES == vocab.STAGES[:3]


def test_answer_kind_subsets_and_aliases() -> None:
    """One vocabulary of answer kinds; every layer's narrower set is an explicit subset of it."""
    assert vocab.ANSWER_KINDS == ("mca", "na", "grounding")
    assert set(vocab.VSI_ANSWER_KINDS) < set(vocab.ANSWER_KINDS)
    assert set(vocab.PROMPT_KINDS) - set(vocab.ANSWER_KINDS) == {"free"}
    assert set(vocab.ANSWER_KIND_ALIASES.values()) <= set(vocab.ANSWER_KINDS)
    assert not set(vocab.ANSWER_KIND_ALIASES) & set(vocab.ANSWER_KINDS)
    assert [vocab.canonical_answer_kind(k) for k in ("mca", "mc", "numeric", "box", "grounding", "bbox")] == [
        "mca",
        "mca",
        "na",
        "grounding",
        "grounding",
        None,
    ]
    assert set(vocab.ANSWER_KIND_OF_VSI_TYPE.values()) == set(vocab.VSI_ANSWER_KINDS)


def test_official_training_answer_kinds() -> None:
    """official-spatialladder.md §5.1 (``accu_reward_method``), byte for byte; route planning is ours, not listed."""
    assert vocab.OFFICIAL_SPLD_ANSWER_KINDS == {
        "relative direction": "mca",
        "relative distance": "mca",
        "appearance order": "mca",
        "object size": "na",
        "room size": "na",
        "object count": "na",
        "absolute distance": "na",
    }
    assert vocab.FRAME_DEPENDENT_SPLD_TYPES == {"appearance order"}


def test_modalities_and_their_default_question_types() -> None:
    assert vocab.MODALITIES == (vocab.LOCALIZATION, *vocab.DATA_TYPES)
    assert tuple(vocab.MODALITY_QUESTION_TYPES) == vocab.DATA_TYPES
    for types in vocab.MODALITY_QUESTION_TYPES.values():
        assert set(types) <= set(vocab.VSI_QUESTION_TYPES) and "route_planning" not in types
    assert set(vocab.MODALITY_QUESTION_TYPES["video"]) == set(vocab.VSI_QUESTION_TYPES) - {"route_planning"}
    assert set(vocab.DATA_TYPE_ALIASES.values()) <= set(vocab.DATA_TYPES)


def test_stages_aliases_files_and_folders() -> None:
    assert [vocab.canonical_stage(s) for s in ("1", "2", "cs", "3", "spatial", "4")] == [
        "localization",
        "spatial",
        "coldstart",
        "grpo",
        "spatial",
        None,
    ]
    assert set(vocab.STAGE_DIRS.values()) == set(vocab.STAGES) == set(vocab.RECORD_KIND_OF_STAGE)
    assert set(vocab.RECORD_KIND_OF_STAGE.values()) <= set(vocab.RECORD_KINDS) == set(vocab.RECORD_FILES)

    from spatialladder.records import FILES

    assert {kind: name for kind, (name, _) in FILES.items()} == vocab.RECORD_FILES


def test_vocab_imports_nothing_of_ours_or_third_party() -> None:
    code = (
        "import sys; before = set(sys.modules); import spatialladder.vocab; "
        "new = sorted(m for m in set(sys.modules) - before if m not in ('spatialladder', 'spatialladder.vocab')); "
        "bad = [m for m in new if m.split('.')[0] not in sys.stdlib_module_names]; print(bad); sys.exit(bool(bad))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("kind", ["mca", "na", "grounding", "mc", "number", "numeric", "box"])
def test_rewards_accept_every_kind_and_alias(kind: str) -> None:
    from spatialladder.rewards import normalize_answer_kind

    assert normalize_answer_kind(kind) == vocab.canonical_answer_kind(kind)
