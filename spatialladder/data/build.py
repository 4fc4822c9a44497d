"""``build-data``: scans (or a released meta-info file) → SpatialLadder-26k-style JSONL, images, manifest.

Flow: resolve scenes → per-scene quotas → one task per scene (parallel, spawn-safe) that reads the scene,
drafts its questions, writes its images and an atomic shard → merge the shards in scene order into the three
JSONL files → manifest.json + build_report.md (+ parquet with ``format: hf``). A shard whose fingerprint matches
is reused, so a killed run resumes where it stopped and ends with the same bytes as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spatialladder import __version__
from spatialladder.config.data import DataConfig
from spatialladder.data.images import write_frame_images
from spatialladder.data.params import resolve_generator_params
from spatialladder.data.plan import scene_plan
from spatialladder.data.report import write_outputs
from spatialladder.data.select import allocate, scene_drafts
from spatialladder.data.to_records import coldstart_records, draft_record
from spatialladder.errors import ConfigError
from spatialladder.records import FILES, write_atomic
from spatialladder.scannet.types import SceneMeta
from spatialladder.vocab import MODALITIES

logger = logging.getLogger(__name__)

SHARD_DIR = "shards"
IMAGE_DIR = "images"


@dataclass(frozen=True)
class SceneTask:
    """Everything one worker needs for one scene (picklable for spawn)."""

    scene_id: str
    quotas: dict[str, int]
    fingerprint: str
    cfg: DataConfig
    scene_dir: str | None = None  # scan folder; None when ``meta`` is given
    meta: SceneMeta | None = None  # from a released meta-info file


@dataclass(frozen=True)
class SceneOutcome:
    scene_id: str
    status: str  # "ok" | "failed"
    reason: str = ""
    resumed: bool = False
    seconds: float = 0.0


@dataclass
class BuildResult:
    """What a build produced: file paths, record counts, per-scene status and whether failures stayed in bounds."""

    out_dir: Path
    files: dict[str, Path]
    counts: dict[str, dict[str, int]]  # modality -> vsi question type -> records
    scenes: dict[str, SceneOutcome]
    failure_fraction: float
    ok: bool
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> dict[str, str]:
        return {s: o.reason for s, o in self.scenes.items() if o.status == "failed"}


RECORD_LAYOUT = 3
"""The shard's layout, in the shard fingerprint: a shard of another layout is rebuilt (1: records before ``fps``;
2: before the scene ``plan`` the HTML build report draws)."""


def fingerprint(cfg: DataConfig, scene_id: str, quotas: dict[str, int]) -> str:
    """Hash of everything that shapes a scene's shard (not paths, worker count, output format or report, nor the
    audit and debias settings, which act on the merged records)."""
    output_only = {"workers", "out_dir", "format", "hf_shard_records", "scannet_root", "scenes_file", "html_report"}
    settings = cfg.model_dump(mode="json", exclude=output_only | {"audit", "debias"})
    blob = json.dumps([__version__, RECORD_LAYOUT, settings, scene_id, quotas], sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def shard_path(out_dir: Path, scene_id: str) -> Path:
    return out_dir / SHARD_DIR / f"{scene_id}.json"


SCENE_FILE_SUFFIXES = (".txt", ".sens", "_vh_clean_2.ply", ".aggregation.json")
"""Files named after their folder that mark a ScanNet scene folder (``<id>/<id>.txt`` etc.)."""


def looks_like_scene(folder: Path) -> bool:
    return any((folder / f"{folder.name}{suffix}").is_file() for suffix in SCENE_FILE_SUFFIXES)


def scans_folder(root: Path) -> Path:
    """The folder whose sub-folders are scenes. Given the ScanNet root (the download's top folder, holding
    ``scans/``, ``scans_test/``, the label tsv and split lists) that is its ``scans/``; its other folders
    (``scans_test``, an ``exported`` tree) are not scenes. A folder with neither ``scans/`` nor a scene folder
    is an error saying what to pass, rather than every sub-folder reported as a failed scene."""
    if not root.is_dir():
        raise ConfigError(f"scannet_root: {root} is not a folder")
    if (root / "scans").is_dir():
        logger.info("scannet_root %s is the ScanNet root: building the scenes under %s", root, root / "scans")
        return root / "scans"
    folders = [p for p in root.iterdir() if p.is_dir()]
    if folders and not any(looks_like_scene(p) for p in folders):
        raise ConfigError(
            f"scannet_root: {root} holds no scans/ folder and no scene folder (<id>/<id>.txt, <id>.sens, "
            "<id>_vh_clean_2.ply); pass the ScanNet root (the folder holding scans/) or its scans/ folder"
        )
    return root


def resolve_scenes(cfg: DataConfig) -> tuple[list[str], dict[str, SceneMeta]]:
    """Scene ids to build (sorted) and, for ``from_meta``, their loaded metadata; ``cfg.scannet_root`` is the folder
    of scene folders already (``scans_folder``)."""
    from spatialladder.scannet.pipeline import read_split, split_filter

    wanted = sorted(read_split(cfg.scenes_file)) if cfg.scenes_file else None
    if cfg.from_meta is not None:
        from spatialladder.scannet.meta import load_meta_file

        metas = load_meta_file(cfg.from_meta)
        logger.warning("from_meta: released VSI-Bench meta-info holds benchmark scenes; never train on them")
        ids = sorted(metas) if wanted is None else [s for s in wanted if s in metas]
        missing = sorted(set(wanted or ()) - set(metas))
        if missing:
            raise ConfigError(f"scenes_file lists scenes absent from {cfg.from_meta}: {', '.join(missing[:5])}")
        return ids, {s: metas[s] for s in ids}
    if cfg.scannet_root is None:
        raise ConfigError("scannet_root: required (the ScanNet scans/ folder) unless from_meta is set")
    root = Path(cfg.scannet_root)  # build_dataset resolved a ScanNet root to its scans/ (scans_folder)
    ids = wanted if wanted is not None else sorted(p.name for p in root.iterdir() if p.is_dir())
    kept, refused = split_filter(ids, cfg.split_dir or root.parent, cfg.scannet.allow_val_scenes)
    if refused:
        logger.warning("refused %d scannetv2_val scenes (set scannet.allow_val_scenes to use them)", len(refused))
    return kept, {}


def make_tasks(cfg: DataConfig, scene_ids: list[str], metas: dict[str, SceneMeta]) -> list[SceneTask]:
    n = len(scene_ids)
    shares = {m: allocate(getattr(cfg.mixture, m), cfg.mixture.reference_scenes, n) for m in MODALITIES}
    tasks = []
    for i, scene_id in enumerate(scene_ids):
        quotas = {m: shares[m][i] for m in MODALITIES}
        if scene_id in metas:  # meta-only scenes have no frames: video-path records only
            quotas = {m: (q if m == "video" else 0) for m, q in quotas.items()}
        scene_dir = None if scene_id in metas else str(Path(cfg.scannet_root or ".") / scene_id)
        tasks.append(
            SceneTask(scene_id, quotas, fingerprint(cfg, scene_id, quotas), cfg, scene_dir, metas.get(scene_id))
        )
    return tasks


def run_scene(task: SceneTask) -> SceneOutcome:
    """Build one scene's shard. Any failure is caught here, at the scene boundary, and reported, not raised:
    one corrupt scan must not stop a 1,201-scene build (the manifest records the reason)."""
    t0 = time.perf_counter()
    out_dir = Path(task.cfg.out_dir)
    shard = shard_path(out_dir, task.scene_id)
    if shard.is_file():
        try:
            if json.loads(shard.read_text(encoding="utf-8")).get("fingerprint") == task.fingerprint:
                return SceneOutcome(task.scene_id, "ok", resumed=True)
        except json.JSONDecodeError:
            pass  # a foreign or damaged shard is rebuilt
    try:
        shard_data = build_shard(task)
    except Exception as exc:  # noqa: BLE001 - the scene boundary: record and continue (see docstring)
        logger.warning("scene %s failed: %s: %s", task.scene_id, type(exc).__name__, exc)
        logger.debug("scene %s traceback", task.scene_id, exc_info=True)
        return SceneOutcome(task.scene_id, "failed", f"{type(exc).__name__}: {exc}", seconds=time.perf_counter() - t0)
    write_atomic(shard, json.dumps(shard_data, ensure_ascii=False))
    return SceneOutcome(task.scene_id, "ok", seconds=time.perf_counter() - t0)


def build_shard(task: SceneTask) -> dict[str, Any]:
    """Read the scene, draft its questions, write its images; return the shard (records without question ids)."""
    from spatialladder.scannet.pipeline import build_scene_meta, scene_rng

    cfg = task.cfg
    scene = task.meta if task.meta is not None else build_scene_meta(task.scene_dir, cfg.scannet)
    rng = scene_rng(cfg.seed, task.scene_id)
    drafts = scene_drafts(scene, cfg, task.quotas, rng)
    frame_indices = sorted({f.frame_index for d in drafts for f in d.frames})
    sizes = {}
    if frame_indices:
        sizes = write_frame_images(
            task.scene_dir, task.scene_id, {f.frame_index: f for d in drafts for f in d.frames}, frame_indices,
            Path(cfg.out_dir) / IMAGE_DIR, cfg.image_max_side, cfg.jpeg_quality, cfg.scannet.layout,
        )  # fmt: skip
    records: dict[str, list[dict]] = {"grounding": [], "spatial": []}
    named: dict[str, list[list[int]]] = {"grounding": [], "spatial": []}  # the report highlights these objects
    for draft in drafts:
        kind, record = draft_record(scene, draft, sizes)
        records[kind].append(record)
        named[kind].append([int(i) for i in draft.item.instance_ids])
    records["coldstart"] = coldstart_records(drafts, records["spatial"], cfg.coldstart, rng)
    plan = scene_plan(scene, [f for d in drafts for f in d.frames], named)
    return {"fingerprint": task.fingerprint, "scene_id": task.scene_id, "records": records, "plan": plan}


def _run_all(tasks: list[SceneTask], workers: int, progress: bool) -> dict[str, SceneOutcome]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    outcomes: dict[str, SceneOutcome] = {}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, disable=not progress) as bar:
        job = bar.add_task("scenes (0 failed)", total=len(tasks))

        def done(outcome: SceneOutcome) -> None:
            outcomes[outcome.scene_id] = outcome
            failed = sum(o.status == "failed" for o in outcomes.values())
            bar.update(job, advance=1, description=f"scenes ({failed} failed)")

        if workers <= 1 or len(tasks) <= 1:
            for task in tasks:
                done(run_scene(task))
        else:
            with multiprocessing.get_context("spawn").Pool(min(workers, len(tasks))) as pool:
                for outcome in pool.imap_unordered(run_scene, tasks):
                    done(outcome)
    return outcomes


def build_dataset(cfg: DataConfig, progress: bool = True) -> BuildResult:
    """Build (or resume) the dataset described by ``cfg`` under ``cfg.out_dir``.

    Example:
        >>> result = build_dataset(load_config("configs/debug/data_synthetic.yaml"))  # doctest: +SKIP
        >>> result.files["spatial"]  # doctest: +SKIP
    """
    t0 = time.perf_counter()
    cfg = resolve_generator_params(cfg)  # a no-op when the caller resolved them (naming its config file)
    if cfg.from_meta is None and cfg.scannet_root is not None:  # the ScanNet root → its scans/ (recorded as such)
        cfg = cfg.model_copy(update={"scannet_root": scans_folder(Path(cfg.scannet_root))})
    scene_ids, metas = resolve_scenes(cfg)
    if not scene_ids:
        raise ConfigError("no scenes to build: check scannet_root / scenes_file / from_meta")
    tasks = make_tasks(cfg, scene_ids, metas)
    outcomes = _run_all(tasks, cfg.workers, progress)
    scenes = {t.scene_id: outcomes[t.scene_id] for t in tasks}
    ok_ids = [s for s, o in scenes.items() if o.status == "ok"]
    shards = [json.loads(shard_path(Path(cfg.out_dir), s).read_text(encoding="utf-8")) for s in ok_ids]
    files, counts = write_outputs(cfg, shards, scenes)
    failure_fraction = 1.0 - len(ok_ids) / len(scenes)
    result = BuildResult(
        out_dir=Path(cfg.out_dir),
        files=files,
        counts=counts,
        scenes=scenes,
        failure_fraction=failure_fraction,
        ok=failure_fraction <= cfg.max_failure_fraction,
        seconds=time.perf_counter() - t0,
    )
    logger.info("built %d/%d scenes in %.1f s: %s", len(ok_ids), len(scenes), result.seconds, sorted(FILES))
    return result
