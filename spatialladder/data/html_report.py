"""``build_report.html``: the build as a page a person can look at before spending GPU days on it.

Static and self-contained in the output folder (no server, no network, no script, CSS inline): per modality ×
question type a seeded sample of records with the frames the model is shown (downscaled JPEG thumbnails; grounding
boxes drawn on them), the question, options and answer; per scene a top-down plan (``spatialladder.data.plan``);
answer histograms per question type; the shortcut audit from ``manifest.json`` when present; failed scenes.
Everything it links lives under ``report/`` beside the page (relative links), so the folder can be zipped or served
as is. Thumbnails are written once: a rerun reuses any thumbnail newer than its source image; plans and histograms
are named by a hash of what they draw and are redrawn only when that changes.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import random
import time
from collections import Counter
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

from spatialladder.config.data import DataConfig
from spatialladder.data.images import stored_size
from spatialladder.data.plan import draw_plans
from spatialladder.figures import new_figure
from spatialladder.models.boxes import rescale_box
from spatialladder.records import write_atomic
from spatialladder.vocab import MODALITIES

logger = logging.getLogger(__name__)

HTML_NAME = "build_report.html"
REPORT_DIR = "report"
SAMPLES_PER_GROUP = 3
THUMB_SIDE = {"localization": 320, "single_image": 240, "multi_view": 160, "video": 112}
"""Longest thumbnail side per modality: a grounding frame big enough to judge its boxes, a 32-frame video strip
small enough to scan at a glance."""
THUMB_QUALITY = 85
BOX_COLOURS = ((230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240))
"""Box outlines in drawing order; the caption repeats each box's colour beside its label."""
BOX_WIDTH = 2
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
"""Frames shown as thumbnails; anything else a record lists (a ``--from-meta`` record's video) is shown as its path."""


@dataclass
class ReportStats:
    """What building the page did: thumbnails written vs reused, figures drawn vs reused, seconds."""

    thumbs_written: int = 0
    thumbs_reused: int = 0
    figures_written: int = 0
    figures_reused: int = 0
    missing_frames: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class Sample:
    kind: str  # "grounding" | "spatial"
    record: Any  # GroundingRecord | SpatialRecord
    named: tuple[int, ...]  # instance ids the question depends on (from the shard)

    @property
    def anchor(self) -> str:
        return f"{self.kind}-{self.record.question_id}"


def write_html_report(
    cfg: DataConfig, manifest: dict[str, Any], records: dict[str, list], shards: list[dict[str, Any]]
) -> dict[str, Path]:
    """Write ``build_report.html`` (and its ``report/`` folder) unless ``cfg.html_report`` is off; returns
    ``{"html_report": path}`` or ``{}`` (what ``write_outputs`` adds to its files)."""
    if not cfg.html_report:
        return {}
    out_dir = Path(cfg.out_dir)
    path, stats = build_html_report(out_dir, manifest, records, shards, cfg.seed, cfg.workers)
    logger.info(
        "build_report.html in %.2f s: %d thumbnails written, %d reused; %d figures drawn, %d reused",
        stats.seconds, stats.thumbs_written, stats.thumbs_reused, stats.figures_written, stats.figures_reused,
    )  # fmt: skip
    return {"html_report": path}


def build_html_report(
    out_dir: Path,
    manifest: dict[str, Any],
    records: dict[str, list],
    shards: list[dict[str, Any]],
    seed: int,
    workers: int = 1,
) -> tuple[Path, ReportStats]:
    """The page and its files for merged ``records`` (per file, in ``merge_records`` order) and the ``shards``
    they were merged from (in the same order: each shard's ``plan`` holds its records' named instances). Plans
    are drawn over ``workers`` processes when there are many."""
    t0 = time.perf_counter()
    stats = ReportStats()
    plans = {s["scene_id"]: s.get("plan") for s in shards}
    samples = sample_records(records, shards, seed)
    body = [_header(manifest)]
    body.append(_samples_section(out_dir, samples, stats))
    body.append(_answers_section(out_dir, records.get("spatial", []), stats))
    body.append(_scenes_section(out_dir, plans, samples, manifest, stats, workers))
    if "audit" in manifest or "debias" in manifest:
        body.append(_audit_section(manifest))
    page = _page("build-data report", "\n".join(body))
    path = out_dir / HTML_NAME
    write_atomic(path, page)
    stats.seconds = time.perf_counter() - t0
    return path, stats


