"""Benchmarks: an explicit registry of local-file loaders with their official prompts and scoring rules."""

from __future__ import annotations

from spatialladder.errors import UnknownNameError
from spatialladder.eval import cvbench, mindcube, mmsi, sparbench, spbench, viewspatial, vsibench
from spatialladder.eval.base import BenchmarkSpec, EvalSample
from spatialladder.vocab import BENCHMARK_ALIASES

# keys: spatialladder.vocab.BENCHMARK_NAMES (tests/test_vocab.py keeps the two equal)
BENCHMARKS: dict[str, BenchmarkSpec] = {
    "vsibench": vsibench.SPEC,
    "vsibench-debiased": vsibench.DEBIASED_SPEC,
    "spbench-si": spbench.SI_SPEC,
    "spbench-mv": spbench.MV_SPEC,
    "cvbench": cvbench.SPEC,
    "sparbench": sparbench.SPEC,
    "viewspatial": viewspatial.SPEC,
    "mmsi": mmsi.SPEC,
    "mindcube": mindcube.SPEC,
}


def get_benchmark(name: str) -> BenchmarkSpec:
    """The benchmark registered as ``name`` (or an alias); an unknown name lists the valid ones."""
    name = BENCHMARK_ALIASES.get(name, name)
    if name not in BENCHMARKS:
        raise UnknownNameError("benchmark", name, [*BENCHMARKS, *BENCHMARK_ALIASES])
    return BENCHMARKS[name]


__all__ = ["BENCHMARKS", "BenchmarkSpec", "EvalSample", "get_benchmark"]
