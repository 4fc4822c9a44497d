"""Raw ScanNet labels → VSI-Bench categories, keyed by ``raw_category`` (the tsv ``id`` is not unique).

The public VLM-3R generator indexed the tsv by ``id`` and kept the last row per id, silently dropping chairs,
doors, pillows, bookshelves, lamps, towels, washing machines and couch-sofas. Keying by ``raw_category`` avoids it.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from spatialladder.errors import ConfigError, DataFormatError

logger = logging.getLogger(__name__)

_TSV_COLUMNS = ("id", "raw_category", "nyu40id")


@dataclass(frozen=True)
class LabelRow:
    """The two ids of one tsv row that decide its class."""

    label_id: int  # ScanNet / ScanNet-200 id (not unique across rows)
    nyu40id: int


@dataclass(frozen=True)
class CategorySpec:
    """The vocabulary and the rules that reach it (contents of ``vsi_categories.yaml``)."""

    scannet20_nyu40: dict[int, str]
    scannet200_ids: dict[int, str]
    remap: dict[str, str]
    vocabulary: tuple[str, ...]


@dataclass(frozen=True)
class LabelMapper:
    """Maps aggregation ``label`` strings to vocabulary names; unknown or unlisted labels map to None."""

    rows: dict[str, LabelRow]
    spec: CategorySpec
    _cache: dict[str, str | None] = field(default_factory=dict, compare=False, repr=False)

    def category(self, raw_category: str) -> str | None:
        if raw_category in self._cache:
            return self._cache[raw_category]
        row = self.rows.get(raw_category)
        name = None
        if row is not None:
            name = self.spec.scannet200_ids.get(row.label_id) or self.spec.scannet20_nyu40.get(row.nyu40id)
        if name is not None:
            name = self.spec.remap.get(name, name)
            if name not in self.spec.vocabulary:
                name = None
        self._cache[raw_category] = name
        return name


def read_label_map(path: Path | str) -> dict[str, LabelRow]:
    """Read ``scannetv2-labels.combined.tsv`` into {raw_category: LabelRow}."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f"{path}: label map not found (expected scannetv2-labels.combined.tsv)")
    rows: dict[str, LabelRow] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        missing = [c for c in _TSV_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DataFormatError(f"{path}: label map lacks column(s) {missing}; header is {reader.fieldnames}")
        for line_no, rec in enumerate(reader, start=2):
            try:
                row = LabelRow(label_id=int(rec["id"]), nyu40id=int(rec["nyu40id"]))
            except (TypeError, ValueError) as exc:
                raise DataFormatError(f"{path}:{line_no}: id/nyu40id must be integers ({exc})") from exc
            rows.setdefault(rec["raw_category"], row)
    if not rows:
        raise DataFormatError(f"{path}: label map has no rows")
    return rows


def load_category_spec(path: Path | str | None = None) -> CategorySpec:
    """Load the vocabulary YAML; None = the packaged ``vsi_categories.yaml``."""
    if path is None:
        text = resources.files("spatialladder.scannet").joinpath("vsi_categories.yaml").read_text(encoding="utf-8")
        source = "spatialladder/scannet/vsi_categories.yaml"
    else:
        if not Path(path).is_file():
            raise ConfigError(f"{path}: categories file not found")
        text, source = Path(path).read_text(encoding="utf-8"), str(path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: invalid YAML ({exc})") from exc
    keys = {"scannet20_nyu40", "scannet200_ids", "remap", "vocabulary"}
    if not isinstance(data, dict) or set(data) != keys:
        got = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise ConfigError(f"{source}: expected exactly the keys {sorted(keys)}, got {got}")
    try:
        spec = CategorySpec(
            scannet20_nyu40={int(k): str(v) for k, v in (data["scannet20_nyu40"] or {}).items()},
            scannet200_ids={int(k): str(v) for k, v in (data["scannet200_ids"] or {}).items()},
            remap={str(k): str(v) for k, v in (data["remap"] or {}).items()},
            vocabulary=tuple(str(v) for v in data["vocabulary"]),
        )
    except (TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"{source}: malformed entry ({exc})") from exc
    for name in spec.remap.values():
        if name not in spec.vocabulary:
            raise ConfigError(f"{source}: remap target {name!r} is not in the vocabulary")
    return spec


def vsi_ordered_counts(counts: Mapping[str, int], vocabulary: Sequence[str]) -> dict[str, int]:
    """Counts in vocabulary order: VSI-Bench's ``object_counts`` order, in which its generators enumerate
    candidate pairs and triples (names outside the vocabulary last, alphabetically)."""
    rank = {name: i for i, name in enumerate(vocabulary)}
    return {c: counts[c] for c in sorted(counts, key=lambda c: (rank.get(c, len(rank)), c))}


LABEL_MAP_NAME = "scannetv2-labels.combined.tsv"


def find_label_map(label_map: Path | str | None, scans_root: Path | str | None) -> Path | str | None:
    """The configured tsv, else ScanNet's own copy: the release keeps it beside (or inside) the ``scans/`` folder."""
    if label_map is not None or scans_root is None:
        return label_map
    root = Path(scans_root)
    for candidate in (root / LABEL_MAP_NAME, root.parent / LABEL_MAP_NAME):
        if candidate.is_file():
            return candidate
    return None


def make_label_mapper(
    label_map: Path | str | None, categories_file: Path | str | None = None, scans_root: Path | str | None = None
) -> LabelMapper:
    """The mapper a pipeline needs; ``label_map`` must be the real tsv (found beside ``scans_root`` if unset)."""
    path = find_label_map(label_map, scans_root)
    if path is None:
        where = f" and none was found in {scans_root} or its parent" if scans_root is not None else ""
        raise ConfigError(f"scannet.label_map is not set{where}: point it at {LABEL_MAP_NAME}")
    return LabelMapper(rows=read_label_map(path), spec=load_category_spec(categories_file))
