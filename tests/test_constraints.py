"""constraints.txt (``make install``'s lock) pins every declared dependency to a version pyproject.toml allows, and
leaves torch and the CUDA packages to the user's pick."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
LEFT_TO_THE_USER = re.compile(r"^(torch|torchvision|triton)$|^(nvidia|cuda)-")


def declared() -> list[Requirement]:
    tomllib = pytest.importorskip("tomllib", reason="tomllib is Python >= 3.11")
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]]


def pins() -> dict[str, str]:
    out = {}
    for line in (REPO / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep and version and " " not in line, f"constraints.txt: not an exact pin: {line!r}"
            out[canonicalize_name(name)] = version
    return out


def test_every_declared_dependency_is_pinned_within_its_bounds() -> None:
    locked = pins()
    for req in declared():
        name = canonicalize_name(req.name)
        if LEFT_TO_THE_USER.search(name):
            continue
        assert name in locked, f"{req.name} is declared in pyproject.toml but not pinned in constraints.txt"
        assert req.specifier.contains(locked[name], prereleases=True), f"{req.name}=={locked[name]} vs {req}"


def test_torch_and_cuda_packages_are_left_out() -> None:
    pinned = [name for name in pins() if LEFT_TO_THE_USER.search(name)]
    assert pinned == [], f"constraints.txt pins {pinned}: a CUDA user could no longer pick torch"


def test_patched_trl_and_transformers_stop_at_the_tested_minor_version() -> None:
    """train/video_grpo.py overrides private trl methods: pyproject admits no minor release above the locked one."""
    bounds = {canonicalize_name(r.name): r.specifier for r in declared()}
    locked = pins()
    for name in ("trl", "transformers"):
        major, minor = (int(x) for x in locked[name].split(".")[:2])
        assert bounds[name].contains(locked[name]), (name, locked[name], bounds[name])
        assert not bounds[name].contains(f"{major}.{minor + 1}.0"), f"{name} {bounds[name]} admits an untested minor"
