"""``build-data --format hf``: the built records as a Hub-native dataset under ``<out>/hf``.

One config per record file (``grounding``, ``spatial``, ``coldstart``), split ``train``, written as parquet shards
named as ``datasets``' own ``push_to_hub`` names them (``<config>/train-00000-of-00003.parquet``,
huggingface/datasets 5.2.0 ``src/datasets/arrow_dataset.py`` ``_push_parquet_shards_to_hub_single``) with
``datasets.Image`` features whose bytes are the JPEGs themselves (embedded, not re-encoded): ``load_dataset(
str(out / "hf"), "spatial")`` yields PIL images pixel-equal to ``<out>/images``, and ``DatasetDict.push_to_hub``
or ``huggingface-cli upload`` of the folder publishes a complete dataset. ``README.md`` is the Hub card: YAML
front matter (``configs``, ``dataset_info``, license, task categories) written through ``huggingface_hub``'s
``DatasetCardData`` and ``datasets``' own ``MetadataConfigs`` / ``DatasetInfosDict`` (what ``push_to_hub`` writes),
then counts, the build command, config hash, versions, sources and the ScanNet terms.

Memory is bounded: a shard holds at most ``shard_records`` records and is written in row groups of at most
``ROW_GROUP_RECORDS``, so at most one row group's image bytes are held at once, whatever the build's size.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from spatialladder.errors import DataFormatError
from spatialladder.records import write_atomic

logger = logging.getLogger(__name__)

ROW_GROUP_RECORDS = 100
"""Records per parquet row group: the unit held in memory while writing, and a page the Hub viewer reads cheaply
(``datasets`` wrote image datasets in row groups of 100 before 4.0, ``config.PARQUET_ROW_GROUP_SIZE_FOR_IMAGE_
DATASETS``)."""

SCANNET_TOS = "http://kaldir.vc.in.tum.de/scannet/ScanNet_TOS.pdf"
VSI_BENCH = "https://huggingface.co/datasets/nyu-visionx/VSI-Bench"
TASK_CATEGORIES = ["visual-question-answering", "image-text-to-text", "video-text-to-text"]
SCENES_FILE = "scenes.txt"
CONFIG_FILE = "build_config.json"
LISTED_SCENES = 20
"""Scene ids listed in the card body; all of them are in ``scenes.txt``."""


@dataclass
class ShardStats:
    """What one config's export wrote: shard files, records, and the most records (and image bytes) held at once."""

    files: list[Path] = field(default_factory=list)
    records: int = 0
    num_bytes: int = 0  # Arrow bytes of the rows (``dataset_size`` on the card)
    peak_records_held: int = 0
    peak_image_bytes_held: int = 0


def features_for(kind: str, embed: bool) -> Any:
    """The ``datasets.Features`` of one config. ``embed``: frames as ``Image`` (grounding's one image, a list for
    spatial and coldstart); otherwise (``--from-meta``: no frames, each record points at a VSI-Bench video) the
    ``image`` column stays ``List(string)`` of video paths. Other columns keep the JSONL's types; ``options`` and
    ``image_size`` are null where the JSONL has null."""
    from datasets import Features, Image, List, Value

    text, integer = Value("string"), Value("int64")
    if kind == "grounding":
        image = Image() if embed else List(text)
        head = {
            "question_id": integer,
            "question": text,
            "answer": List({"bbox_2d": List(integer), "label": text}),
            "image": image,
            "data_type": text,
        }
    elif kind == "spatial":
        head = {
            "question_id": integer,
            "question": text,
            "options": List(text),
            "answer": text,
            "image": List(Image()) if embed else List(text),
            "question_type": text,
            "data_type": text,
        }
    elif kind == "coldstart":
        head = {
            "question_id": integer,
            "prompt": text,
            "solution": text,
            "image": List(Image()) if embed else List(text),
            "data_type": text,
            "question_type": text,
            "answer": text,
        }
    else:
        raise DataFormatError(f"hf export: unknown record file {kind!r} (expected grounding, spatial or coldstart)")
    tail = {
        "scene_id": text,
        "vsi_question_type": text,
        "modality": text,
        "frame_indices": List(integer),
        "fps": Value("float64"),
        "image_size": List(integer),
        "generator": text,
    }
    return Features({**head, **tail})


