"""MMSI-Bench (``RunsenXu/MMSI-Bench``): 1,000 human-written multi-image MC questions; accuracy over samples.

Layout: ``<data>/MMSI_Bench.parquet`` with ``id, images`` (a list of encoded image bytes), ``question_type,
question`` (options embedded), ``answer`` (a letter). Source of prompt and extraction: the benchmark's README
(``InternRobotics/MMSI-Bench``): post prompt ``MMSI_POST`` and ``extract_single_choice_with_word_boundary``.
"""

from __future__ import annotations

import re
from pathlib import Path

from spatialladder.eval.base import (
    BenchmarkSpec,
    EvalSample,
    accuracy_over_samples,
    image_bytes_list,
    read_parquet_rows,
    require_files,
)
from spatialladder.prompts import mmsi_user_text

FILE = "MMSI_Bench.parquet"
LAYOUT = f"  <data>/{FILE}   (columns: id, images (list of bytes), question_type, question, answer)"
COLUMNS = ("id", "images", "question_type", "question", "answer")

_DOUBLE_TICKS = re.compile(r"``([^`]*)``")
_SINGLE_TICKS = re.compile(r"`([^`]*)`")
_BRACES = re.compile(r"\{([^}]*)\}")
_LETTER = re.compile(r"\b[A-D]\b(?!\s[a-zA-Z])")


def extract_choice(text: str) -> str | None:
    """MMSI-Bench extraction: narrow to ````X````, then ```X```, then ``{X}`` when present, then the first standalone
    ``A``-``D`` not followed by a space and a word; None when there is none (the official then asks an LLM judge,
    which we do not run: such outputs count as unparsed and wrong)."""
    for pattern in (_DOUBLE_TICKS, _SINGLE_TICKS, _BRACES):
        match = pattern.search(text)
        if match:
            text = match.group(1)
    match = _LETTER.search(text)
    return match.group() if match else None


def load(data_dir: Path, media: bool = True) -> list[EvalSample]:
    """Images are bytes inside the question file, so ``media`` changes nothing here."""
    (path,) = require_files(data_dir, [FILE], "mmsi", LAYOUT)
    return [
        EvalSample(
            id=str(row["id"]),
            question_type=str(row["question_type"]),
            question=str(row["question"]),
            ground_truth=str(row["answer"]),
            kind="mca",
            images=image_bytes_list(row["images"], f"{path} row {i}"),
        )
        for i, row in enumerate(read_parquet_rows(path, COLUMNS, "mmsi"))
    ]


def score(pred: str, sample: EvalSample, profile: str) -> tuple[float, bool]:
    """Official rule: ``gt.lower().strip() == letter.lower()[0]``."""
    letter = extract_choice(pred)
    if letter is None:
        return 0.0, False
    answer = sample.ground_truth.lower().replace("\n", " ").strip()
    return (1.0 if answer == letter.lower()[0] else 0.0), True


SPEC = BenchmarkSpec(
    name="mmsi",
    description="MMSI-Bench: 1,000 multi-image spatial MC questions, 11 types; accuracy over samples.",
    layout=LAYOUT,
    load=load,
    score=score,
    aggregate=accuracy_over_samples,
    direct_text=lambda sample: mmsi_user_text(sample.question),
)