# --- sampling -----------------------------------------------------------------------------------------------------


def sample_records(records: dict[str, list], shards: list[dict[str, Any]], seed: int) -> dict[tuple[str, str], list]:
    """Up to ``SAMPLES_PER_GROUP`` records per (modality, question type), drawn with ``random.Random(seed)`` over
    the groups in a fixed order, each group's sample in question-id order. Grounding and spatial records only:
    cold-start records repeat spatial ones with another prompt."""
    named = {kind: [ids for s in shards for ids in (s.get("plan") or {}).get("named", {}).get(kind, [])]
             for kind in ("grounding", "spatial")}  # fmt: skip
    groups: dict[tuple[str, str], list[Sample]] = {}
    for kind in ("grounding", "spatial"):
        rows = records.get(kind, [])
        ids = named[kind] if len(named[kind]) == len(rows) else [[] for _ in rows]  # shards without plans
        for row, instances in zip(rows, ids, strict=True):
            groups.setdefault((row.modality, row.vsi_question_type), []).append(Sample(kind, row, tuple(instances)))
    order = {m: i for i, m in enumerate(MODALITIES)}
    rng = random.Random(seed)
    out = {}
    for key in sorted(groups, key=lambda k: (order.get(k[0], len(order)), k[0], k[1])):
        members = groups[key]
        chosen = rng.sample(range(len(members)), min(SAMPLES_PER_GROUP, len(members)))
        out[key] = [members[i] for i in sorted(chosen)]
    return out


# --- images -------------------------------------------------------------------------------------------------------


def thumbnail(src: Path, dst: Path, max_side: int, boxes: list[list[int]] | None, stats: ReportStats) -> None:
    """``dst``: ``src`` shrunk to ``max_side`` (JPEG), with ``boxes`` ([x1, y1, x2, y2] in ``src``'s pixels, the
    records' convention: ``to_records.scale_box``) drawn at the thumbnail's scale. Kept when newer than ``src``."""
    if dst.is_file() and dst.stat().st_mtime_ns >= src.stat().st_mtime_ns:
        stats.thumbs_reused += 1
        return
    from PIL import Image, ImageDraw

    with Image.open(src) as image:
        size = image.size
        target = stored_size(size, max_side)
        image.draft("RGB", target)  # JPEG: decode at a reduced scale no smaller than the target
        small = image.convert("RGB").resize(target, Image.Resampling.BILINEAR, reducing_gap=2.0)
    if boxes:
        draw = ImageDraw.Draw(small)
        for k, box in enumerate(boxes):  # a dark 1 px rim outside the coloured line keeps it visible on any frame
            x1, y1, x2, y2 = rescale_box(box, size, target)
            draw.rectangle((x1 - 1, y1 - 1, x2 + 1, y2 + 1), outline=(0, 0, 0), width=1)
            draw.rectangle((x1, y1, x2, y2), outline=BOX_COLOURS[k % len(BOX_COLOURS)], width=BOX_WIDTH)
    buffer = io.BytesIO()
    # 4:4:4 chroma: the default 4:2:0 halves colour resolution and smears a 2 px coloured line into its rim
    small.save(buffer, format="JPEG", quality=THUMB_QUALITY, subsampling=0 if boxes else -1)
    write_atomic(dst, buffer.getvalue())
    stats.thumbs_written += 1


def _frames_html(out_dir: Path, sample: Sample, stats: ReportStats) -> str:
    record = sample.record
    side = THUMB_SIDE.get(record.modality, 160)
    boxes = [b.bbox_2d for b in record.answer] if sample.kind == "grounding" else None
    cells = []
    for rel, frame in zip(record.image, record.frame_indices or [None] * len(record.image), strict=False):
        src = out_dir / "images" / rel
        inside = not Path(rel).is_absolute() and ".." not in Path(rel).parts
        if not (inside and Path(rel).suffix.lower() in IMAGE_SUFFIXES and src.is_file()):
            stats.missing_frames += 1
            cells.append(f'<div class="missing">{escape(rel)}<br>(not in the output folder)</div>')
            continue
        if boxes is not None:
            digest = hashlib.sha256(json.dumps([rel, boxes]).encode()).hexdigest()[:16]
            thumb = Path(REPORT_DIR) / "thumbs" / "boxes" / f"{digest}.jpg"
        else:
            thumb = Path(REPORT_DIR) / "thumbs" / str(side) / Path(rel).with_suffix(".jpg")
        thumbnail(src, out_dir / thumb, side, boxes, stats)
        when = "" if frame is None else f"frame {frame}"
        cells.append(
            f'<figure><img src="{_url(thumb)}" alt="{escape(rel)}" loading="lazy">'
            f"<figcaption>{escape(when)}</figcaption></figure>"
        )
    return f'<div class="frames {escape(record.modality)}">{"".join(cells)}</div>'