def _row(record: Any, kind: str, images: Path | None) -> tuple[dict[str, Any], int]:
    """One record as an Arrow row of ``features_for(kind, images is not None)`` and the image bytes it holds.
    An image is ``{"bytes": <the JPEG file>, "path": <its path under images/>}``, the Image storage struct."""
    row = record.model_dump(mode="json")
    if images is None:
        return row, 0
    frames = []
    for rel in row["image"]:
        path = images / rel
        if not path.is_file():
            raise DataFormatError(f"hf export: {path}: image of {kind} record {row['question_id']} not found")
        frames.append({"bytes": path.read_bytes(), "path": rel})
    row["image"] = frames[0] if kind == "grounding" else frames
    return row, sum(len(f["bytes"]) for f in frames)


def shard_name(index: int, total: int) -> str:
    return f"train-{index:05d}-of-{total:05d}.parquet"


def write_config(
    config_dir: Path,
    kind: str,
    records: Sequence[Any],
    images: Path | None,
    shard_records: int,
    row_group: int = ROW_GROUP_RECORDS,
) -> ShardStats:
    """Write one config's records as ``ceil(n / shard_records)`` parquet shards, in record order, each through a
    ``pyarrow.parquet.ParquetWriter`` with the features in the schema metadata (``datasets`` reads them back as
    ``Image``); only one row group's rows exist as Python objects at a time. Stale shards are removed first."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    features = features_for(kind, images is not None)
    schema = features.arrow_schema
    config_dir.mkdir(parents=True, exist_ok=True)
    for old in config_dir.glob("*.parquet"):
        old.unlink()
    total = max(1, math.ceil(len(records) / shard_records))
    stats = ShardStats()
    for index in range(total):
        target = config_dir / shard_name(index, total)
        tmp = target.with_name(f".{target.name}.tmp")
        chunk = records[index * shard_records : (index + 1) * shard_records]
        with pq.ParquetWriter(tmp, schema) as writer:
            for start in range(0, len(chunk), row_group):
                rows, held = [], 0
                for record in chunk[start : start + row_group]:
                    row, size = _row(record, kind, images)
                    rows.append(row)
                    held += size
                stats.peak_records_held = max(stats.peak_records_held, len(rows))
                stats.peak_image_bytes_held = max(stats.peak_image_bytes_held, held)
                table = pa.Table.from_pylist(rows, schema=schema)
                stats.num_bytes += table.nbytes
                writer.write_table(table, row_group_size=row_group)
                del rows, table
        tmp.replace(target)
        stats.files.append(target)
        stats.records += len(chunk)
    return stats


def write_hf(
    hf_dir: Path, records: dict[str, list], manifest: dict[str, Any], images: Path, shard_records: int
) -> Path:
    """The Hub-native export (module docstring): one config per non-empty record file, the card, ``scenes.txt``
    (the scenes built) and ``build_config.json`` (the resolved config, to rebuild with)."""
    from_meta = manifest["config"].get("from_meta")
    embed = from_meta is None
    stats: dict[str, ShardStats] = {}
    for kind, rows in records.items():
        if not rows:  # an empty file has no config; a previous build's shards of it would be published stale
            for old in (hf_dir / kind).glob("*.parquet"):
                old.unlink()
            continue
        stats[kind] = write_config(hf_dir / kind, kind, rows, images if embed else None, shard_records)
        logger.info(
            "hf %s: %d records in %d shard(s), at most %d records / %.1f MB of images held at once",
            kind, stats[kind].records, len(stats[kind].files), stats[kind].peak_records_held,
            stats[kind].peak_image_bytes_held / 1e6,
        )  # fmt: skip
    scenes = sorted(s for s, v in manifest["scenes"].items() if v["status"] == "ok")
    write_atomic(hf_dir / SCENES_FILE, "".join(f"{s}\n" for s in scenes))
    write_atomic(hf_dir / CONFIG_FILE, json.dumps(manifest["config"], indent=2, ensure_ascii=False) + "\n")
    write_atomic(hf_dir / "README.md", str(dataset_card(stats, manifest, scenes, embed)))
    return hf_dir


def config_hash(config: dict[str, Any]) -> str:
    """sha256 of the resolved config as canonical JSON (sorted keys, no spaces): the build's identity."""
    blob = json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _size_category(n: int) -> str:
    """The Hub's ``size_categories`` bucket (huggingface_hub ``DatasetCardData`` docstring)."""
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return name
    return "1M<n<10M"


