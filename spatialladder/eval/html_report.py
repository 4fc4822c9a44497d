"""``results.html``: a scored run to look at, not only to read numbers from.

Beside ``results.md`` (same stem): the per-task scores (with the per-source and vision-gain columns when the results
carry them), for each multiple-choice task the confusion of gold × predicted option letters, and a seeded gallery of
wrong answers with the frames the model saw (the run's own frame sampler, so the same indices), its raw output, the
answer scored and the ground truth.

Static and self-contained in the output folder: no script, no server, no network. Thumbnails are JPEG files in a
folder beside the page (``<stem>_files/``), not data URIs: a page over 24 questions × 32 frames would carry ~4 MB of
base64 in one file that every editor and diff chokes on, while the folder travels with the page (copy both) and a
video's frames are written once however many of its questions are shown.
"""

from __future__ import annotations

import hashlib
import html
import logging
import random
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spatialladder.errors import DataFormatError
from spatialladder.eval.base import EvalSample, open_image
from spatialladder.eval.video import FrameCache, Sampler

logger = logging.getLogger(__name__)

GALLERY_SIZE = 24
THUMB_PX = 192
"""Long side of a thumbnail: frames stay recognisable, 32 of them fit a row or two."""
UNPARSED = "unparsed"


@dataclass(frozen=True)
class Evidence:
    """What the page shows beside the scores: the samples scored, the raw predictions by id, the sampler that picked
    the model's video frames (None: unknown, e.g. ``score`` on a predictions file, whose frames the file does not
    record) and the seed of the gallery's draw (the run's seed)."""

    samples: Sequence[EvalSample]
    predictions: Mapping[str, Mapping[str, Any]]
    sampler: Sampler | None = None
    seed: int = 0


_LETTER = re.compile(r"^[\(\[\{]?([A-Za-z])[\)\]\}]?[.:,]?$")


def option_letter(text: str) -> str | None:
    """The option letter an answer names, read with one lenient rule for every MC benchmark: ``Answer:`` dropped,
    the first space-separated token, brackets and a trailing ``.`` removed, upper-cased (``"(c)"``, ``"C."``,
    ``"C. sofa"`` → ``"C"``); None when that token is not a single letter. Used only to count the confusion table;
    the score is the benchmark scorer's."""
    tokens = str(text).replace("Answer:", "").split()
    if not tokens:
        return None
    match = _LETTER.match(tokens[0])
    return match.group(1).upper() if match else None


def predicted_letter(answer: str, sample: EvalSample) -> str | None:
    """:func:`option_letter` of the answer when it is one of the sample's option letters (any letter when the
    options are inside the question text, as CV-Bench's), else None: ``"I think C"`` names no option."""
    letter = option_letter(answer)
    if letter is None or not sample.options:
        return letter
    return letter if letter in {option_letter(o) for o in sample.options} else None


def confusion(samples: Sequence[EvalSample], per_sample: Sequence[Mapping[str, Any]]) -> dict[str, dict]:
    """Per MC task (``kind == "mca"``), ``{gold letter: {predicted letter or "unparsed": count}}`` over the scored
    rows (:func:`predicted_letter`) in ``"counts"``, the letters its options offer in ``"letters"``; a row whose
    ground truth names no letter is left out (counted in ``"skipped"``)."""
    by_id = {s.id: s for s in samples}
    out: dict[str, dict] = {}
    for row in per_sample:
        sample = by_id.get(str(row["id"]))
        if sample is None or sample.kind != "mca":
            continue
        table = out.setdefault(sample.question_type, {"counts": {}, "skipped": 0, "letters": set()})
        table["letters"].update(letter for letter in map(option_letter, sample.options or ()) if letter)
        gold = option_letter(sample.ground_truth)
        if gold is None:
            table["skipped"] += 1
            continue
        predicted = predicted_letter(str(row["answer"]), sample) or UNPARSED
        cell = table["counts"].setdefault(gold, {})
        cell[predicted] = cell.get(predicted, 0) + 1
    return out