# --- sections -----------------------------------------------------------------------------------------------------


def _header(manifest: dict[str, Any]) -> str:
    """Summary line, contents, and the counts as a question type × modality table whose cells link the samples."""
    scenes = manifest.get("scenes", {})
    failed = sum(v.get("status") != "ok" for v in scenes.values())
    files = ", ".join(f"{escape(f['path'])}: {f['records']}" for f in manifest.get("files", {}).values())
    counts: dict[str, dict[str, int]] = manifest.get("counts", {})
    order = [*MODALITIES, "coldstart"]
    modalities = sorted(counts, key=lambda m: (order.index(m) if m in order else len(order), m))
    qtypes = sorted({t for types in counts.values() for t in types})
    rows = []
    for qtype in qtypes:
        cells = []
        for modality in modalities:
            n = counts[modality].get(qtype)
            if n is None:
                cells.append("<td></td>")
            elif modality == "coldstart":
                cells.append(f"<td class=n>{n}</td>")
            else:
                cells.append(f'<td class=n><a href="#s-{_id(modality, qtype)}">{n}</a></td>')
        rows.append(f"<tr><td>{escape(qtype)}</td>{''.join(cells)}</tr>")
    head = "".join(f"<th>{escape(m)}</th>" for m in modalities)
    return (
        "<h1>build-data report</h1>"
        f"<p>seed {escape(str(manifest.get('seed')))}, "
        f"spatialladder {escape(str(manifest.get('spatialladder_version')))}"
        f" · scenes: {len(scenes) - failed} ok, {failed} failed · {files}</p>"
        '<nav><a href="#samples">samples</a> · <a href="#answers">answer distributions</a> · '
        '<a href="#scenes">scene plans</a> · <a href="#failed">failed scenes</a>'
        + (' · <a href="#audit">shortcut audit</a>' if "audit" in manifest or "debias" in manifest else "")
        + "</nav><h2>Records per question type × modality</h2>"
        f"<table class=counts><tr><th>question type</th>{head}</tr>{''.join(rows)}</table>"
        "<p class=note>Each count links to its samples. Cold-start records are spatial records with the stage-3 "
        "prompt and a rationale; they are not sampled below.</p>"
    )


def _samples_section(out_dir: Path, samples: dict[tuple[str, str], list[Sample]], stats: ReportStats) -> str:
    parts = [f'<h2 id="samples">Samples ({SAMPLES_PER_GROUP} per modality × question type, seeded)</h2>']
    for (modality, qtype), group in samples.items():
        parts.append(f'<h3 id="s-{_id(modality, qtype)}">{escape(modality)} · {escape(qtype)}</h3>')
        parts.append(f'<div class="group {escape(modality)}">')
        parts.extend(_card(out_dir, sample, stats) for sample in group)
        parts.append("</div>")
    if stats.missing_frames:
        parts.append(
            f"<p class=note>{stats.missing_frames} listed frames are not files under images/ (records built "
            "--from-meta point at the scene's video): shown as their path.</p>"
        )
    return "\n".join(parts)


