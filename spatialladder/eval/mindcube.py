"""MindCube (``MLL-Lab/MindCube``): MC spatial questions over 2-4 views of a scene; accuracy over samples.

Layout (the released ``data.zip``): ``MindCube_tinybench.jsonl`` (the usual evaluation set) in ``<data>/`` or
``<data>/raw/``, one record per line with ``id, images`` (paths relative to ``<data>``, e.g.
``other_all_image/…``), ``question`` (options embedded) and ``gt_answer`` (a letter). The question type is the
setting read from the id (``around`` / ``rotation`` / ``translation`` / ``among`` / ``other``), as the official
evaluator groups it. Prompt and extraction: ``mll-lab-nu/MindCube`` ``RawQATemplate`` and
``src/evaluation/core/extractors.py extract_answer``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from spatialladder.errors import DataFormatError
from spatialladder.eval.base import BenchmarkSpec, EvalSample, accuracy_over_samples
from spatialladder.prompts import mindcube_raw_qa_text

FILE = "MindCube_tinybench.jsonl"
LAYOUT = (
    f"  <data>/{FILE}  or  <data>/raw/{FILE}   (keys: id, images, question, gt_answer)\n"
    "  <data>/<each path listed in images>   (e.g. other_all_image/…)"
)
KEYS = ("id", "images", "question", "gt_answer")
SETTINGS = ("around", "rotation", "translation", "among")


def setting_of(item_id: str) -> str:
    """Official ``get_setting_from_id``: the first setting name found in the lower-cased id, else ``other``."""
    lowered = item_id.lower()
    return next((s for s in SETTINGS if s in lowered), "other")


_SIMPLE = re.compile(r"([A-E])\.")
_ANSWER_SECTION = re.compile(r"<Answer>(.*?)(?:<|$)", re.DOTALL)
_SECTION_PATTERNS = tuple(
    re.compile(p)
    for p in (
        r"[Mm]y answer is ([A-E])",
        r"[Mm]y answer is ([A-E])\.",
        r"[Tt]he answer is ([A-E])",
        r"(?:Answer: )?([A-E])\.",
        r"\b([A-E])\b",
    )
)
_PATTERNS = tuple(
    re.compile(p)
    for p in (
        r"(?:Answer: )?([A-E])\. [A-Za-z0-9 \-\(\)\'\",]+(?=(?:\n|$|\.|\"))",
        r"(?:Answer: )?([A-E])\. [A-Za-z0-9 \-\(\)\'\"]+",
        r"(?:Answer: )?([A-E])(?:\.|$|\s)",
        r"(?:^|\n)(?:Answer: )?([A-E])(?:\.|$|\s)",
        r"[\*\"]([A-E])[\*\"]",
        r"\bAnswer:?\s*([A-E])\b",
        r"[Mm]y answer is ([A-E])",
        r"[Mm]y answer is ([A-E])\.",
        r"answer is ([A-E])",
    )
)
_LINE_FULL = re.compile(r"([A-E])\. [A-Za-z0-9 \-\(\)\'\",]+")
_LINE_LETTER = re.compile(r"\b([A-E])\b")


def extract_answer(text: str) -> str | None:
    """MindCube ``extract_answer``: patterns by priority, the *last* match of the first pattern that matches."""
    if not text:
        return None
    simple = _SIMPLE.findall(text)
    if simple:
        return simple[-1]
    section = _ANSWER_SECTION.search(text)
    if section:
        for pattern in _SECTION_PATTERNS:
            found = pattern.findall(section.group(1))
            if found:
                return found[-1]
    for pattern in _PATTERNS:
        found = pattern.findall(text)
        if found:
            return found[-1]
    lines = text.split("\n")
    full = [m.group(1) for m in (_LINE_FULL.search(line) for line in lines) if m]
    if full:
        return full[-1]
    for line in reversed(lines):
        match = _LINE_LETTER.search(line)
        if match:
            return match.group(1)
    return None


def _find_file(data_dir: Path) -> Path:
    if not data_dir.is_dir():
        raise DataFormatError(f"mindcube: data folder {data_dir} does not exist; expected layout:\n{LAYOUT}")
    for path in (data_dir / FILE, data_dir / "raw" / FILE):
        if path.is_file():
            return path
    present = sorted(p.name for p in data_dir.iterdir())[:20]
    raise DataFormatError(f"mindcube: missing {data_dir / FILE}; expected layout:\n{LAYOUT}\nfound: {present}")


def _resolve(data_dir: Path, jsonl: Path, raw: str) -> Path:
    """An image path relative to ``<data>`` (or to the folder above ``raw/``, where the release unpacks it)."""
    for base in (data_dir, jsonl.parent.parent):
        if (base / raw).is_file():
            return base / raw
    return data_dir / raw


def load(data_dir: Path, media: bool = True) -> list[EvalSample]:
    path = _find_file(data_dir)
    samples = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataFormatError(f"{where}: not valid JSON ({exc})") from None
        missing = [k for k in KEYS if k not in rec]
        if missing:
            raise DataFormatError(f"{where}: missing keys {missing}; expected {list(KEYS)}")
        images = tuple(_resolve(data_dir, path, str(p)) for p in rec["images"])
        absent = [str(p) for p in images if not p.is_file()] if media else []
        if absent or not images:
            raise DataFormatError(
                f"{where}: image files not found: {absent[:3] or 'none listed'}; expected layout:\n{LAYOUT}"
            )
        samples.append(
            EvalSample(
                id=str(rec["id"]),
                question_type=setting_of(str(rec["id"])),
                question=str(rec["question"]),
                ground_truth=str(rec["gt_answer"]).strip(),
                kind="mca",
                images=images,
            )
        )
    return samples


def score(pred: str, sample: EvalSample, profile: str) -> tuple[float, bool]:
    letter = extract_answer(pred)
    if letter is None:
        return 0.0, False
    return (1.0 if letter == sample.ground_truth else 0.0), True


SPEC = BenchmarkSpec(
    name="mindcube",
    description="MindCube tinybench: MC questions over 2-4 views (around/rotation/among); accuracy over samples.",
    layout=LAYOUT,
    load=load,
    score=score,
    aggregate=accuracy_over_samples,
    direct_text=lambda sample: mindcube_raw_qa_text(sample.question),
)
