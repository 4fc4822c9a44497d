"""Route planning, generated automatically (VSI-Bench's route questions were written by hand; our own design).

A route starts at a unique object S facing a unique object F, goes forward to F, then to further unique objects
W1…Wk (the last is the destination). Before each leg after the first the robot turns; the turn is classified from
the signed heading change Δ (counter-clockwise positive) with the medium-direction rule: |Δ| ≥ 135° "Turn Back",
otherwise Δ > 0 "Turn Left", Δ < 0 "Turn Right". A route is rejected when a turn is nearly straight
(|Δ| < ``min_turn_deg``), within ``margin_deg`` of the 135° border, or a leg is shorter than ``min_leg_m``.
Turns become "[please fill in]" blanks; options are turn sequences in VSI's format ("Turn Left, Turn Right").
"""

from __future__ import annotations

from itertools import product

import numpy as np
from pydantic import Field, model_validator

from spatialladder.config.base import Strict
from spatialladder.questions.base import QAItem, shown
from spatialladder.questions.options import LetterBalancer, lettered, place_answer
from spatialladder.scannet.geometry import signed_turn_deg
from spatialladder.scannet.types import SceneMeta

NAME = "route_planning"
TEMPLATE = (
    "You are a robot beginning at the {start} facing the {facing}. You want to navigate to the {dest}. "
    "You will perform the following actions (Note: for each [please fill in], choose either 'turn back,' "
    "'turn left,' or 'turn right.'): {actions} You have reached the final destination."
)
TURNS = ("Turn Left", "Turn Right", "Turn Back")


class Params(Strict):
    max_per_scene: int = Field(6, ge=0)
    min_blanks: int = Field(1, ge=1)
    max_blanks: int = Field(2, ge=1)  # 2 blanks = 5 numbered actions, VSI's longest routes
    min_leg_m: float = Field(0.5, ge=0.0)
    min_turn_deg: float = Field(30.0, ge=0.0, lt=135.0)
    back_deg: float = Field(135.0, gt=0.0, le=180.0)
    margin_deg: float = Field(10.0, ge=0.0)
    max_attempts: int = Field(200, ge=1)

    @model_validator(mode="after")
    def _blank_range(self) -> Params:
        if self.max_blanks < self.min_blanks:
            raise ValueError(f"max_blanks ({self.max_blanks}) must be >= min_blanks ({self.min_blanks})")
        return self


def classify_turn(delta_deg: float, params: Params) -> str | None:
    """ "Turn Left" / "Turn Right" / "Turn Back" for a signed heading change, or None when ambiguous."""
    magnitude = abs(delta_deg)
    if magnitude < params.min_turn_deg or abs(magnitude - params.back_deg) < params.margin_deg:
        return None
    if magnitude >= params.back_deg:
        return "Turn Back"
    return "Turn Left" if delta_deg > 0 else "Turn Right"


def route_turns(points_xy: list[np.ndarray], params: Params) -> tuple[list[str], list[float]] | None:
    """Turns before legs 2..n of the polyline start → facing → waypoints, or None when the route is ambiguous."""
    legs = [b - a for a, b in zip(points_xy[:-1], points_xy[1:], strict=True)]
    if any(np.linalg.norm(leg) < params.min_leg_m for leg in legs):
        return None
    turns, deltas = [], []
    for before, after in zip(legs[:-1], legs[1:], strict=True):
        delta = signed_turn_deg(before, after)
        turn = classify_turn(delta, params)
        if turn is None:
            return None
        turns.append(turn)
        deltas.append(delta)
    return turns, deltas


def _actions(stops: list[str]) -> str:
    parts, number = [], 1
    for i, stop in enumerate(stops):
        if i:
            parts.append(f"{number}. [please fill in]")
            number += 1
        parts.append(f"{number}. Go forward until the {stop}")
        number += 1
    return " ".join(parts) + "."


def generate(scene: SceneMeta, params: Params, rng: np.random.Generator, letters: LetterBalancer) -> list[QAItem]:
    names = scene.unique_categories
    seen: set[tuple[str, ...]] = set()
    items: list[QAItem] = []
    for _ in range(params.max_attempts):
        if len(items) >= params.max_per_scene:
            break
        blanks = int(rng.integers(params.min_blanks, params.max_blanks + 1))
        if len(names) < blanks + 2:
            continue
        route = tuple(names[i] for i in rng.permutation(len(names))[: blanks + 2])
        if route in seen:
            continue
        seen.add(route)
        points = [scene.instances_of(c)[0].box.centroid[:2] for c in route]
        result = route_turns(points, params)
        if result is None:
            continue
        turns, deltas = result
        answer = ", ".join(turns)
        others = [", ".join(seq) for seq in product(TURNS, repeat=blanks) if ", ".join(seq) != answer]
        pick = rng.permutation(len(others))[: min(3, len(others))]
        values, letter = place_answer(answer, [others[i] for i in sorted(pick)], f"{NAME}_{blanks}", letters, rng)
        stops = [shown(scene, c) for c in route]
        items.append(
            QAItem(
                question_type=NAME,
                question=TEMPLATE.format(start=stops[0], facing=stops[1], dest=stops[-1], actions=_actions(stops[1:])),
                answer=letter,
                options=lettered(values),
                instance_ids=tuple(scene.instances_of(c)[0].instance_id for c in route),
                categories=route,
                evidence={
                    "route": stops,
                    "positions_xy": {c: [float(x) for x in p] for c, p in zip(stops, points, strict=True)},
                    "turn_deg": deltas,
                    "turns": turns,
                },
            )
        )
    return items
