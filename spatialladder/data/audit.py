"""The shortcut audit: how much of our generated QA a model could answer from the text alone.

TsT ("Benchmark Designers Should 'Train on the Test Set'", arXiv 2511.04655; vision-x-nyu/test-set-training)
showed that VSI-Bench is partly solvable without vision from answer priors and question patterns. This module
asks the same of any SpatialLadder-format JSONL: per (file, modality, question type), non-visual predictors are
trained on the text of the other scenes and scored on the held-out scenes (sklearn ``GroupKFold`` over scene keys,
so no scene is in both train and test folds), with the VSI rules (accuracy for multiple choice, MRA for numbers:
``spatialladder.metrics.core``):

- **majority**: the most frequent gold option letter (MC) or the median answer (NA) of the training folds;
- **forest**: TsT's lightweight diagnostic, a random forest on hand-crafted non-visual features fitted on the
  training folds only (TsT ``src/TsT/evaluators/rf.py`` @472257c: ``RandomForestClassifier(n_estimators=100)`` /
  ``RandomForestRegressor(n_estimators=200)``, feature maps fitted on train only, unseen categories → -1; its
  VSI-Bench features in ``src/TsT/benchmarks/vsi/models.py`` @06d7503: object names and their answer statistics,
  per-option gold frequencies ``opt_i_option_freq``, option positions). Ours are generic over our templates, see
  :func:`_na_features` and :func:`_mc_features`;
- **chance**: MC, ``1 / #options`` averaged over the records; NA, :func:`na_chance`.

A row is ``flagged`` when ``max(majority, forest) - chance > margin_pp``. Grounding and cold-start records are
counted in rows that are not audited, with the reason (see ``docs/fidelity.md``).
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from spatialladder.errors import DataFormatError
from spatialladder.metrics.core import exact_match, mean_relative_accuracy, to_float
from spatialladder.records import TrainingRecord, read_jsonl, write_atomic

logger = logging.getLogger(__name__)

LETTERS = "ABCDEFGHIJ"
MAX_OPTIONS = 6
"""Option positions the MC forest sees (VSI-Bench asks at most 4)."""
GROUNDING_REASON = "grounding: a box answer, not a VSI answer (no accuracy/MRA rule); not audited"
COLDSTART_REASON = "cold start: restates spatial questions inside a prompt; audit the spatial file"
_SCENE_RE = re.compile(r"scene\d{4}_\d{2}")
_OPTION_LABEL = re.compile(r"^\s*[A-Za-z][.)]\s*")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_WORD = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class Item:
    """One spatial question as the audit sees it: text, options, answer and the scene it was asked about."""

    file: str
    modality: str
    question_type: str
    scene: str
    question: str
    options: tuple[str, ...] | None
    answer: str

    @property
    def kind(self) -> str:
        return "mc" if self.options else "na"


@dataclass
class GroupScores:
    """Out-of-fold per-sample scores (0..1) of one (file, modality, type, kind) group, or why there are none."""

    n: int
    n_scenes: int
    folds: int = 0
    chance: float = 0.0
    majority: np.ndarray | None = None
    forest: np.ndarray | None = None
    forest_bias: np.ndarray | None = None
    """TsT's per-sample bias score s(x): the forest's P(gold) for MC, the MRA of its prediction for NA."""
    reason: str | None = None

    @property
    def best(self) -> tuple[str, np.ndarray]:
        """The predictor with the higher mean score and its per-sample bias scores (ties: the forest)."""
        assert self.majority is not None and self.forest is not None and self.forest_bias is not None
        if self.majority.mean() > self.forest.mean():
            return "majority", self.majority
        return "forest", self.forest_bias

    def gap_pp(self) -> float:
        """Best non-visual score minus chance, in percentage points."""
        assert self.majority is not None and self.forest is not None
        return 100.0 * (max(self.majority.mean(), self.forest.mean()) - self.chance)


@lru_cache(maxsize=1)
def na_chance() -> float:
    """Chance for a numeric answer under MRA: the expected MRA of a guess that knows only the answer's order of
    magnitude, ``guess = truth × 10**u`` with ``u`` uniform on [-½, ½] (a 1,001-point grid), 0.2509.

    MRA depends on ``guess / truth`` only, so this is the same for every type and unit, as ``1 / #options`` is for
    multiple choice; unlike a guess drawn from the type's own answers it does not rise to 100 when every answer is
    the same (the shortcut it must expose). VSI-Bench defines no random chance for numbers (its table's
    "Chance Level (Random)" row is blank in the numeric columns: Thinking in Space, arXiv 2412.14171, Table 1; its
    "Chance Level (Frequency)" row is our majority predictor)."""
    return float(np.mean([mean_relative_accuracy(10.0**u, 1.0) for u in np.linspace(-0.5, 0.5, 1001)]))


def option_text(option: str) -> str:
    """``"B. left"`` → ``"left"`` (the label VSI-style options carry is position, not content)."""
    return _OPTION_LABEL.sub("", option, count=1).strip().lower()


def question_key(question: str) -> str:
    """The question lower-cased with numbers replaced by ``#``: one key per template × named categories."""
    return _NUMBER.sub("#", " ".join(question.lower().split()))


