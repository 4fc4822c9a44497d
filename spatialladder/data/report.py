"""Merge scene shards into the final JSONL files; write manifest.json, build_report.md and the parquet export."""

from __future__ import annotations

import hashlib
import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from spatialladder import __version__
from spatialladder.config.data import DataConfig
from spatialladder.data.html_report import write_html_report
from spatialladder.records import FILES, write_atomic, write_jsonl

PACKAGES = ("numpy", "scipy", "pillow", "pydantic")


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "spatialladder": __version__}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def merge_records(shards: list[dict[str, Any]]) -> dict[str, list]:
    """Validated records per file, in scene order, with question ids 0..n-1 per file."""
    out: dict[str, list] = {}
    for kind, (_, model) in FILES.items():
        rows = [r for shard in shards for r in shard["records"][kind]]
        out[kind] = [model.model_validate({"question_id": i, **row}) for i, row in enumerate(rows)]
    return out


def count_records(records: dict[str, list]) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for kind, rows in records.items():
        for r in rows:
            group = "coldstart" if kind == "coldstart" else r.modality
            counts.setdefault(group, {})
            counts[group][r.vsi_question_type] = counts[group].get(r.vsi_question_type, 0) + 1
    return {g: dict(sorted(c.items())) for g, c in sorted(counts.items())}


def write_outputs(
    cfg: DataConfig, shards: list[dict[str, Any]], scenes: dict[str, Any]
) -> tuple[dict[str, Path], dict[str, dict[str, int]]]:
    out_dir = Path(cfg.out_dir)
    records = merge_records(shards)
    files = {kind: write_jsonl(out_dir / FILES[kind][0], rows) for kind, rows in records.items()}
    counts = count_records(records)
    manifest = {
        "spatialladder_version": __version__,
        "seed": cfg.seed,
        "config": cfg.model_dump(mode="json"),
        "versions": _versions(),
        "image_root": "images",
        "files": {
            kind: {
                "path": path.name,
                "records": len(records[kind]),
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            }
            for kind, path in files.items()
        },
        "counts": counts,
        "scenes": {s: {"status": o.status, "reason": o.reason} for s, o in sorted(scenes.items())},
    }
    write_atomic(out_dir / "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    write_atomic(out_dir / "build_report.md", render_report(manifest))
    files["manifest"] = out_dir / "manifest.json"
    files["report"] = out_dir / "build_report.md"
    files.update(write_html_report(cfg, manifest, records, shards))
    if cfg.format == "hf":
        files["hf"] = write_hf(out_dir / "hf", records)
    return files, counts


def render_report(manifest: dict[str, Any]) -> str:
    """The manifest as readable Markdown tables."""
    lines = ["# build-data report", "", f"seed {manifest['seed']}, spatialladder {manifest['spatialladder_version']}"]
    lines += ["", "## Files", "", "| file | records | sha256 |", "| --- | ---: | --- |"]
    lines += [f"| {f['path']} | {f['records']} | `{f['sha256'][:16]}…` |" for f in manifest["files"].values()]
    lines += ["", "## Records per modality × question type", "", "| modality | question type | records |"]
    lines += ["| --- | --- | ---: |"]
    for modality, types in manifest["counts"].items():
        lines += [f"| {modality} | {t} | {n} |" for t, n in types.items()]
    scenes = manifest["scenes"]
    failed = {s: v["reason"] for s, v in scenes.items() if v["status"] != "ok"}
    lines += ["", "## Scenes", "", f"{len(scenes) - len(failed)} ok, {len(failed)} failed", ""]
    if failed:
        lines += ["| scene | reason |", "| --- | --- |"]
        lines += [f"| {s} | {r.replace('|', '/')} |" for s, r in failed.items()]
    return "\n".join(lines) + "\n"


def write_hf(hf_dir: Path, records: dict[str, list]) -> Path:
    """One parquet config per file (``grounding``, ``spatial``, ``coldstart``), split ``train``, plus a README
    whose ``configs:`` block lets ``datasets.load_dataset(str(hf_dir), "spatial")`` find them."""
    from datasets import Dataset

    configs = []
    for kind, rows in records.items():
        if not rows:
            continue
        target = hf_dir / kind / "train-00000-of-00001.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        Dataset.from_list([r.model_dump(mode="json") for r in rows]).to_parquet(str(target))
        configs.append(f"- config_name: {kind}\n  data_files:\n  - split: train\n    path: {kind}/*.parquet\n")
    write_atomic(hf_dir / "README.md", "---\nconfigs:\n" + "".join(configs) + "---\n")
    return hf_dir
