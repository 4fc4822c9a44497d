"""Reports of a scored run: ``results.json``, ``scores.jsonl``, ``results.md`` and a per-task bar chart.

A blind run (``eval --blind``) writes the same reports under the stem ``results.blind`` (``results.blind.json``,
``scores.blind.jsonl``, ``results.blind.md``, ``results.blind.png``) beside a sighted run's; when the folder holds
both for one model, :func:`update_vision_gain` adds the vision gain (sighted − blind, per task) to both.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spatialladder.eval.html_report import Evidence, write_html
from spatialladder.figures import new_figure, save_png

logger = logging.getLogger(__name__)

RESULTS = "results.json"
SCORES = "scores.jsonl"
RESULTS_MD = "results.md"
RESULTS_HTML = "results.html"
"""The sighted run's page (``html_report``); a run written with another ``stem`` names it ``<stem>.html``."""
CHART = "results.png"
SIGHTED_STEM = "results"
BLIND_STEM = "results.blind"
GAIN_KEYS = ("bench", "model", "prompt", "subset")
"""What a sighted and a blind run must share for their difference to be a vision gain (``settings``; ``bench`` is
top level): the benchmark, the model (its ``name_or_path``), the prompt and the question subset."""


def report_names(stem: str = SIGHTED_STEM) -> dict[str, str]:
    """The report files of ``stem``: ``results`` → ``results.json``, ``scores.jsonl``, ``results.md``,
    ``results.png``; ``results.blind`` → ``results.blind.json``, ``scores.blind.jsonl``, …"""
    return {
        "json": f"{stem}.json",
        "scores": f"scores{stem.removeprefix(SIGHTED_STEM)}.jsonl",
        "md": f"{stem}.md",
        "png": f"{stem}.png",
    }


def file_hashes(data_dir: Path) -> dict[str, str]:
    """sha256 of the benchmark's question files (not the media), to pin exactly which release was scored; ``.txt``
    covers VSI-Bench's ``pruned_ids.txt``, which decides the debiased subset."""
    out = {}
    for folder in (data_dir, data_dir / "data", data_dir / "raw"):
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.suffix in (".parquet", ".json", ".jsonl", ".txt"):  # .txt: pruned_ids.txt
                out[path.relative_to(data_dir).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def write_reports(
    results: dict[str, Any],
    per_sample: Sequence[dict[str, Any]],
    out_dir: Path,
    stem: str = SIGHTED_STEM,
    evidence: Evidence | None = None,
) -> None:
    """``results.json`` (``results`` as given), per-sample scores in ``scores.jsonl``, ``results.md``,
    ``results.png`` and ``results.html`` (a blind run: ``stem="results.blind"``, :func:`report_names`); the page
    gets a confusion table and a gallery of wrong answers when ``evidence`` gives the samples and raw predictions
    (without it, a page already written keeps its own). ``results`` is only read."""
    names = report_names(stem)
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / names["scores"]).open("w", encoding="utf-8") as f:
        for row in per_sample:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    (out_dir / names["json"]).write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out_dir / names["md"]).write_text(markdown(results), encoding="utf-8")
    bar_chart(results, out_dir / names["png"])
    write_html(results, per_sample, out_dir, stem, evidence)


def markdown(results: dict[str, Any]) -> str:
    """A per-task score table with the overall score last (and the vision gain table when present)."""
    per_type = results["aggregate"].get("per_type", {})
    blind = " (blind: no images or video)" if results.get("blind") else ""
    lines = [
        f"# {results['bench']}{blind}: overall {results['overall']:.2f}",
        "",
        f"n = {results['n']}, unparsed = {results['n_unparsed']}, missing = {results['n_missing']}, "
        f"scoring = {results['scoring_profile']}",
        "",
        "| task | score |",
        "|---|---:|",
        *[f"| {t} | {v:.2f} |" for t, v in per_type.items()],
        f"| **overall** | **{results['overall']:.2f}** |",
        "",
        *per_source_markdown(results),
        *vision_gain_markdown(results),
    ]
    return "\n".join(lines)


def vision_gain_markdown(results: dict[str, Any]) -> list[str]:
    """Lines of the sighted / blind / gain table per task (none without ``vision_gain``); the other run's scores are
    this run's plus or minus the gain."""
    gain = results.get("vision_gain")
    if not gain:
        return []
    own = {**results["aggregate"].get("per_type", {}), "overall": results["overall"]}
    rows = []
    for task, pp in [*gain["per_type"].items(), ("overall", gain["overall"])]:
        sighted, blind = (own[task] + pp, own[task]) if results.get("blind") else (own[task], own[task] - pp)
        cells = [task, f"{sighted:.2f}", f"{blind:.2f}", f"{pp:+.2f}"]
        if task == "overall":
            cells = [f"**{cell}**" for cell in cells]
        rows.append("| " + " | ".join(cells) + " |")
    return [
        f"## Vision gain (sighted − blind, percentage points): `{gain['sighted_file']}` − `{gain['blind_file']}`",
        "",
        "| task | sighted | blind | gain |",
        "|---|---:|---:|---:|",
        *rows,
        "",
    ]


