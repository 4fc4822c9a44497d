"""Relative direction, three difficulties (VSI ``get_obj_rel_direction_v1/v2/v3``: hard / medium / easy).

"Standing by P, facing O, where is Q?" in the XY plane (z up): the forward vector is O − P between box centroids;
the angle of Q − P is measured counter-clockwise from forward (towards the observer's left).

- hard: quadrants, 0–90° front-left, 90–180° back-left, 180–270° back-right, 270–360° front-right;
- medium: [0,135) left, [135,225) back, [225,360) right;
- easy: as medium, but "back" is rejected; answers left / right.

Rejected: any pair of the three objects closer than 0.30 m or farther than 5 m; the query centroid within 10° of a
sector border; more than 2 of the query box's 8 corners in another sector than its centroid. VSI's hard variant
checks only each quadrant's upper border (the default, ``margin_rule: v3r_upper_edge``); ``all_borders`` checks
every border (docs/fidelity.md). Triples are ``combinations`` of the unique categories in ``object_counts`` order
and roles (a,b,c), (a,c,b), (b,a,c), as VSI-Bench enumerates them.
"""

from __future__ import annotations

from itertools import combinations
from typing import Literal

import numpy as np
from pydantic import Field

from spatialladder.config.base import Strict
from spatialladder.questions.base import GeneratorSpec, QAItem, shown, subsample
from spatialladder.questions.options import LetterBalancer, lettered, place_answer
from spatialladder.scannet.geometry import category_distance_m, ccw_angle_deg
from spatialladder.scannet.types import SceneMeta

_PREFIX = "If I am standing by the {positioning_object} and facing the {orienting_object}, "
TEMPLATES = {
    "hard": _PREFIX + "is the {querying_object} to my front-left, front-right, back-left, or back-right?\n"
    "The directions refer to the quadrants of a Cartesian plane (if I am standing at the origin and facing along "
    "the positive y-axis).",
    "medium": _PREFIX + "is the {querying_object} to my left, right, or back?\n"
    "An object is to my back if I would have to turn at least 135 degrees in order to face it.",
    "easy": _PREFIX + "is the {querying_object} to the left or the right of the {orienting_object}?",
}
ANSWERS = {
    "hard": ("front-left", "back-left", "back-right", "front-right"),
    "medium": ("left", "back", "right"),
    "easy": ("left", "right"),
}
HARD_BORDERS_DEG = (0.0, 90.0, 180.0, 270.0, 360.0)
MEDIUM_BORDERS_DEG = (0.0, 135.0, 225.0, 360.0)


class Params(Strict):
    max_triples: int = Field(6, ge=0)  # VSI subsamples unique-category triples before trying 3 role orders each
    max_per_scene: int = Field(6, ge=0)
    min_pair_distance_m: float = Field(0.30, ge=0.0)
    max_pair_distance_m: float = Field(5.0, gt=0.0)
    margin_deg: float = Field(10.0, ge=0.0, lt=45.0)
    max_off_sector_corners: int = Field(2, ge=0, le=8)
    margin_rule: Literal["v3r_upper_edge", "all_borders"] = "v3r_upper_edge"
    """Hard variant: ``v3r_upper_edge`` = VSI-Bench's rule (reject within ``margin_deg`` of each quadrant's upper
    border only, as its published questions were made); ``all_borders`` = ours, stricter (every border)."""


def sector(variant: str, angle_deg: np.ndarray) -> np.ndarray:
    """Sector index per angle: hard 0..3 (quadrants), medium/easy 0 left, 1 back, 2 right."""
    if variant == "hard":
        return np.floor_divide(angle_deg, 90.0).astype(int) % 4
    return np.digitize(angle_deg, MEDIUM_BORDERS_DEG[1:3])