def wrong_rows(per_sample: Sequence[Mapping[str, Any]], seed: int, k: int = GALLERY_SIZE) -> list[Mapping[str, Any]]:
    """Up to ``k`` rows scored below 1 (a wrong letter, or a number off by more than the tightest MRA threshold),
    drawn with ``random.Random(seed)`` and kept in benchmark order."""
    wrong = [i for i, row in enumerate(per_sample) if float(row["score"]) < 1.0]
    chosen = sorted(random.Random(seed).sample(wrong, min(k, len(wrong))))
    return [per_sample[i] for i in chosen]


def write_html(
    results: Mapping[str, Any],
    per_sample: Sequence[Mapping[str, Any]],
    out_dir: Path,
    stem: str = "results",
    evidence: Evidence | None = None,
) -> Path:
    """Write ``<stem>.html`` (and its thumbnails under ``<stem>_files/``) into ``out_dir``; returns the page."""
    page = out_dir / f"{stem}.html"
    files = out_dir / f"{stem}_files"
    parts = [_head(results, stem, out_dir), f"<div class=row>{_scores(results)}{_chart(stem, out_dir)}</div>"]
    if evidence is None:  # the same scores rewritten (report.update_vision_gain): keep the page's own samples
        kept = _evidence_section(page)
        parts.append(
            kept or "<p class=note>No samples were given with these scores: no confusion table or gallery.</p>"
        )
    else:
        if files.is_dir():  # thumbnails of an earlier draw (a rescored run): the folder holds what this page shows
            shutil.rmtree(files)
        section = _confusions(confusion(evidence.samples, per_sample)) + _gallery(
            results, per_sample, evidence, files, out_dir
        )
        parts.append(f"{EVIDENCE_START}\n{section}\n{EVIDENCE_END}")
    text = (
        "<!DOCTYPE html>\n<html lang=en>\n<head>\n<meta charset=utf-8>\n"
        f"<title>{_e(results['bench'])}: {results['overall']:.2f}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        + "\n".join(parts)
        + "\n</body>\n</html>\n"
    )
    page.write_text(text, encoding="utf-8")
    return page


EVIDENCE_START = "<!-- evidence: confusion and gallery -->"
EVIDENCE_END = "<!-- /evidence -->"


def _evidence_section(page: Path) -> str | None:
    """The confusion tables and gallery of a page written earlier with its samples (None without one): a report
    rewritten only to add the vision gain keeps them, and the thumbnails they show."""
    if not page.is_file():
        return None
    text = page.read_text(encoding="utf-8")
    start, end = text.find(EVIDENCE_START), text.find(EVIDENCE_END)
    return text[start : end + len(EVIDENCE_END)] if 0 <= start < end else None


CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1400px}
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}caption{text-align:left;font-weight:bold;padding:4px 0}
.note{color:#666}.item{border:1px solid #ddd;border-radius:6px;padding:8px;margin:10px 0}
.frames img{height:72px;margin:1px;border:1px solid #eee}.meta{color:#555;font-size:90%}
.item p{margin:6px 0 2px}
pre{white-space:pre-wrap;background:#f6f6f6;padding:4px 6px;margin:0;max-height:12em;overflow:auto}
td.hit{background:#d8f0d8}td.zero{color:#bbb}.row{display:flex;flex-wrap:wrap;gap:0 2em;align-items:flex-start}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _pct(value: Any) -> str:
    return "–" if value is None else f"{float(value):.2f}"


def _head(results: Mapping[str, Any], stem: str, out_dir: Path) -> str:
    blind = " (blind: no images or video shown)" if results.get("blind") else ""
    lines = [
        f"<h1>{_e(results['bench'])}{blind}: overall {results['overall']:.2f}</h1>",
        f"<p class=meta>n = {results['n']}, unparsed = {results['n_unparsed']}, missing = {results['n_missing']}, "
        f"scoring = {_e(results['scoring_profile'])}, answer extraction = {_e(results.get('answer_extraction'))}</p>",
    ]
    gain = results.get("vision_gain")
    if gain:
        other = gain["sighted_file"] if results.get("blind") else gain["blind_file"]
        other_page = Path(other).with_suffix(".html").name
        link = f"<a href='{_e(other_page)}'>{_e(other)}</a>" if (out_dir / other_page).is_file() else _e(other)
        lines.append(
            f"<p>Vision gain (sighted {_e(gain['sighted_file'])} − blind {_e(gain['blind_file'])}): "
            f"<b>{gain['overall']:+.2f} pp</b> overall; the other run: {link}</p>"
        )
    return "\n".join(lines)


def _chart(stem: str, out_dir: Path) -> str:
    chart = f"{stem}.png"
    if not (out_dir / chart).is_file():
        return ""
    return f"<img src='{_e(chart)}' alt='score per task' style='max-width:min(100%,560px)'>"


def _scores(results: Mapping[str, Any]) -> str:
    """Task rows (the aggregate's per-type scores, then any type only counted), the overall last; per-source and
    vision-gain columns from the shared keys when present."""
    per_type = results["aggregate"].get("per_type", {})
    counts = results.get("per_type_counts", {})
    tasks = [*per_type, *(t for t in counts if t not in per_type)]
    sources = results["aggregate"].get("per_source") or {}
    gain = results.get("vision_gain") or {}
    head = ["task", "n", "unparsed", "score"]
    head += [f"{src} (n={body.get('n', '?')})" for src, body in sources.items()]
    if gain:
        head.append("vision gain (pp)")
    rows = ["<table class=scores><caption>Scores (%)</caption>", "<tr>" + "".join(f"<th>{_e(h)}</th>" for h in head)]
    for task in tasks:
        cells = [task, counts.get(task, {}).get("n", "–"), counts.get(task, {}).get("n_unparsed", "–")]
        cells.append(_pct(per_type.get(task)))
        cells += [_pct(body.get("per_type", {}).get(task)) for body in sources.values()]
        if gain:
            value = gain.get("per_type", {}).get(task)
            cells.append("–" if value is None else f"{value:+.2f}")
        rows.append(f"<tr data-task='{_e(task)}'>" + "".join(f"<td>{_e(c)}</td>" for c in cells))
    overall = ["<b>overall</b>", results["n"], results["n_unparsed"], f"<b>{results['overall']:.2f}</b>"]
    overall += [_pct(body.get("overall")) for body in sources.values()]
    if gain:
        overall.append(f"{gain['overall']:+.2f}")
    rows.append("<tr class=overall>" + "".join(f"<td>{c}</td>" for c in overall))
    return "\n".join([*rows, "</table>"])


def _confusions(tables: Mapping[str, Mapping[str, Any]]) -> str:
    if not tables:
        return "<h2>Option letters</h2>\n<p class=note>No multiple-choice task in this run.</p>"
    parts = [
        "<h2>Option letters: gold (rows) × predicted (columns)</h2>",
        "<p class=note>Letters read from the scored answer (first token, brackets and <code>Answer:</code> removed, "
        "case folded); <i>unparsed</i>: no option letter there. The diagonal counts answers naming the right letter; "
        "the benchmark's scorer may still reject some of them for their form (VSI-Bench's first-token rule rejects "
        "<code>(b)</code>), so the scores above stay the scorer's.</p>",
    ]
    parts.append("<div class=row>")
    for task, table in tables.items():
        counts = table["counts"]
        predicted = sorted(
            {p for row in counts.values() for p in row if p != UNPARSED} | set(counts) | table["letters"]
        )
        columns = [*predicted, UNPARSED]
        rows = [
            f"<table class=confusion data-task='{_e(task)}'><caption>{_e(task)}</caption>",
            "<tr><th>gold \\ predicted</th>" + "".join(f"<th>{_e(c)}</th>" for c in columns),
        ]
        for gold in sorted(counts):
            cells = []
            for column in columns:
                n = counts[gold].get(column, 0)
                cls = "hit" if column == gold and n else ("zero" if not n else "")
                cells.append(f"<td class='{cls}'>{n}</td>")
            rows.append(f"<tr><th>{_e(gold)}</th>" + "".join(cells))
        rows.append("</table>")
        if table["skipped"]:
            rows.append(f"<p class=note>{table['skipped']} answers left out: their ground truth names no letter.</p>")
        parts.append("<div>" + "\n".join(rows) + "</div>")
    return "\n".join([*parts, "</div>"])


def _gallery(
    results: Mapping[str, Any],
    per_sample: Sequence[Mapping[str, Any]],
    evidence: Evidence,
    files: Path,
    out_dir: Path,
) -> str:
    wrong = [row for row in per_sample if float(row["score"]) < 1.0]
    chosen = wrong_rows(per_sample, evidence.seed)
    parts = [
        "<h2>Wrong answers</h2>",
        f"<p class=note>{len(chosen)} of {len(wrong)} answers scored below 1, drawn with seed {evidence.seed}, in "
        "benchmark order; the thumbnails are the frames and images the model was given (downscaled).</p>",
    ]
    if results.get("blind"):
        parts.append("<p class=note>Blind run: the model saw no images or video, so none are shown.</p>")
    by_id = {s.id: s for s in evidence.samples}
    cache = FrameCache()
    written: set[str] = set()
    for row in chosen:
        sample = by_id[str(row["id"])]
        if results.get("blind"):
            thumbs, note = [], ""
        else:
            thumbs, note = _thumbnails(sample, evidence.sampler, cache, files, written)
        raw = evidence.predictions.get(sample.id, {}).get("prediction", "")
        letter = predicted_letter(str(row["answer"]), sample) if sample.kind == "mca" else None
        options = "".join(f"<li>{_e(o)}</li>" for o in sample.options or ())
        images = "".join(
            f"<img src='{_e(Path(t).relative_to(out_dir).as_posix())}' alt='{_e(label)}' title='{_e(label)}'>"
            for t, label in thumbs
        )
        parts.append(
            f"<div class=item data-id='{_e(sample.id)}' data-task='{_e(sample.question_type)}' "
            f"data-score='{float(row['score'])}' data-frames='{len(thumbs)}'>\n"
            f"<div class=meta>id {_e(sample.id)} · {_e(sample.question_type)} · score {float(row['score']):.2f}</div>\n"
            f"<div class=frames>{images}</div>{note}\n"
            f"<p><b>Question</b></p><pre>{_e(sample.question)}</pre>"
            + (f"<ul>{options}</ul>" if options else "")
            + f"\n<p><b>Raw output</b></p><pre>{_e(raw)}</pre>\n"
            f"<p><b>Scored answer</b>: <code>{_e(row['answer'])}</code>"
            + (f" (letter {_e(letter or UNPARSED)})" if sample.kind == "mca" else "")
            + f" · <b>ground truth</b>: <code>{_e(sample.ground_truth)}</code></p>\n</div>"
        )
    return "\n".join(parts)


def _thumbnails(
    sample: EvalSample, sampler: Sampler | None, cache: FrameCache, files: Path, written: set[str]
) -> tuple[list[tuple[Path, str]], str]:
    """The item's thumbnails (path, label) in the order the model was given them, and a note when some cannot be
    shown. A video's frame is written once however many questions on it are shown."""
    from PIL import Image

    files.mkdir(parents=True, exist_ok=True)
    out: list[tuple[Path, str]] = []
    notes = []
    for k, item in enumerate(sample.images):
        name = f"img_{_digest(sample.id)}_{k}.jpg"
        try:
            image = open_image(item)
        except DataFormatError as exc:
            notes.append(f"image {k} not shown: {exc}")
            continue
        out.append((_save_thumb(image, files / name), f"image {k + 1}"))
    if sample.video is not None:
        if sampler is None:
            notes.append("video frames not shown: scored from a predictions file, which does not say which frames")
        elif not Path(sample.video).is_file():
            notes.append(f"video frames not shown: {sample.video} is not on disk")
        else:
            try:
                frames, time = cache.clip(sample.video, sampler)
            except DataFormatError as exc:  # the scores are written already; one unreadable video is a note
                notes.append(f"video frames not shown: {exc}")
            else:
                stem = _digest(str(Path(sample.video).resolve()))
                for frame, index in zip(frames, time.indices, strict=True):
                    path = files / f"vid_{stem}_{index}.jpg"
                    if path.name not in written:
                        _save_thumb(Image.fromarray(frame), path)
                        written.add(path.name)
                    out.append((path, f"frame {index} of {time.total}"))
    note = "".join(f"<p class=note>{_e(n)}</p>" for n in notes)
    return out, note


def _save_thumb(image: Any, path: Path) -> Path:
    image = image.convert("RGB")
    image.thumbnail((THUMB_PX, THUMB_PX))
    image.save(path, format="JPEG", quality=85)
    return path


def _digest(text: str) -> str:
    """A short file-name-safe key (ids and paths may hold any character)."""
    return hashlib.sha1(text.encode()).hexdigest()[:12]
