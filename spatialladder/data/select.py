"""Per scene: generate candidate questions for each modality and pick the scene's quota, types round-robin.

Pure (no I/O): a SceneMeta, the config, the scene's quotas and a seeded generator in; drafts (modality, QAItem,
frames shown) out. Round-robin over question types, in a seeded order, keeps any one type from dominating a
modality; each generator's ``max_per_scene`` caps a type within a scene.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from spatialladder.config.data import DataConfig
from spatialladder.data.modalities import cover_frames, restrict_to_frames, video_scene
from spatialladder.data.params import generator_params
from spatialladder.questions import get_generator
from spatialladder.questions.base import QAItem
from spatialladder.questions.options import LetterBalancer
from spatialladder.scannet.types import FrameInfo, SceneMeta


@dataclass(frozen=True)
class Draft:
    """A chosen question and the frames its record shows (empty for meta-only video records)."""

    modality: str
    item: QAItem
    frames: tuple[FrameInfo, ...]


def _generate(
    name: str, scene: SceneMeta, cfg: DataConfig, rng: np.random.Generator, letters: LetterBalancer
) -> list[QAItem]:
    return get_generator(name).generate(scene, generator_params(cfg, name), rng, letters)


def round_robin(
    pools: dict[str, list],
    quota: int,
    rng: np.random.Generator,
    accept: Callable[[object], object | None] = lambda x: x,
) -> list:
    """Take one accepted candidate per type in turn (seeded type order) until ``quota`` or all pools run dry."""
    order = [sorted(pools)[i] for i in rng.permutation(len(pools))]
    cursors = dict.fromkeys(order, 0)
    out: list = []
    while len(out) < quota and order:
        for name in list(order):
            if len(out) == quota:
                break
            pool = pools[name]
            while cursors[name] < len(pool):
                candidate = accept(pool[cursors[name]])
                cursors[name] += 1
                if candidate is not None:
                    out.append(candidate)
                    break
            else:
                order.remove(name)
    return out


def localization_drafts(scene: SceneMeta, cfg: DataConfig, quota: int, rng: np.random.Generator) -> list[Draft]:
    frames = {f.frame_index: f for f in scene.frames}
    items = _generate("localization", scene, cfg, rng, LetterBalancer())
    return [Draft("localization", i, (frames[i.frame_indices[0]],)) for i in items[:quota]]


def video_drafts(
    scene: SceneMeta, cfg: DataConfig, quota: int, rng: np.random.Generator, letters: LetterBalancer
) -> list[Draft]:
    shown = video_scene(scene, cfg.modalities)
    pools = {name: _generate(name, shown, cfg, rng, letters) for name in cfg.modalities.video}
    return [Draft("video", item, shown.frames) for item in round_robin(pools, quota, rng)]


def multi_view_drafts(
    scene: SceneMeta, cfg: DataConfig, quota: int, rng: np.random.Generator, letters: LetterBalancer
) -> list[Draft]:
    n = cfg.modalities.multi_view_frames
    if len(scene.frames) < n:
        return []
    visible = restrict_to_frames(scene, scene.frames, cfg.modalities)
    pools = {name: _generate(name, visible, cfg, rng, letters) for name in cfg.modalities.multi_view}

    def accept(item: QAItem) -> Draft | None:
        frames = cover_frames(scene.frames, item.instance_ids, n, cfg.modalities)
        return None if frames is None else Draft("multi_view", item, frames)

    return round_robin(pools, quota, rng, accept)


def single_image_drafts(
    scene: SceneMeta, cfg: DataConfig, quota: int, rng: np.random.Generator, letters: LetterBalancer
) -> list[Draft]:
    """Frames in random order, each generating on the objects it shows, until every type has ``quota`` candidates."""
    names = cfg.modalities.single_image
    pools: dict[str, list[Draft]] = {name: [] for name in names}
    for k in rng.permutation(len(scene.frames)):
        if all(len(p) >= quota for p in pools.values()):
            break
        frame = scene.frames[int(k)]
        visible = restrict_to_frames(scene, (frame,), cfg.modalities)
        if len(visible.instances) < 2:
            continue
        for name in names:
            if len(pools[name]) < quota:
                pools[name] += [Draft("single_image", i, (frame,)) for i in _generate(name, visible, cfg, rng, letters)]
    return round_robin(pools, quota, rng)


def scene_drafts(scene: SceneMeta, cfg: DataConfig, quotas: dict[str, int], rng: np.random.Generator) -> list[Draft]:
    """All drafts of one scene, in modality order localization, single_image, multi_view, video."""
    scene = dataclasses.replace(scene, distance_method=cfg.scannet.distance)
    letters = LetterBalancer()
    drafts: list[Draft] = []
    if quotas.get("localization") and scene.frames:
        drafts += localization_drafts(scene, cfg, quotas["localization"], rng)
    if quotas.get("single_image") and scene.frames:
        drafts += single_image_drafts(scene, cfg, quotas["single_image"], rng, letters)
    if quotas.get("multi_view") and scene.frames:
        drafts += multi_view_drafts(scene, cfg, quotas["multi_view"], rng, letters)
    if quotas.get("video"):
        drafts += video_drafts(scene, cfg, quotas["video"], rng, letters)
    return drafts


def allocate(total: int, reference_scenes: int, n_scenes: int) -> list[int]:
    """Split a mixture total, scaled from ``reference_scenes`` to ``n_scenes``, into exact per-scene quotas.

    Scene i gets floor(T(i+1)/N) − floor(Ti/N) with T = round(total·N/reference): the quotas sum to T exactly,
    differ by at most one, and do not depend on the worker count.
    """
    target = round(total * n_scenes / reference_scenes)
    return [(target * (i + 1)) // n_scenes - (target * i) // n_scenes for i in range(n_scenes)]
