"""Multi-process evaluation: deterministic shards, one predictions file per rank, and a crash-safe merge.

Under ``accelerate launch`` / ``torchrun`` with N processes, each rank predicts its shard (:func:`shard`): the
questions on one video all go to one rank, whole videos dealt out so every rank gets about as many questions, so a
video is decoded and encoded by one rank only (``share_video_prefix``: once in all); questions without a video are
dealt one by one. Rank k appends to ``predictions.rank<k>.jsonl``. After a barrier the main process merges every rank
file into ``predictions.jsonl``, in benchmark order, and deletes the rank files. If a run dies before the merge,
rerunning (with any number of processes) reads ``predictions.jsonl`` *and* the leftover rank files, so finished ids
are never predicted twice, and its own merge folds them in.
"""

from __future__ import annotations

import heapq
import json
import logging
import os
import re
from collections.abc import Callable, Hashable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from spatialladder.errors import ConfigError, DataFormatError

logger = logging.getLogger(__name__)

T = TypeVar("T")

PREDICTIONS = "predictions.jsonl"
BLIND_PREDICTIONS = "predictions.blind.jsonl"
"""A blind run's predictions (``eval --blind``), beside a sighted run's in the same folder: never mixed with them."""


def _rank_file(name: str) -> re.Pattern[str]:
    """Rank files of the predictions file ``name``: ``predictions.jsonl`` → ``predictions.rank<k>.jsonl``."""
    return re.compile(rf"^{re.escape(name.removesuffix('.jsonl'))}\.rank(\d+)\.jsonl$")


def dist_env() -> tuple[int, int]:
    """``(rank, world_size)`` of this process (``spatialladder.distributed``); (0, 1) when run alone."""
    from spatialladder import distributed

    try:
        rank, world = distributed.rank(), distributed.world_size()
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    check_rank(rank, world)
    return rank, world


def check_rank(rank: int, world_size: int) -> None:
    if world_size < 1 or not 0 <= rank < world_size:
        raise ConfigError(f"rank {rank} / world size {world_size}: need world_size >= 1 and 0 <= rank < world_size")


def deal(keys: Sequence[Hashable | None], world_size: int) -> list[int]:
    """The rank of each item, given each item's group key (None: a group of its own).

    Whole groups are dealt largest first (ties: the group met first) to the rank with the fewest items so far
    (ties: the lower rank): deterministic, every item on exactly one rank, and no rank holds more items than another
    by more than the largest group (greedy list scheduling: when a rank got its last group it was the least loaded).
    Items in groups of one alone are dealt round-robin, item ``i`` to rank ``i % world_size``.
    """
    groups: dict[tuple[bool, Hashable], list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault((False, i) if key is None else (True, key), []).append(i)
    loads = [(0, r) for r in range(world_size)]  # a heap of (items so far, rank)
    owner = [0] * len(keys)
    for members in sorted(groups.values(), key=lambda g: (-len(g), g[0])):
        load, rank = heapq.heappop(loads)
        for i in members:
            owner[i] = rank
        heapq.heappush(loads, (load + len(members), rank))
    return owner


def shard(items: Sequence[T], rank: int, world_size: int, key: Callable[[T], Hashable | None] | None = None) -> list[T]:
    """This rank's items, in their own order: whole groups of items with equal ``key`` (None, or no ``key``: an
    item on its own) dealt to the ranks by :func:`deal`. Shards are disjoint and cover ``items``."""
    check_rank(rank, world_size)
    owner = deal([None if key is None else key(item) for item in items], world_size)
    return [item for item, r in zip(items, owner, strict=True) if r == rank]


def shard_path(out_dir: Path, rank: int, world_size: int, name: str = PREDICTIONS) -> Path:
    """Where rank ``rank`` appends: ``predictions.jsonl`` (``name``) for a single process, else
    ``predictions.rank<k>.jsonl``."""
    check_rank(rank, world_size)
    return out_dir / (name if world_size == 1 else f"{name.removesuffix('.jsonl')}.rank{rank}.jsonl")


def rank_files(out_dir: Path, name: str = PREDICTIONS) -> list[Path]:
    """Leftover per-rank files of the predictions file ``name``, in rank order."""
    if not out_dir.is_dir():
        return []
    pattern = _rank_file(name)
    found = [(int(m.group(1)), p) for p in out_dir.iterdir() if (m := pattern.match(p.name))]
    return [p for _, p in sorted(found)]


def read_predictions(path: Path, key: str | None = None) -> dict[str, dict[str, Any]]:
    """``id -> record`` from a predictions file; first record per id wins; a torn last line (killed mid-write) is
    ignored. Records need ``id`` and ``prediction`` (``predicted_answer`` — the official harness' key — also works).
    With ``key``, a record written under different settings is an error."""
    records: dict[str, dict[str, Any]] = {}
    if not path.is_file():
        return records
    lines = path.read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if n == len(lines):
                logger.warning("%s: ignoring a truncated last line (an interrupted run)", path)
                continue
            raise DataFormatError(f"{path}:{n}: not valid JSON") from None
        if "prediction" not in record and "predicted_answer" in record:
            record["prediction"] = record["predicted_answer"]
        if "id" not in record or "prediction" not in record:
            raise DataFormatError(f"{path}:{n}: a prediction needs 'id' and 'prediction' keys; got {sorted(record)}")
        if key is not None and record.get("run_key") != key:
            raise ConfigError(
                f"{path}:{n}: written by a run with different model/prompt/generation/input settings "
                f"(run_key {record.get('run_key')} != {key}); use a new --out folder"
            )
        records.setdefault(str(record["id"]), record)
    return records


def repair_tail(path: Path) -> None:
    """Drop a torn last line so new records start on a fresh line."""
    if not path.is_file():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])


def collect_predictions(out_dir: Path, key: str | None = None, name: str = PREDICTIONS) -> dict[str, dict[str, Any]]:
    """Every finished prediction in ``predictions.jsonl`` (``name``) and its rank files (first record per id wins)."""
    records: dict[str, dict[str, Any]] = {}
    for path in [out_dir / name, *rank_files(out_dir, name)]:
        for sample_id, record in read_predictions(path, key).items():
            records.setdefault(sample_id, record)
    return records


def merge_predictions(
    out_dir: str | Path, key: str | None = None, order: Iterable[str] = (), name: str = PREDICTIONS
) -> dict[str, dict[str, Any]]:
    """Fold the rank files into ``predictions.jsonl`` (each id once), then delete them; safe to rerun after a crash.

    Records are written with the ids of ``order`` (the benchmark's) first, in that order, then any others as found,
    so the merged file reads in benchmark order whatever the shards were. The merged file is written next to the
    target and renamed over it, so a crash mid-merge loses nothing.
    """
    out_dir = Path(out_dir)
    found = collect_predictions(out_dir, key, name)
    records = {i: found[i] for i in order if i in found}
    records.update(found)
    leftovers = rank_files(out_dir, name)
    if not leftovers:
        return records
    tmp = out_dir / (name + ".merging")
    with tmp.open("w", encoding="utf-8") as f:
        for record in records.values():
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    os.replace(tmp, out_dir / name)
    for path in leftovers:
        path.unlink()
    return records
