"""SPBench-SI / SPBench-MV (``hongxingli/SPBench``): ScanNet-val images, scored by VSI-Bench's rules (reference §4).

Layout: ``<data>/SPBench-SI.parquet`` (or ``SPBench-MV.parquet``) + ``<data>/images/<scene_name>/<file>``.
"""

from __future__ import annotations

from pathlib import Path

from spatialladder.errors import DataFormatError
from spatialladder.eval import vsibench
from spatialladder.eval.base import BenchmarkSpec, EvalSample, read_parquet_rows, require_files

COLUMNS = ("id", "scene_name", "question_type", "question", "ground_truth", "images")


def _layout(split: str) -> str:
    return f"  <data>/SPBench-{split}.parquet\n  <data>/images/<scene_name>/<image file named in the 'images' column>"


def _loader(split: str):
    def load(data_dir: Path, media: bool = True) -> list[EvalSample]:
        bench = f"spbench-{split.lower()}"
        (parquet,) = require_files(data_dir, [f"SPBench-{split}.parquet"], bench, _layout(split))
        samples = []
        for i, row in enumerate(read_parquet_rows(parquet, COLUMNS, bench)):
            where = f"{parquet} row {i}"
            names = row["images"] or []
            if not names:
                raise DataFormatError(f"{where}: empty 'images' list")
            images = tuple(data_dir / "images" / str(row["scene_name"]) / str(n) for n in names)
            missing = [str(p) for p in images if not p.is_file()] if media else []
            if missing:
                raise DataFormatError(
                    f"{where}: image files not found: {missing[:3]}; expected layout:\n{_layout(split)}"
                )
            samples.append(vsibench.sample_of(row, where, images=images))
        return samples

    return load


def _spec(split: str, what: str) -> BenchmarkSpec:
    return BenchmarkSpec(
        name=f"spbench-{split.lower()}",
        description=f"SPBench-{split}: {what} from ScanNet val; VSI-Bench scoring, macro mean over types.",
        layout=_layout(split),
        load=_loader(split),
        score=vsibench.score,
        aggregate=vsibench.aggregate,
        letter_examples=True,
    )


SI_SPEC = _spec("SI", "single images, 4 task types")
MV_SPEC = _spec("MV", "8-view image sets, 5 task types")