def _card(out_dir: Path, sample: Sample, stats: ReportStats) -> str:
    r = sample.record
    head = (
        f'<div class="card" id="{sample.anchor}"><div class="meta">{escape(sample.kind)} #{r.question_id} · scene '
        f'<a href="#scene-{escape(r.scene_id)}">{escape(r.scene_id)}</a> · {len(r.image)} image(s)</div>'
    )
    frames = _frames_html(out_dir, sample, stats)
    question = f'<p class="q">{escape(r.question)}</p>'
    if sample.kind == "grounding":
        items = "".join(
            f'<li><span class="swatch" style="background:rgb{BOX_COLOURS[k % len(BOX_COLOURS)]}"></span>'
            f"{escape(b.label)} <code>{escape(str(b.bbox_2d))}</code></li>"
            for k, b in enumerate(r.answer)
        )
        answer = f'<ul class="boxes">{items}</ul><p class=note>boxes: [x1, y1, x2, y2] in pixels of the ' \
                 f"{escape(str(r.image_size))} stored image</p>"  # fmt: skip
    elif r.options:
        items = "".join(
            f'<li class="{"answer" if option.split(".", 1)[0].strip() == r.answer else ""}">{escape(option)}</li>'
            for option in r.options
        )
        answer = f'<ul class="options">{items}</ul><p>answer: <b>{escape(r.answer)}</b></p>'
    else:
        answer = f"<p>answer: <b>{escape(r.answer)}</b></p>"
    return f"{head}{frames}{question}{answer}</div>"


def _answers_section(out_dir: Path, spatial: list, stats: ReportStats) -> str:
    """Per question type: the answer letters (multiple choice) or the answer values binned (numeric), stacked by
    modality, and the most common correct option texts: a skewed prior is visible at a glance."""
    parts = ['<h2 id="answers">Answer distributions</h2>']
    by_type: dict[str, list] = {}
    for r in spatial:
        by_type.setdefault(r.vsi_question_type, []).append(r)
    for qtype in sorted(by_type):
        rows = by_type[qtype]
        figure, unparsed = _answer_figure(out_dir, qtype, rows, stats)
        parts.append(f'<h3 id="a-{escape(qtype)}">{escape(qtype)} ({len(rows)} records)</h3>')
        parts.append(f'<img class="hist" src="{_url(figure)}" alt="answers of {escape(qtype)}" loading="lazy">')
        if unparsed:
            parts.append(f"<p class=note>{unparsed} answers are not numbers and are not in the histogram.</p>")
        texts = Counter(_answer_text(r) for r in rows if r.options)
        if texts:
            top = "".join(f"<tr><td>{escape(t)}</td><td class=n>{n}</td></tr>" for t, n in texts.most_common(5))
            parts.append(f"<table><tr><th>most common correct option text</th><th>records</th></tr>{top}</table>")
    if len(parts) == 1:
        parts.append("<p>No spatial records.</p>")
    return "\n".join(parts)


def _answer_text(record: Any) -> str:
    for option in record.options:
        letter, _, text = option.partition(".")
        if letter.strip() == record.answer:
            return text.strip()
    return record.answer


def _answer_figure(out_dir: Path, qtype: str, rows: list, stats: ReportStats) -> tuple[Path, int]:
    """(PNG path relative to ``out_dir``, answers that are not numbers)."""
    modalities = sorted({r.modality for r in rows}, key=lambda m: MODALITIES.index(m) if m in MODALITIES else 9)
    mc = any(r.options for r in rows)
    if mc:
        letters = sorted({chr(65 + i) for r in rows for i in range(len(r.options or ()))} | {r.answer for r in rows})
        data: dict[str, Any] = {
            m: [sum(r.modality == m and r.answer == letter for r in rows) for letter in letters] for m in modalities
        }
        drawn: dict[str, Any] = {"letters": letters, "counts": data}
        unparsed = 0
    else:
        values: dict[str, list[float]] = {m: [] for m in modalities}
        unparsed = 0
        for r in rows:
            try:
                values[r.modality].append(float(r.answer))
            except ValueError:
                unparsed += 1
        drawn = {"values": values}
    rel = _figure_path("answers", qtype, drawn)
    if _reuse(out_dir / rel, stats):
        return rel, unparsed
    fig = new_figure(4.5, 2.6)
    ax = fig.add_axes((0.13, 0.19, 0.84, 0.71))  # fixed margins: tight_layout would cost a third of the figure
    if mc:
        import numpy as np

        x = np.arange(len(letters))
        bottom = np.zeros(len(letters))
        for m in modalities:
            ax.bar(x, data[m], bottom=bottom, label=m)
            bottom += np.asarray(data[m])
        ax.set_xticks(x, letters)
        ax.set_xlabel("answer letter")
    else:
        _numeric_hist(ax, values)
    ax.set_ylabel("records")
    ax.set_title(qtype, fontsize=9)
    ax.legend(fontsize=6)
    (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_dir / rel, dpi=80, format="png")
    return rel, unparsed


