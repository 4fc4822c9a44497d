"""Small synthetic benchmarks in the Hub layouts, written once per session."""

from pathlib import Path

import pytest

from spatialladder.testing.synthetic_benchmarks import BenchItem, solid_frames, write_spbench, write_vsibench

OPTS4 = ["A. bed", "B. tv", "C. sofa", "D. lamp"]


def vsi_items() -> list[BenchItem]:
    f1, f2 = solid_frames(6, seed=1), solid_frames(6, seed=2)
    return [
        BenchItem("object_counting", "How many chair(s) are in this room?", "2", "scene0000_00", f1),
        BenchItem(
            "object_abs_distance",
            "How far is the bed from the tv?",
            "4",
            "scene0000_00",
            f1,
        ),
        BenchItem("object_rel_distance", "Which is the closest to the bed?", "A", "scene0000_00", f1, options=OPTS4),
        BenchItem(
            "object_rel_direction_easy",
            "Is the tv to the left or the right?",
            "B",
            "scene0001_00",
            f2,
            options=["A. left", "B. right"],
        ),
        BenchItem(
            "object_rel_direction_medium",
            "Is the tv to my left, right, or back?",
            "C",
            "scene0001_00",
            f2,
            options=["A. left", "B. right", "C. back"],
        ),
        BenchItem("object_rel_direction_hard", "Which quadrant is the tv in?", "D", "scene0001_00", f2, options=OPTS4),
    ]


@pytest.fixture(scope="session")
def vsi_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_vsibench(vsi_items(), tmp_path_factory.mktemp("vsibench"), layout="original")


@pytest.fixture(scope="session")
def spbench_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    items = [
        BenchItem(
            "object_abs_distance",
            "How far apart are the bed and the tv (in meters)?",
            "2.5",
            "scene0100_00",
            solid_frames(1),
        ),
        BenchItem("object_rel_direction", "Where?", "A", "scene0100_00", solid_frames(1, seed=3), options=OPTS4),
    ]
    return write_spbench(items, tmp_path_factory.mktemp("spbench"), split="SI")
