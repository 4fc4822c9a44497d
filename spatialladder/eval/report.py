"""Reports of a scored run: ``results.json``, ``scores.jsonl``, ``results.md`` and a per-task bar chart."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spatialladder.figures import new_figure, save_png

RESULTS = "results.json"
SCORES = "scores.jsonl"
RESULTS_MD = "results.md"
CHART = "results.png"


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


def write_reports(results: dict[str, Any], per_sample: Sequence[dict[str, Any]], out_dir: Path) -> None:
    """``results.json`` (``results`` as given), per-sample scores in ``scores.jsonl``, ``results.md`` and
    ``results.png``; ``results`` is only read."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / SCORES).open("w", encoding="utf-8") as f:
        for row in per_sample:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    (out_dir / RESULTS).write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out_dir / RESULTS_MD).write_text(markdown(results), encoding="utf-8")
    bar_chart(results, out_dir / CHART)


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
        *per_source_markdown(results),
    ]
    return "\n".join(lines)


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
