"""Cold-start chain-of-thought: a ``<think>`` rationale written from the scene geometry behind each answer.

The rationale walks through the facts a generator used (which objects, where, which distances or angles, the
comparison) and ends at the generator's own answer, so every rationale agrees with the ground truth by
construction; ``solution_answer`` re-reads it for the tests.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from spatialladder.questions.base import QAItem


def _letter_of(item: QAItem, value: str) -> str:
    for option in item.options or ():
        if option[3:] == value:
            return option[0]
    raise ValueError(f"{value!r} is not among the options of a {item.question_type} question")


def _counting(item: QAItem) -> str:
    e = item.evidence
    return (
        f"Let me think. I need every {e['category']} in the room, not just the ones in one view. "
        f"Going through the views and keeping track of where each one stands, I find {e['count']} separate "
        f"{e['category']} instances; none of them is the same object seen twice. So the count is {e['count']}."
    )


def _size(item: QAItem) -> str:
    e = item.evidence
    dims = " × ".join(f"{x:.2f} m" for x in e["extents_m"])
    return (
        f"Let me think. The {e['category']} occupies a box of about {dims}. The longest of these is "
        f"{max(e['extents_m']):.2f} m, which is about {e['size_cm']:.0f} cm. Rounding to whole centimeters gives "
        f"{item.answer}."
    )


def _room(item: QAItem) -> str:
    return (
        "Let me think. Following the walls around the space and including the area under the furniture, the floor "
        f"covers about {item.evidence['area_m2']:.2f} square meters. To one decimal that is {item.answer}."
    )


def _abs_distance(item: QAItem) -> str:
    e = item.evidence
    return (
        f"Let me think. I need the gap between the closest points of the {e['object1']} and the {e['object2']}, "
        f"not between their centers. The nearest parts are about {e['distance_m']:.2f} m apart. "
        f"Rounded to one decimal, the distance is {item.answer} meters."
    )


def _rel_distance(item: QAItem) -> str:
    e = item.evidence
    parts = ", ".join(f"the {c} {d:.2f} m" for c, d in e["distances_m"].items())
    closest = e["closest"]
    return (
        f"Let me think. I measure from the closest point of the {e['primary']} to the closest instance of each "
        f"option: {parts}. The smallest distance is to the {closest} ({e['distances_m'][closest]:.2f} m). "
        f"So the answer is {_letter_of(item, closest)}. {closest}."
    )


_SECTOR_RULES = {
    "object_rel_direction_hard": "0-90° is front-left, 90-180° back-left, 180-270° back-right and 270-360° front-right",
    "object_rel_direction_medium": "0-135° is left, 135-225° is back and 225-360° is right",
    "object_rel_direction_easy": "0-180° is to the left and 180-360° is to the right",
}


def _rel_direction(item: QAItem) -> str:
    e = item.evidence
    pos = {k: f"({v[0]:.2f}, {v[1]:.2f})" for k, v in e["positions_xy"].items()}
    return (
        f"Let me think. Seen from above, the {e['positioning']} is at {pos[e['positioning']]}, the "
        f"{e['orienting']} at {pos[e['orienting']]} and the {e['querying']} at {pos[e['querying']]}. Standing by "
        f"the {e['positioning']} and facing the {e['orienting']}, the {e['querying']} lies about "
        f"{e['angle_deg']:.0f}° counter-clockwise from straight ahead. Counting counter-clockwise, "
        f"{_SECTOR_RULES[item.question_type]}, so it is {e['direction']}. "
        f"The answer is {_letter_of(item, e['direction'])}. {e['direction']}."
    )


def _appearance(item: QAItem) -> str:
    e = item.evidence
    seen = ", ".join(f"the {c} at about {t:.0f} s" for c, t in e["first_seen_s"].items())
    order = ", ".join(e["order"])
    return (
        f"Let me think. Watching the video from the start, each category first shows up as follows: {seen}. "
        f"Sorting by those times gives {order}. That is option {_letter_of(item, order)}."
    )


def _route(item: QAItem) -> str:
    e = item.evidence
    route, turns = e["route"], e["turns"]
    steps = [f"I start at the {route[0]} facing the {route[1]} and walk forward to it."]
    for k, (turn, delta) in enumerate(zip(turns, e["turn_deg"], strict=True)):
        side = "left" if delta > 0 else "right"
        steps.append(
            f"At the {route[k + 1]}, the {route[k + 2]} is {abs(delta):.0f}° to my {side}, so I {turn.lower()}."
        )
    answer = ", ".join(turns)
    return "Let me think. " + " ".join(steps) + f" The turns are {answer}, option {_letter_of(item, answer)}."


RATIONALES: dict[str, Callable[[QAItem], str]] = {
    "object_counting": _counting,
    "object_size_estimation": _size,
    "room_size_estimation": _room,
    "object_abs_distance": _abs_distance,
    "object_rel_distance": _rel_distance,
    "object_rel_direction_easy": _rel_direction,
    "object_rel_direction_medium": _rel_direction,
    "object_rel_direction_hard": _rel_direction,
    "obj_appearance_order": _appearance,
    "route_planning": _route,
}


def solution(item: QAItem) -> str:
    """``<think>rationale</think>\\n<answer>ground truth</answer>`` (the stage-3 format reward's shape), for every
    model family: for Qwen3.5 it is the assistant content after the template's empty think block, not that block
    (``train/sft_rows.py`` renders it with ``reasoning_content: ""``; docs/fidelity.md, "Qwen3.5")."""
    return f"<think>\n{RATIONALES[item.question_type](item)}\n</think>\n<answer>{item.answer}</answer>"


_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


def solution_answer(text: str) -> str | None:
    """The last ``<answer>`` of a solution (as the stage-3 reward reads it)."""
    found = _ANSWER.findall(text)
    return found[-1].strip() if found else None
