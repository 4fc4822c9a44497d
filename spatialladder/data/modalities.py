"""Which frames a record shows and which objects it may name (the issue's modality rules).

- single_image: one frame; every object a question names is visible in it;
- multi_view: 8 frames chosen to cover the question's objects; counted categories are fully visible in the union;
- video: N frames uniform over the scan; the whole scene may be asked about.

The visibility rule is applied by *restricting the scene* before generation: a category survives only when every
one of its instances is visible in the given frames. Generators then cannot name anything the frames do not show,
and uniqueness and "closest instance" answers stay those of the full scene.
"""

from __future__ import annotations

import dataclasses

from spatialladder.config.data import ModalitySettings
from spatialladder.sampling import uniform_sample
from spatialladder.scannet.types import FrameInfo, SceneMeta


def shown(frame: FrameInfo, instance_id: int, settings: ModalitySettings) -> bool:
    """An instance counts as shown when enough of its points pass the depth test in this frame."""
    view = frame.views.get(instance_id)
    return (
        view is not None
        and view.visible_fraction >= settings.min_visible_fraction
        and view.visible_points >= settings.min_visible_points
    )


def restrict_to_frames(scene: SceneMeta, frames: tuple[FrameInfo, ...], settings: ModalitySettings) -> SceneMeta:
    """The scene reduced to categories whose every instance is shown in at least one of ``frames``."""
    shown_ids = {i.instance_id for i in scene.instances if any(shown(f, i.instance_id, settings) for f in frames)}
    keep = {
        c
        for c, n in scene.object_counts.items()
        if (members := scene.instances_of(c)) and len(members) == n and all(m.instance_id in shown_ids for m in members)
    }
    return dataclasses.replace(
        scene,
        instances=tuple(i for i in scene.instances if i.category in keep),
        object_counts={c: n for c, n in scene.object_counts.items() if c in keep},
        frames=frames,
        first_appearance_s={c: t for c, t in scene.first_appearance_s.items() if c in keep},
    )


def uniform_frames(frames: tuple[FrameInfo, ...], n: int) -> tuple[FrameInfo, ...]:
    """``n`` frames evenly spread over ``frames``, first and last kept (``spatialladder.sampling``, VSI's rule)."""
    return tuple(uniform_sample(frames, n))


def video_scene(scene: SceneMeta, settings: ModalitySettings) -> SceneMeta:
    """The scene with the video's frames; first appearances recomputed over them when configured."""
    frames = uniform_frames(scene.frames, settings.video_frames)
    first = scene.first_appearance_s
    if settings.appearance_from == "shown_frames" and frames:
        category_of = {i.instance_id: i.category for i in scene.instances}
        first = {}
        for frame in frames:
            for instance_id in frame.views:
                if instance_id in category_of and shown(frame, instance_id, settings):
                    first.setdefault(category_of[instance_id], frame.time_s)
    return dataclasses.replace(scene, frames=frames, first_appearance_s=first)


def cover_frames(
    frames: tuple[FrameInfo, ...], instance_ids: tuple[int, ...], n: int, settings: ModalitySettings
) -> tuple[FrameInfo, ...] | None:
    """``n`` frames, in time order, that together show every instance in ``instance_ids``; None if impossible.

    Greedy set cover (most uncovered instances first, earliest frame on ties), then filled with the frames that
    show the most of the question's objects, so the extra views stay on topic.
    """
    if len(frames) < n:
        return None
    sees = [{i for i in instance_ids if shown(f, i, settings)} for f in frames]
    missing, chosen = set(instance_ids), []
    while missing:
        best = max(range(len(frames)), key=lambda k: (len(sees[k] & missing), -k))
        if not sees[best] & missing or len(chosen) == n:
            return None
        chosen.append(best)
        missing -= sees[best]
    rest = sorted((k for k in range(len(frames)) if k not in chosen), key=lambda k: (-len(sees[k]), k))
    chosen += rest[: n - len(chosen)]
    return tuple(frames[k] for k in sorted(chosen))