def near_border(variant: str, angle_deg: float, params: Params) -> bool:
    if variant == "hard" and params.margin_rule == "v3r_upper_edge":
        return 90.0 - (angle_deg % 90.0) < params.margin_deg
    borders = HARD_BORDERS_DEG if variant == "hard" else MEDIUM_BORDERS_DEG
    return min(abs(angle_deg - b) for b in borders) < params.margin_deg


def classify(scene: SceneMeta, variant: str, roles: tuple[str, str, str], params: Params) -> dict | None:
    """The answer and its geometry for (positioning, orienting, querying) categories, or None when ambiguous."""
    (p,), (o,), (q,) = (scene.instances_of(c) for c in roles)
    forward = (o.box.centroid - p.box.centroid)[:2]
    points = np.vstack([q.box.centroid[None, :], q.box.corners])[:, :2] - p.box.centroid[:2]
    if np.linalg.norm(forward) < 1e-9 or np.any(np.linalg.norm(points, axis=1) < 1e-9):
        return None
    angles = ccw_angle_deg(forward, points)
    sectors = sector(variant, angles)
    if near_border(variant, float(angles[0]), params):
        return None
    if int(np.sum(sectors[1:] != sectors[0])) > params.max_off_sector_corners:
        return None
    answer = ("left", "back", "right")[sectors[0]] if variant != "hard" else ANSWERS["hard"][sectors[0]]
    if variant == "easy" and answer == "back":
        return None
    return {"angle_deg": float(angles[0]), "answer": answer}


def _generate(
    variant: str, scene: SceneMeta, params: Params, rng: np.random.Generator, letters: LetterBalancer
) -> list[QAItem]:
    name = f"object_rel_direction_{variant}"
    accepted = []
    for a, b, c in subsample(list(combinations(scene.unique_categories, 3)), params.max_triples, rng):
        pair_distances = [category_distance_m(scene, *pair) for pair in ((a, b), (a, c), (b, c))]
        if not all(params.min_pair_distance_m <= d <= params.max_pair_distance_m for d in pair_distances):
            continue
        for roles in ((a, b, c), (a, c, b), (b, a, c)):
            facts = classify(scene, variant, roles, params)
            if facts is not None:
                accepted.append((roles, facts))
    items = []
    for roles, facts in subsample(accepted, params.max_per_scene, rng):
        answer = facts["answer"]
        values, letter = place_answer(answer, [v for v in ANSWERS[variant] if v != answer], name, letters, rng)
        positioning, orienting, querying = (shown(scene, r) for r in roles)
        centroids = {shown(scene, r): scene.instances_of(r)[0].box.centroid for r in roles}
        items.append(
            QAItem(
                question_type=name,
                question=TEMPLATES[variant].format(
                    positioning_object=positioning, orienting_object=orienting, querying_object=querying
                ),
                answer=letter,
                options=lettered(values),
                instance_ids=tuple(scene.instances_of(r)[0].instance_id for r in roles),
                categories=roles,
                evidence={
                    "positioning": positioning,
                    "orienting": orienting,
                    "querying": querying,
                    "positions_xy": {r: [float(x) for x in c[:2]] for r, c in centroids.items()},
                    "angle_deg": facts["angle_deg"],
                    "direction": answer,
                },
            )
        )
    return items


def generate_easy(scene: SceneMeta, params: Params, rng: np.random.Generator, letters: LetterBalancer) -> list[QAItem]:
    return _generate("easy", scene, params, rng, letters)


def generate_medium(
    scene: SceneMeta, params: Params, rng: np.random.Generator, letters: LetterBalancer
) -> list[QAItem]:
    return _generate("medium", scene, params, rng, letters)


def generate_hard(scene: SceneMeta, params: Params, rng: np.random.Generator, letters: LetterBalancer) -> list[QAItem]:
    return _generate("hard", scene, params, rng, letters)


SPECS = (
    GeneratorSpec("object_rel_direction_easy", Params, generate_easy),
    GeneratorSpec("object_rel_direction_medium", Params, generate_medium),
    GeneratorSpec("object_rel_direction_hard", Params, generate_hard),
)