def _card_data(stats: dict[str, ShardStats], embed: bool) -> Any:
    """Front matter: what ``datasets``' ``push_to_hub`` writes (``configs`` with ``<config>/train-*`` data files,
    ``dataset_info`` per config: features, splits, sizes; huggingface/datasets ``arrow_dataset.py``
    ``_get_updated_dataset_card``) plus license and task metadata."""
    from datasets.info import DatasetInfo, DatasetInfosDict
    from datasets.splits import SplitDict, SplitInfo
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCardData

    total = sum(s.records for s in stats.values())
    card = DatasetCardData(
        license="other",
        license_name="scannet-terms-of-use" if embed else "vsi-bench-and-source-dataset-terms",
        license_link=SCANNET_TOS if embed else VSI_BENCH,
        task_categories=TASK_CATEGORIES,
        language=["en"],
        size_categories=[_size_category(total)],
        tags=["spatial-reasoning", "3d", "scannet", "spatialladder"],
        pretty_name="SpatialLadder-style spatial QA (spatialladder build-data)",
    )
    MetadataConfigs(
        {kind: {"data_files": [{"split": "train", "path": f"{kind}/train-*"}]} for kind in stats}
    ).to_dataset_card_data(card)
    infos = {}
    for kind, s in stats.items():
        splits = SplitDict()
        splits.add(SplitInfo(name="train", num_bytes=s.num_bytes, num_examples=s.records))
        download = sum(f.stat().st_size for f in s.files)
        infos[kind] = DatasetInfo(
            features=features_for(kind, embed), splits=splits, download_size=download, dataset_size=s.num_bytes
        )
    DatasetInfosDict(infos).to_dataset_card_data(card)
    return card