def _numeric_hist(ax: Any, values: dict[str, list[float]]) -> None:
    """Integer answers over a short range (counts) get one bar per value; anything else ≤ 20 equal bins."""
    import numpy as np

    every = np.array([v for vs in values.values() for v in vs], dtype=float)
    if not len(every):
        return
    integers = bool(np.all(every == np.round(every))) and every.max() - every.min() <= 20
    if integers:
        bins = np.arange(every.min() - 0.5, every.max() + 1.5)
    else:
        bins = np.histogram_bin_edges(every, bins=min(20, max(1, len(np.unique(every)))))
    ax.hist([vs for vs in values.values()], bins=bins, stacked=True, label=list(values))
    if integers:
        ax.set_xticks(np.arange(every.min(), every.max() + 1))
    ax.set_xlabel("answer")


def _scenes_section(
    out_dir: Path,
    plans: dict[str, dict[str, Any] | None],
    samples: dict[tuple[str, str], list[Sample]],
    manifest: dict[str, Any],
    stats: ReportStats,
    workers: int,
) -> str:
    by_scene: dict[str, list[Sample]] = {}
    for group in samples.values():
        for sample in group:
            by_scene.setdefault(sample.record.scene_id, []).append(sample)
    parts = [
        '<h2 id="scenes">Scene plans</h2><p class=note>Top-down, axis-aligned world frame (metres): object boxes '
        "labelled by category, the objects the sampled questions name in red, the cameras of the frames the "
        "scene's records show as blue dots pointing where they look.</p>"
    ]
    jobs: list[tuple[dict[str, Any], set[int], str, Path]] = []
    for scene_id, plan in plans.items():
        named = by_scene.get(scene_id, [])
        parts.append(f'<div class="scene" id="scene-{escape(scene_id)}"><h3>{escape(scene_id)}</h3>')
        if plan is None:
            parts.append("<p>No plan: this shard predates the plan data.</p></div>")
            continue
        highlight = {i for s in named for i in s.named}
        rel = _figure_path("plans", scene_id, [plan["objects"], plan.get("cameras"), sorted(highlight)])
        if not _reuse(out_dir / rel, stats):
            jobs.append((plan, highlight, f"{scene_id} ({plan.get('dataset', '')})", out_dir / rel))
        parts.append(f'<img class="plan" src="{_url(rel)}" alt="plan of {escape(scene_id)}" loading="lazy">')
        cameras = plan.get("cameras")
        if cameras is None:
            parts.append("<p class=note>Camera positions absent: this scene was built from a released meta-info "
                         "file (--from-meta), which has no frames or poses; objects only.</p>")  # fmt: skip
        else:
            parts.append(f"<p class=note>{len(plan['objects'])} objects, {len(cameras)} camera positions.</p>")
        links = ", ".join(f'<a href="#{s.anchor}">{escape(s.kind)} #{s.record.question_id}</a>' for s in named)
        parts.append(f"<p>Sampled questions: {links or 'none from this scene'}</p></div>")
    draw_plans(jobs, workers)
    failed = {s: v.get("reason", "") for s, v in manifest.get("scenes", {}).items() if v.get("status") != "ok"}
    parts.append(f'<h2 id="failed">Failed scenes ({len(failed)})</h2>')
    if failed:
        rows = "".join(f"<tr><td>{escape(s)}</td><td>{escape(r)}</td></tr>" for s, r in failed.items())
        parts.append(f'<table class="failed"><tr><th>scene</th><th>reason</th></tr>{rows}</table>')
    else:
        parts.append("<p>None.</p>")
    return "\n".join(parts)