def scene_key(raw: dict[str, Any], images: Sequence[str]) -> tuple[str, str]:
    """(scene key, how it was found): ``scene_id`` when the record has one (ours); else the ScanNet id (``scene``,
    4 digits, ``_``, 2 digits) in the first image path (the released SpatialLadder-26k: ``scene0000_00/820.jpg``);
    else the first image's folder; else the image path itself (each record its own group)."""
    if raw.get("scene_id"):
        return str(raw["scene_id"]), "scene_id"
    first = str(images[0]) if images else ""
    match = _SCENE_RE.search(first)
    if match:
        return match.group(0), "ScanNet id in the image path"
    parent = Path(first).parent.name
    if parent:
        return parent, "image folder"
    return first, "image path (no folder: one record per group)"


# --- features (fitted on the training folds only, as TsT does) ----------------------------------------------------


def _numbers(text: str) -> list[float]:
    return [float(x) for x in _NUMBER.findall(text)]


@dataclass(frozen=True)
class _Text:
    key: str
    tokens: tuple[str, ...]
    n_numbers: int
    first_number: float
    length: int


def _text(question: str) -> _Text:
    numbers = _numbers(question)
    tokens = tuple(sorted(set(_WORD.findall(question.lower()))))
    return _Text(question_key(question), tokens, len(numbers), numbers[0] if numbers else -1.0, len(question.split()))


