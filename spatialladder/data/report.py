"""Merge scene shards into the final JSONL files; write manifest.json, build_report.md and the parquet export."""

from __future__ import annotations

import hashlib
import json
import logging
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from spatialladder import __version__
from spatialladder.config.data import DataConfig
from spatialladder.data.html_report import write_html_report
from spatialladder.data.hub import write_hf
from spatialladder.records import FILES, write_atomic, write_jsonl

logger = logging.getLogger(__name__)

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
    debias = audit = None
    if cfg.debias.enabled:  # before the files are written: the manifest's counts are the final ones
        from spatialladder.data.debias import prune_records

        records, debias = prune_records(records, cfg.debias, cfg.audit, cfg.seed)
    if cfg.audit.enabled:
        from spatialladder.data.audit import audit_build

        audit = audit_build(records, folds=cfg.audit.folds, seed=cfg.seed, margin_pp=cfg.audit.margin_pp,
                            trees=cfg.audit.trees)  # fmt: skip
        seconds = audit.pop("seconds")  # logged, not kept: a resumed build's manifest and reports equal the first's
        logger.info("shortcut audit of %d spatial records: %.1f s", len(records["spatial"]), seconds)
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
    manifest.update({k: v for k, v in (("audit", audit), ("debias", debias)) if v is not None})
    write_atomic(out_dir / "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    write_atomic(out_dir / "build_report.md", render_report(manifest))
    files["manifest"] = out_dir / "manifest.json"
    files["report"] = out_dir / "build_report.md"
    files.update(write_html_report(cfg, manifest, records, shards))
    if cfg.format == "hf":
        files["hf"] = write_hf(out_dir / "hf", records, manifest, out_dir / "images", cfg.hf_shard_records)
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
    return "\n".join(lines + audit_sections(manifest)) + "\n"


def audit_sections(manifest: dict[str, Any]) -> list[str]:
    """The shortcut audit and the debiasing counts, when the build ran them."""
    from spatialladder.data.audit import render_audit

    lines: list[str] = []
    if "debias" in manifest:
        d = manifest["debias"]
        lines += ["", "## Debiasing (Iterative Bias Pruning)", "",
                  f"Pruned until the best non-visual score is within {d['margin_pp']} pp of chance or "
                  f"{d['max_removed_fraction']:.0%} of a type is removed; {d['rounds']} round(s) at most; "
                  f"{d.get('coldstart_removed', 0)} cold-start record(s) went with their spatial record.", "",
                  "| modality | question type | before | after | stop |",
                  "| --- | --- | ---: | ---: | --- |"]  # fmt: skip
        lines += [f"| {g['modality']} | {g['question_type']} | {g['n_before']} | {g['n_after']} | {g['stop']} |"
                  for g in d.get("groups", [])]  # fmt: skip
    if "audit" in manifest:
        lines += ["", "## Shortcut audit", "", *render_audit(manifest["audit"])]
    return lines
