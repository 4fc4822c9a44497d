"""What every benchmark module provides: local loading, per-sample scoring, and the benchmark's own averaging."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spatialladder.errors import DataFormatError
from spatialladder.vocab import PromptKind


@dataclass(frozen=True)
class EvalSample:
    """One benchmark question with everything needed to prompt and score it.

    ``images`` holds file paths or encoded image bytes (loaded lazily); ``video`` is an mp4 path.
    ``group`` is the key some benchmarks average by (CV-Bench ``source``). ``extra`` is SPAR's MC line.
    ``source`` is the dataset a VSI-Bench question comes from (its ``dataset`` column), for per-source columns.
    """

    id: str
    question_type: str
    question: str
    ground_truth: str
    kind: PromptKind
    options: tuple[str, ...] | None = None
    images: tuple[Any, ...] = ()
    video: Path | None = None
    group: str | None = None
    extra: str | None = None
    source: str | None = None


Scorer = Callable[[str, EvalSample, str], tuple[float, bool]]
"""``(prediction after answer extraction, sample, scoring profile) -> (score in [0, 1], parsed)``."""
Aggregator = Callable[[Sequence[EvalSample], Sequence[float], str], dict[str, Any]]
"""``(samples, scores, direction_merge) -> {"overall": pct, ...}``."""


@dataclass(frozen=True)
class BenchmarkSpec:
    name: str
    description: str
    layout: str
    """Human-readable expected file layout, shown in missing-file errors."""
    load: Callable[..., list[EvalSample]]
    """``load(data_dir, media=True)``: the samples from the question file; ``media=False`` (``score``) does not
    require the videos or image files to be on disk."""
    score: Scorer
    aggregate: Aggregator
    letter_examples: bool = False
    """Direct-mode MC post prompt with ``(e.g., A, B, etc.)`` (VSI-Bench and SPBench scripts)."""
    modalities: tuple[str, ...] = field(default=("image",))
    official_score: Scorer | None = None
    """The official scorer, kept bug for bug, where ours fixes a quirk that changes numbers (``official_quirks``)."""
    direct_text: Callable[[EvalSample], str] | None = None
    """The benchmark's own official direct-answer prompt (MMSI-Bench, MindCube); None = SpatialLadder's ``direct``."""
    question_file: Callable[[Path], dict[str, Any]] | None = None
    """``question_file(data_dir)``: ``{"path", "sha256", "subset"}`` of the file ``load`` reads, where a benchmark
    has several layouts or subsets (VSI-Bench); None = one fixed file, pinned by ``benchmark_files`` alone."""

    def scorer(self, official_quirks: bool) -> Scorer:
        """The scorer to use: the official one when asked for and the benchmark has one, else ours."""
        return self.official_score if official_quirks and self.official_score is not None else self.score


def require_files(data_dir: Path, names: Sequence[str], bench: str, layout: str) -> list[Path]:
    """The listed files under ``data_dir``, or a DataFormatError that lists what was expected where."""
    if not data_dir.is_dir():
        raise DataFormatError(f"{bench}: data folder {data_dir} does not exist; expected layout:\n{layout}")
    paths = [data_dir / n for n in names]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        present = sorted(p.name for p in data_dir.iterdir())[:20]
        raise DataFormatError(
            f"{bench}: missing {', '.join(missing)}; expected layout:\n{layout}\nfound in {data_dir}: {present}"
        )
    return paths


def read_parquet_rows(path: Path, required: Sequence[str], bench: str) -> list[dict[str, Any]]:
    """All rows of a parquet file as dicts; a missing column is an error naming the file and the column."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a corrupt file
        raise DataFormatError(f"{bench}: cannot read parquet {path}: {exc}") from None
    missing = [c for c in required if c not in table.column_names]
    if missing:
        raise DataFormatError(f"{bench}: {path} lacks columns {missing}; has {table.column_names}")
    return table.to_pylist()


def image_bytes(value: Any, where: str) -> bytes:
    """Encoded bytes from a Hub image cell (``{"bytes": b…}`` or raw bytes)."""
    if isinstance(value, dict):
        value = value.get("bytes")
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    raise DataFormatError(f"{where}: expected an image cell with bytes, got {type(value).__name__}")


def image_bytes_list(value: Any, where: str) -> tuple[bytes, ...]:
    """Encoded bytes of every image in a Hub list-of-images cell (SPAR-Bench, MMSI-Bench); empty is an error."""
    if value is None or isinstance(value, (bytes, bytearray, dict)) or len(value) == 0:
        if isinstance(value, (bytes, bytearray, dict)):
            return (image_bytes(value, where),)
        raise DataFormatError(f"{where}: expected a non-empty list of images, got {value!r:.40}")
    return tuple(image_bytes(v, f"{where} image {k}") for k, v in enumerate(value))


def open_image(item: Any):
    """A PIL RGB image from a path or encoded bytes."""
    from PIL import Image

    if isinstance(item, (bytes, bytearray)):
        return Image.open(io.BytesIO(item)).convert("RGB")
    path = Path(item)
    if not path.is_file():
        raise DataFormatError(f"image file {path} does not exist")
    return Image.open(path).convert("RGB")


def accuracy_over_samples(
    samples: Sequence[EvalSample], scores: Sequence[float], direction_merge: str
) -> dict[str, Any]:
    """The aggregate of benchmarks scored as plain accuracy over all samples (per type reported alongside)."""
    from spatialladder.metrics.aggregate import sample_weighted_aggregate

    return sample_weighted_aggregate([s.question_type for s in samples], scores)