def per_source_markdown(results: dict[str, Any]) -> list[str]:
    """VSI-Bench per source: rows = task types, columns = the sources present + the official overall; each column
    is the official aggregation over that source's questions alone. Empty when the results carry no sources."""
    per_source = results["aggregate"].get("per_source")
    if not per_source:
        return []
    sources = list(per_source)
    types = list(results["aggregate"].get("per_type", {}))
    for src in sources:
        types += [t for t in per_source[src]["per_type"] if t not in types]

    def cell(values: dict[str, Any], key: str) -> str:
        return f"{values[key]:.2f}" if values.get(key) is not None else "—"

    overall = {"per_type": results["aggregate"].get("per_type", {}), "overall": results["overall"], "n": results["n"]}
    columns = [*(per_source[s] for s in sources), overall]
    return [
        "## Per source",
        "",
        "Each source's column applies the official aggregation to that source's questions alone.",
        "",
        "| task | " + " | ".join(sources) + " | overall |",
        "|---|" + "---:|" * (len(sources) + 1),
        *[f"| {t} | " + " | ".join(cell(c["per_type"], t) for c in columns) + " |" for t in types],
        "| **overall** | " + " | ".join(f"**{c['overall']:.2f}**" for c in columns) + " |",
        "| n | " + " | ".join(str(c["n"]) for c in columns) + " |",
        "",
    ]


def vision_gain(sighted: dict[str, Any], blind: dict[str, Any]) -> dict[str, Any]:
    """Sighted − blind in percentage points, overall and for every task both runs scored (in the sighted order)."""
    blind_types = blind["aggregate"].get("per_type", {})
    per_type = {
        task: round(score - blind_types[task], 6)
        for task, score in sighted["aggregate"].get("per_type", {}).items()
        if task in blind_types
    }
    return {
        "overall": round(sighted["overall"] - blind["overall"], 6),
        "per_type": per_type,
        "blind_file": report_names(BLIND_STEM)["json"],
        "sighted_file": report_names(SIGHTED_STEM)["json"],
    }


def gain_mismatch(sighted: dict[str, Any], blind: dict[str, Any]) -> list[str]:
    """The :data:`GAIN_KEYS` the two runs differ in (a run scored by ``spatialladder score`` names no model, so it
    never pairs: which model made its predictions is unknown)."""

    def value(results: dict[str, Any], key: str) -> Any:
        if key == "bench":
            return results.get("bench")
        if key == "model":
            return (results.get("settings", {}).get("model") or {}).get("name_or_path")
        return results.get("settings", {}).get(key)

    differ = [key for key in GAIN_KEYS if value(sighted, key) != value(blind, key)]
    if value(sighted, "model") is None:
        differ.append("model (not recorded)")
    return differ


def update_vision_gain(out_dir: Path) -> dict[str, Any] | None:
    """Add ``vision_gain`` to both ``results.json`` and ``results.blind.json`` of ``out_dir`` (and their markdown,
    chart and per-sample files, rewritten by :func:`write_reports`) when both exist for one model; returns the gain.

    Called after every eval, so whichever of the two runs finishes second computes it. Two runs that differ in
    model, benchmark, prompt or subset have no gain: a stale one left from an earlier pair is removed."""
    paths = {stem: out_dir / report_names(stem)["json"] for stem in (SIGHTED_STEM, BLIND_STEM)}
    if not all(path.is_file() for path in paths.values()):
        return None
    runs = {stem: json.loads(path.read_text(encoding="utf-8")) for stem, path in paths.items()}
    differ = gain_mismatch(runs[SIGHTED_STEM], runs[BLIND_STEM])
    gain = None
    if differ:
        logger.warning(
            "%s: %s and %s differ in %s: no vision gain",
            *(out_dir, paths[SIGHTED_STEM].name, paths[BLIND_STEM].name, ", ".join(differ)),
        )
    else:
        gain = vision_gain(runs[SIGHTED_STEM], runs[BLIND_STEM])
    for stem, results in runs.items():
        if results.get("vision_gain") == gain or (gain is None and "vision_gain" not in results):
            continue
        if gain is None:
            del results["vision_gain"]
        else:
            results["vision_gain"] = gain
        write_reports(results, read_scores(out_dir / report_names(stem)["scores"]), out_dir, stem)
    return gain


def read_scores(path: Path) -> list[dict[str, Any]]:
    """The per-sample rows of a ``scores.jsonl`` (none if it is missing)."""
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def bar_chart(results: dict[str, Any], path: Path) -> Path:
    """Score per task with the overall score as a dashed line."""
    per_type = results["aggregate"].get("per_type", {})
    fig = new_figure(max(4, 0.8 * len(per_type) + 2), 3.5)
    ax = fig.subplots()
    ax.bar(list(per_type), list(per_type.values()), color="#4c72b0")
    ax.axhline(results["overall"], color="#c44e52", linestyle="--", label=f"overall {results['overall']:.1f}")
    ax.set_ylim(0, 100)
    ax.set_ylabel("score (%)")
    ax.set_title(f"{results['bench']} (n={results['n']})")
    ax.tick_params(axis="x", rotation=45, labelsize=7)
    ax.legend(fontsize=7)
    return save_png(fig, path)
