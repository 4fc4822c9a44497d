"""Reports of a scored run: ``results.json``, ``scores.jsonl``, ``results.md`` and a per-task bar chart."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spatialladder.eval.html_report import Evidence, write_html
from spatialladder.figures import new_figure, save_png

RESULTS = "results.json"
SCORES = "scores.jsonl"
RESULTS_MD = "results.md"
RESULTS_HTML = "results.html"
"""The sighted run's page (``html_report``); a run written with another ``stem`` names it ``<stem>.html``."""
CHART = "results.png"


def file_hashes(data_dir: Path) -> dict[str, str]:
    """sha256 of the benchmark's question files (not the media), to pin exactly which release was scored."""
    out = {}
    for folder in (data_dir, data_dir / "data", data_dir / "raw"):
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.suffix in (".parquet", ".json", ".jsonl"):
                out[path.relative_to(data_dir).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def write_reports(
    results: dict[str, Any],
    per_sample: Sequence[dict[str, Any]],
    out_dir: Path,
    stem: str = "results",
    evidence: Evidence | None = None,
) -> None:
    """``results.json`` (``results`` as given), per-sample scores in ``scores.jsonl``, ``results.md``,
    ``results.png`` and ``<stem>.html`` (with a confusion table and a gallery of wrong answers when ``evidence``
    gives the samples and raw predictions); ``results`` is only read."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / SCORES).open("w", encoding="utf-8") as f:
        for row in per_sample:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    (out_dir / RESULTS).write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out_dir / RESULTS_MD).write_text(markdown(results), encoding="utf-8")
    bar_chart(results, out_dir / CHART)
    write_html(results, per_sample, out_dir, stem, evidence)


def markdown(results: dict[str, Any]) -> str:
    """A per-task score table with the overall score last."""
    per_type = results["aggregate"].get("per_type", {})
    lines = [
        f"# {results['bench']}: overall {results['overall']:.2f}",
        "",
        f"n = {results['n']}, unparsed = {results['n_unparsed']}, missing = {results['n_missing']}, "
        f"scoring = {results['scoring_profile']}",
        "",
        "| task | score |",
        "|---|---:|",
        *[f"| {t} | {v:.2f} |" for t, v in per_type.items()],
        f"| **overall** | **{results['overall']:.2f}** |",
        "",
    ]
    return "\n".join(lines)


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