def _versions(manifest: dict[str, Any]) -> dict[str, str]:
    out = dict(manifest.get("versions", {}))
    for name in ("datasets", "pyarrow", "huggingface_hub"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _sha256_file(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def _body(stats: dict[str, ShardStats], manifest: dict[str, Any], scenes: list[str], embed: bool) -> Iterator[str]:
    config = manifest["config"]
    yield "# SpatialLadder-style spatial QA"
    yield ""
    yield (
        "Spatial question answering built by `spatialladder build-data` in the "
        "SpatialLadder-26k record schemas: `grounding` (stage 1, 2D boxes), `spatial` (stages 2-3: single image, "
        "multi-view, video) and `coldstart` (stage 3 prompts with `<think>` rationales)."
    )
    yield ""
    yield "```python"
    yield "from datasets import load_dataset"
    example = "spatial" if "spatial" in stats else next(iter(stats), "spatial")
    yield f'{example} = load_dataset("<this folder or repo id>", "{example}", split="train")'
    yield f'{example}[0]["image"]  # PIL images' if embed else f'{example}[0]["image"]  # video paths'
    yield "```"
    yield ""
    if embed:
        yield (
            "`image` holds the frames themselves (`Image`: the JPEG bytes as built, decoded to PIL; grounding has one "
            "image, spatial and coldstart a list in the order the question refers to them); the image struct's "
            "`path` is the frame's path under the build's `images/` folder, `frame_indices` / `fps` its capture time."
        )
    else:
        yield (
            "Built with `--from-meta` from a released VSI-Bench meta-info file: there are no frames. `image` is a "
            "list of strings holding the scene's video path relative to a VSI-Bench download (e.g. "
            "`scannet/scene0011_00.mp4`); fetch the videos from "
            f"[nyu-visionx/VSI-Bench]({VSI_BENCH}) under its terms and those of its source datasets."
        )
    yield ""
    yield "## Configs"
    yield ""
    yield "| config | records | shards | parquet bytes |"
    yield "| --- | ---: | ---: | ---: |"
    for kind, s in stats.items():
        yield f"| {kind} | {s.records} | {len(s.files)} | {sum(f.stat().st_size for f in s.files)} |"
    yield ""
    yield "## Records per modality and question type"
    yield ""
    yield "| modality | question type | records |"
    yield "| --- | --- | ---: |"
    for modality, types in manifest["counts"].items():
        yield from (f"| {modality} | {t} | {n} |" for t, n in types.items())
    yield from _audit(manifest)
    yield ""
    yield "## How it was built"
    yield ""
    yield "```bash"
    source = "--from-meta <meta-info file>" if not embed else "--scannet-root <ScanNet root>"
    yield f"spatialladder build-data -c {CONFIG_FILE} {source} --out <out> --format hf"
    yield "```"
    yield ""
    yield (
        f"`{CONFIG_FILE}` (beside this card) is the resolved config of this build (seed {manifest['seed']}); its "
        "paths are the building machine's, so point them at yours as above. The same config, seed and inputs give "
        "byte-identical JSONL files."
    )
    yield ""
    yield f"- config sha256 (canonical JSON of `{CONFIG_FILE}`): `{config_hash(config)}`"
    yield f"- versions: {', '.join(f'{k} {v}' for k, v in _versions(manifest).items())}"
    yield ""
    yield "## Sources"
    yield ""
    if embed:
        shown = ", ".join(scenes[:LISTED_SCENES]) + (" …" if len(scenes) > LISTED_SCENES else "")
        yield f"{len(scenes)} ScanNet v2 scenes (all listed in `{SCENES_FILE}`): {shown}"
    else:
        meta = Path(config["from_meta"])
        digest = _sha256_file(meta)
        yield (
            f"The VSI-Bench meta-info file `{meta.name}`"
            + (f" (sha256 `{digest}`)" if digest else "")
            + f", {len(scenes)} scenes (listed in `{SCENES_FILE}`). These are VSI-Bench's evaluation scenes: never "
            "train on them and evaluate on VSI-Bench."
        )
    failed = len(manifest["scenes"]) - len(scenes)
    if failed:
        yield ""
        yield f"{failed} scene(s) failed and are not included (reasons in the build's `manifest.json`)."
    yield ""
    yield "## License and terms"
    yield ""
    if embed:
        yield (
            "The images are frames of ScanNet scans and the questions are derived from ScanNet's annotations. "
            f"ScanNet-derived data fall under the [ScanNet Terms of Use]({SCANNET_TOS}) and may only be shared "
            "under them: whoever receives this dataset must have agreed to those terms, and it may not be "
            "published openly unless they allow it."
        )
    else:
        yield (
            "The questions are derived from VSI-Bench's meta-info of ScanNet, ScanNet++ and ARKitScenes scenes; the "
            f"videos they point at are not included. ScanNet-derived data fall under the [ScanNet Terms of Use]"
            f"({SCANNET_TOS}) and may only be shared under them; ScanNet++ and ARKitScenes have their own terms."
        )


def _audit(manifest: dict[str, Any]) -> Iterator[str]:
    """The build's shortcut audit (issue 20), when it ran: types whose text-only score beats chance, and the
    debiasing counts, so a user of the shared data sees which answers can be guessed without the images."""
    audit = manifest.get("audit")
    if not audit:
        return
    rows = audit.get("rows", [])
    flagged = [r for r in rows if r.get("flagged")]
    yield ""
    yield "## Shortcut audit"
    yield ""
    yield (
        f"Text-only predictors ({audit.get('folds')}-fold scene-grouped cross-validation, seed {audit.get('seed')}) "
        f"on {len(rows)} question type × modality groups; {len(flagged)} flagged (score well above chance)."
    )
    if flagged:
        yield ""
        yield "| file | modality | question type | n | chance % | majority % | forest % |"
        yield "| --- | --- | --- | ---: | ---: | ---: | ---: |"
        for r in flagged:
            yield (
                f"| {r['file']} | {r['modality']} | {r['question_type']} | {r['n']} | {r['chance']:.1f} "
                f"| {r['majority']:.1f} | {r['forest']:.1f} |"
            )
    debias = manifest.get("debias")
    if debias:
        before = sum(n for types in debias["before"].values() for n in types.values())
        after = sum(n for types in debias["after"].values() for n in types.values())
        yield ""
        yield (
            f"Debiased: {before - after} of {before} records removed in {debias['rounds']} round(s) "
            f"(margin {debias['margin_pp']} pp over chance, at most {debias['max_removed_fraction']:.0%} a type)."
        )


def dataset_card(stats: dict[str, ShardStats], manifest: dict[str, Any], scenes: list[str], embed: bool) -> Any:
    """The card as ``huggingface_hub.DatasetCard`` (front matter from :func:`_card_data`, body as above)."""
    from huggingface_hub import DatasetCard

    data = _card_data(stats, embed)
    body = "\n".join(_body(stats, manifest, scenes, embed))
    return DatasetCard(f"---\n{data.to_yaml()}\n---\n\n{body}\n")