def _audit_section(manifest: dict[str, Any]) -> str:
    """``manifest["audit"]`` / ``["debias"]`` as tables (the shortcut audit's own module computes them)."""
    parts = ['<h2 id="audit">Shortcut audit</h2>']
    audit = manifest.get("audit")
    if audit:
        parts.append(
            f"<p>Non-visual predictors trained on the text alone, scene-grouped {audit.get('folds')}-fold, seed "
            f"{audit.get('seed')}{_seconds(audit)}. Scores in %, VSI rules (accuracy / MRA); "
            "flagged rows are well above chance.</p>"
        )
        head = ("file", "modality", "question type", "kind", "n", "scenes", "chance", "majority", "forest", "flagged")
        rows = []
        for row in audit.get("rows", []):
            cells = [row.get("file"), row.get("modality"), row.get("question_type"), row.get("kind"), row.get("n"),
                     row.get("n_scenes"), _pct(row.get("chance")), _pct(row.get("majority")),
                     _pct(row.get("forest")), "yes" if row.get("flagged") else ""]  # fmt: skip
            cls = ' class="flagged"' if row.get("flagged") else ""
            rows.append(f"<tr{cls}>" + "".join(f"<td>{escape(str(c))}</td>" for c in cells) + "</tr>")
        parts.append(
            '<table class="audit"><tr>' + "".join(f"<th>{h}</th>" for h in head) + "</tr>" + "".join(rows) + "</table>"
        )
    debias = manifest.get("debias")
    if debias:
        parts.append(
            f"<h3>Debiasing</h3><p>margin {debias.get('margin_pp')} pp over chance, at most "
            f"{float(debias.get('max_removed_fraction', 0.0)):.0%} removed per type, {debias.get('rounds')} rounds.</p>"
        )
        before, after = debias.get("before", {}), debias.get("after", {})
        rows = []
        for modality in sorted(set(before) | set(after)):
            for qtype in sorted(set(before.get(modality, {})) | set(after.get(modality, {}))):
                b, a = before.get(modality, {}).get(qtype, 0), after.get(modality, {}).get(qtype, 0)
                rows.append(f"<tr><td>{escape(modality)}</td><td>{escape(qtype)}</td><td class=n>{b}</td>"
                            f"<td class=n>{a}</td><td class=n>{b - a}</td></tr>")  # fmt: skip
        parts.append(
            '<table class="debias"><tr><th>modality</th><th>question type</th><th>before</th><th>after</th>'
            "<th>removed</th></tr>" + "".join(rows) + "</table>"
        )
    return "\n".join(parts)


# --- helpers ------------------------------------------------------------------------------------------------------


def _seconds(audit: dict[str, Any]) -> str:
    """The audit's time where it carries one (``audit-data``'s; a build logs it instead, so its page stays the same)."""
    return f", {float(audit['seconds']):.1f} s" if "seconds" in audit else ""


def _pct(value: Any) -> str:
    return "" if value is None else f"{float(value):.1f}"


def _id(*parts: str) -> str:
    return escape("--".join(parts))


def _url(rel: Path) -> str:
    return escape(quote(rel.as_posix()))


def _figure_path(folder: str, name: str, drawn: Any) -> Path:
    """``report/<folder>/<name>.<hash of what is drawn>.png``: a changed figure gets a new name, an unchanged one
    is found and kept."""
    digest = hashlib.sha256(json.dumps(drawn, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return Path(REPORT_DIR) / folder / f"{name}.{digest}.png"


def _reuse(path: Path, stats: ReportStats) -> bool:
    if path.is_file():
        stats.figures_reused += 1
        return True
    stats.figures_written += 1
    return False


STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;max-width:1400px;color:#1f2933}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #cbd2d9;padding:2px 8px;text-align:left}
td.n{text-align:right}tr.flagged{background:#ffe3e3}.note{color:#52606d;font-size:.9em}
.group{display:flex;flex-wrap:wrap;gap:8px;align-items:flex-start}
.card{border:1px solid #cbd2d9;border-radius:6px;padding:8px;flex:0 1 330px}
.video .card{flex:1 1 100%}.meta{font-size:.85em;color:#52606d}
.frames{display:flex;flex-wrap:wrap;gap:4px}figure{margin:0}figcaption{font-size:.7em;color:#7b8794}
.missing{font-size:.8em;border:1px dashed #9aa5b1;padding:4px}.q{font-weight:600}
li.answer{font-weight:700;color:#0b6e4f}.swatch{display:inline-block;width:.9em;height:.9em;margin-right:4px}
img.plan{width:400px}img.hist{width:360px}.scene{display:inline-block;vertical-align:top;margin:6px;width:420px}
"""


def _page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{STYLE}</style></head><body>\n{body}\n</body></html>\n"
    )