def _na_features(texts: list[_Text], logs: np.ndarray, train: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """NA features after TsT's numeric models (``ObjCountModel``, ``ObjAbsDistModel``, ``ObjSizeEstModel``): the
    training folds' log-answer mean and spread globally, per question key (template × named objects) and per word
    of the question (the object names, wherever the template puts them), plus the numbers and length of the text."""
    g_mean, g_std = float(logs[train].mean()), float(logs[train].std())
    by_key: dict[str, list[float]] = defaultdict(list)
    by_token: dict[str, list[float]] = defaultdict(list)
    for i in train:
        by_key[texts[i].key].append(logs[i])
        for tok in texts[i].tokens:
            by_token[tok].append(logs[i])
    key_stats = {k: (len(v), float(np.mean(v)), float(np.std(v))) for k, v in by_key.items()}
    tok_mean = {k: float(np.mean(v)) for k, v in by_token.items()}
    out = np.empty((len(rows), 10))
    for r, i in enumerate(rows):
        t = texts[i]
        count, mean, std = key_stats.get(t.key, (0, g_mean, g_std))
        means = [tok_mean[tok] for tok in t.tokens if tok in tok_mean] or [g_mean]
        out[r] = [g_mean, count, mean, std, np.mean(means), min(means), max(means), t.n_numbers, t.first_number,
                  t.length]  # fmt: skip
    return out


def _mc_features(
    texts: list[_Text], options: list[list[str]], gold: list[int], train: np.ndarray, rows: np.ndarray
) -> np.ndarray:
    """MC features after TsT's MC models (``RelDistanceModel``'s ``opt_i_option_freq``, ``RoutePlanningModel``'s
    option columns): per option position, the training folds' rate at which that option text was the gold one,
    how often it was offered, its label code (unseen: -1), length and number; plus the option count and the
    question's numbers and length. Absent positions are -2."""
    gold_count: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    for i in train:
        seen.update(options[i])
        gold_count[options[i][gold[i]]] += 1
    codes = {text: c for c, text in enumerate(sorted(seen))}
    width = 5
    out = np.full((len(rows), 4 + width * MAX_OPTIONS), -2.0)
    for r, i in enumerate(rows):
        t = texts[i]
        out[r, :4] = [len(options[i]), t.n_numbers, t.first_number, t.length]
        for p, text in enumerate(options[i][:MAX_OPTIONS]):
            n_seen = seen.get(text, 0)
            numbers = _numbers(text)
            out[r, 4 + width * p : 4 + width * (p + 1)] = [
                gold_count.get(text, 0) / n_seen if n_seen else -1.0,
                n_seen,
                codes.get(text, -1),
                len(text.split()),
                numbers[0] if numbers else -1.0,
            ]
    return out


# --- cross-validation -------------------------------------------------------------------------------------------


def cross_validate(items: Sequence[Item], folds: int, seed: int, trees: int = 100) -> GroupScores:
    """Out-of-fold scores of the majority and forest predictors on one group (all MC or all NA).

    Folds: ``GroupKFold(min(folds, scenes), shuffle=True, random_state=seed)`` over scene keys; a group of one
    scene cannot be split and is returned with a reason. Deterministic: fixed seeds, ``n_jobs=1``."""
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.model_selection import GroupKFold

    n = len(items)
    scenes = sorted({it.scene for it in items})
    out = GroupScores(n=n, n_scenes=len(scenes))
    if len(scenes) < 2:
        out.reason = f"{len(scenes)} scene: scene-grouped folds need at least 2"
        return out
    out.folds = k = min(folds, len(scenes))
    scene_code = {s: c for c, s in enumerate(scenes)}
    groups = np.array([scene_code[it.scene] for it in items])
    texts = [_text(it.question) for it in items]
    majority, forest, bias = np.zeros(n), np.zeros(n), np.zeros(n)
    mc = items[0].kind == "mc"
    if mc:
        options = [[option_text(o) for o in it.options or ()] for it in items]
        gold = [LETTERS.index(it.answer.strip().upper()) for it in items]
        out.chance = float(np.mean([1.0 / len(o) for o in options]))
    else:
        answers = np.array([float(to_float(it.answer)) for it in items])  # type: ignore[arg-type]
        logs = np.log10(np.abs(answers) + 1.0)
        out.chance = na_chance()
    splitter = GroupKFold(n_splits=k, shuffle=True, random_state=seed)
    for train, test in splitter.split(np.zeros((n, 1)), groups=groups):
        if mc:
            letters = Counter(gold[i] for i in train)
            top = min(letters, key=lambda c: (-letters[c], c))
            x_train, x_test = (_mc_features(texts, options, gold, train, rows) for rows in (train, test))
            clf = RandomForestClassifier(n_estimators=trees, random_state=seed, n_jobs=1)
            clf.fit(x_train, [gold[i] for i in train])
            proba = clf.predict_proba(x_test)
            classes = list(clf.classes_)
            for r, i in enumerate(test):
                target = LETTERS[gold[i]]
                majority[i] = exact_match(LETTERS[top], target)
                forest[i] = exact_match(LETTERS[int(classes[int(np.argmax(proba[r]))])], target)
                bias[i] = float(proba[r, classes.index(gold[i])]) if gold[i] in classes else 0.0
        else:
            median = float(np.median(answers[train]))
            x_train, x_test = (_na_features(texts, logs, train, rows) for rows in (train, test))
            reg = RandomForestRegressor(n_estimators=trees, random_state=seed, n_jobs=1)
            reg.fit(x_train, answers[train])
            predicted = reg.predict(x_test)
            for r, i in enumerate(test):
                majority[i] = mean_relative_accuracy(median, answers[i])
                forest[i] = bias[i] = mean_relative_accuracy(float(predicted[r]), answers[i])
    out.majority, out.forest, out.forest_bias = majority, forest, bias
    return out


# --- grouping, rows, reports ------------------------------------------------------------------------------------


def usable(item: Item) -> str | None:
    """Why an item cannot be scored (counted in ``skipped``), or None."""
    if item.options:
        label = item.answer.strip().upper()
        if len(label) != 1 or label not in LETTERS[: len(item.options)]:
            return "MC answer is not one of its option letters"
        return None
    value = to_float(item.answer)
    if value is None or not math.isfinite(value):
        return "numeric answer is not a number"
    return None


def group_items(items: Iterable[Item], skipped: Counter[str]) -> dict[tuple[str, str, str, str], list[int]]:
    """Positions of the usable items per (file, modality, question type, kind), in first-seen order."""
    groups: dict[tuple[str, str, str, str], list[int]] = {}
    for pos, item in enumerate(items):
        reason = usable(item)
        if reason:
            skipped[reason] += 1
            continue
        groups.setdefault((item.file, item.modality, item.question_type, item.kind), []).append(pos)
    return groups


def _pct(x: float) -> float:
    return round(100.0 * float(x), 2)


def row(key: tuple[str, str, str, str], scores: GroupScores, margin_pp: float) -> dict[str, Any]:
    """One audit row (the manifest's ``audit.rows`` contract), percentages rounded to 0.01."""
    file, modality, qtype, kind = key
    out: dict[str, Any] = {"file": file, "modality": modality, "question_type": qtype, "kind": kind,
                           "n": scores.n, "n_scenes": scores.n_scenes, "folds": scores.folds}  # fmt: skip
    if scores.reason is not None:
        return {**out, "chance": None, "majority": None, "forest": None, "flagged": False, "reason": scores.reason}
    assert scores.majority is not None and scores.forest is not None
    flagged = bool(scores.gap_pp() > margin_pp)
    return {**out, "chance": _pct(scores.chance), "majority": _pct(scores.majority.mean()),
            "forest": _pct(scores.forest.mean()), "flagged": flagged, "reason": None}  # fmt: skip


def not_audited_row(file: str, modality: str, qtype: str, n: int, n_scenes: int, reason: str) -> dict[str, Any]:
    """A row counted but not scored (kind ``box`` for grounding, ``-`` for cold start)."""
    return {"file": file, "modality": modality, "question_type": qtype, "kind": "box" if "grounding" in reason else "-",
            "n": n, "n_scenes": n_scenes, "folds": 0, "chance": None, "majority": None, "forest": None,
            "flagged": False, "reason": reason}  # fmt: skip


def audit_items(
    items: Sequence[Item],
    *,
    folds: int = 5,
    seed: int = 0,
    margin_pp: float = 10.0,
    trees: int = 100,
    extra_rows: Sequence[dict[str, Any]] = (),
    skipped: Counter[str] | None = None,
) -> dict[str, Any]:
    """The audit of ``items``: ``{"folds", "seed", "margin_pp", "na_chance", "rows", "skipped", "seconds"}``.

    Rows are sorted by (file, modality, question type, kind); ``extra_rows`` (not audited: grounding, cold start)
    join them. ``seconds`` is the only field that differs between two runs."""
    t0 = time.perf_counter()
    skipped = Counter() if skipped is None else skipped
    groups = group_items(items, skipped)
    rows = list(extra_rows)
    for key in sorted(groups):
        members = [items[p] for p in groups[key]]
        rows.append(row(key, cross_validate(members, folds, seed, trees), margin_pp))
    rows.sort(key=lambda r: (r["file"], r["modality"], r["question_type"], r["kind"]))
    return {"folds": folds, "seed": seed, "margin_pp": margin_pp, "na_chance": _pct(na_chance()), "rows": rows,
            "skipped": dict(sorted(skipped.items())), "seconds": round(time.perf_counter() - t0, 3)}  # fmt: skip


def items_from_records(kind: str, records: Sequence[Any]) -> list[Item]:
    """Audit items from build-data's strict spatial records (``SpatialRecord``)."""
    return [
        Item(
            kind,
            r.modality,
            r.vsi_question_type,
            r.scene_id,
            r.question,
            tuple(r.options) if r.options else None,
            r.answer,
        )  # fmt: skip
        for r in records
    ]


def audit_build(records: dict[str, list], *, folds: int, seed: int, margin_pp: float, trees: int) -> dict[str, Any]:
    """build-data's audit: the merged spatial records, and one not-audited row for the grounding records."""
    extra = []
    grounding = records.get("grounding", [])
    if grounding:
        n_scenes = len({r.scene_id for r in grounding})
        extra.append(not_audited_row("grounding", "localization", "localization", len(grounding), n_scenes,
                                     GROUNDING_REASON))  # fmt: skip
    items = items_from_records("spatial", records.get("spatial", []))
    return audit_items(items, folds=folds, seed=seed, margin_pp=margin_pp, trees=trees, extra_rows=extra)


# --- audit-data: any SpatialLadder-format JSONL -----------------------------------------------------------------


def read_items(path: Path) -> tuple[list[Item], list[dict[str, Any]], Counter[str], Counter[str]]:
    """Spatial items of one JSONL file read leniently (ours or the released SpatialLadder-26k), the not-audited
    rows for its grounding / cold-start records, skip counts and how each record's scene key was found."""
    items: list[Item] = []
    other: dict[tuple[str, str], list[str]] = defaultdict(list)
    skipped: Counter[str] = Counter()
    keys: Counter[str] = Counter()
    for lineno, raw in read_jsonl(path):
        rec = TrainingRecord.parse(raw, f"{path}:{lineno}")
        scene, how = scene_key(raw, rec.image)
        keys[how] += 1
        if rec.kind != "spatial":
            other[(rec.kind, rec.data_type)].append(scene)
            continue
        qtype = rec.vsi_question_type or rec.question_type
        if not qtype:
            raise DataFormatError(f"{path}:{lineno}: a spatial record without question_type (or vsi_question_type)")
        options = tuple(rec.options) if rec.options else None
        items.append(Item(path.name, rec.data_type, qtype, scene, rec.question or "", options, rec.answer or ""))
    extra = []
    for (kind, modality), scenes in sorted(other.items()):
        reason = GROUNDING_REASON if kind == "grounding" else COLDSTART_REASON
        qtype = "localization" if kind == "grounding" else "(cold start)"
        extra.append(not_audited_row(path.name, modality, qtype, len(scenes), len(set(scenes)), reason))
    return items, extra, skipped, keys


def run_audit_data(files: Sequence[Path], out_dir: Path, *, folds: int = 5, seed: int = 0,
                   margin_pp: float = 10.0, trees: int = 100) -> dict[str, Any]:  # fmt: skip
    """``spatialladder audit-data``: audit every file, write ``audit.json`` (byte-stable: no timing) and
    ``audit.md`` under ``out_dir``; returns the audit (with ``seconds``)."""
    if len({Path(f).name for f in files}) != len(files):
        raise DataFormatError(
            f"audit-data: two files share a name ({', '.join(map(str, files))}); rows are keyed by it"
        )
    items: list[Item] = []
    extra: list[dict[str, Any]] = []
    skipped: Counter[str] = Counter()
    keys: Counter[str] = Counter()
    for path in files:
        got, rows, skips, how = read_items(Path(path))
        items += got
        extra += rows
        skipped.update(skips)
        keys.update(how)
    audit = audit_items(items, folds=folds, seed=seed, margin_pp=margin_pp, trees=trees, extra_rows=extra,
                        skipped=skipped)  # fmt: skip
    audit["files"] = [str(f) for f in files]
    audit["scene_keys"] = dict(sorted(keys.items()))
    stable = {k: v for k, v in audit.items() if k != "seconds"}
    write_atomic(out_dir / "audit.json", json.dumps(stable, indent=2, ensure_ascii=False) + "\n")
    write_atomic(out_dir / "audit.md", "# Shortcut audit\n\n" + "\n".join(render_audit(audit)) + "\n")
    logger.info("audited %d records in %.1f s -> %s", len(items), audit["seconds"], out_dir)
    return audit


def render_audit(audit: dict[str, Any]) -> list[str]:
    """Markdown lines: the settings, one table row per audit row, what was skipped."""
    lines = [
        f"Non-visual predictors on the question text alone, scene-grouped {audit['folds']}-fold cross-validation "
        f"(seed {audit['seed']}); scores in % by the VSI rules (MC accuracy, NA MRA). Chance: MC 1/#options, NA "
        f"{audit.get('na_chance', _pct(na_chance()))} (a guess right to within ±½ order of magnitude). Flagged: "
        f"best non-visual score > chance + {audit.get('margin_pp', 10.0)} pp.",
        "",
        "| file | modality | question type | kind | n | scenes | chance | majority | forest | flagged |",
        "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in audit["rows"]:
        if r.get("reason"):
            scores = f"| {r['reason'].replace('|', '/')} | | | "
        else:
            scores = f"| {r['chance']:.1f} | {r['majority']:.1f} | {r['forest']:.1f} | "
        flag = "**yes**" if r["flagged"] else "no"
        lines.append(f"| {r['file']} | {r['modality']} | {r['question_type']} | {r['kind']} | {r['n']} | "
                     f"{r['n_scenes']} {scores}{flag if not r.get('reason') else '—'} |")  # fmt: skip
    for reason, count in (audit.get("skipped") or {}).items():
        lines += ["", f"Skipped {count} record(s): {reason}."]
    if audit.get("scene_keys"):
        lines += ["", "Scene keys: " + ", ".join(f"{how} ({n})" for how, n in audit["scene_keys"].items()) + "."]
    return lines
