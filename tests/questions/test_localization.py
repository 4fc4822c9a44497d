"""Localization picks objects unique in the frame, well visible, with a usable 2D box."""

from __future__ import annotations

from spatialladder.questions import localization
from spatialladder.questions.options import LetterBalancer
from spatialladder.scannet.types import InstanceView

SMALL = (0.2, 0.2, 0.2)


def view(fraction, box):
    return InstanceView(visible_points=100, visible_fraction=fraction, bbox_2d=box)


def test_groundable_objects(make_scene, make_frame, rng):
    scene = make_scene(
        [
            ("chair", (0, 0, 0), SMALL),
            ("chair", (1, 0, 0), SMALL),
            ("table", (2, 0, 0), SMALL),
            ("lamp", (3, 0, 0), SMALL),
            ("tv", (4, 0, 0), SMALL),
        ]
    )
    frame = make_frame(
        10,
        {
            0: view(0.9, (10, 10, 100, 100)),  # two chairs in view: ambiguous
            1: view(0.9, (200, 10, 300, 100)),
            2: view(0.8, (400, 300, 800, 600)),  # table: ok
            3: view(0.2, (10, 500, 100, 600)),  # lamp: mostly hidden
            4: view(0.9, (900, 100, 910, 300)),  # tv: box 10 px wide
        },
    )
    assert localization.groundable(scene, frame, localization.Params()) == [("table", 2)]
    (item,) = localization.generate(
        scene.__class__(**{**scene.__dict__, "frames": (frame,)}), localization.Params(), rng, LetterBalancer()
    )
    assert item.question == "Where is the table in the image?"
    assert item.boxes_2d == (("table", (400.0, 300.0, 800.0, 600.0)),)
    assert item.frame_indices == (10,) and item.answer_kind == "grounding"


def test_question_text_lists_objects():
    assert localization.question_text(["bed", "lamp"]) == "Where are the bed and the lamp in the image?"
    assert localization.question_text(["bed", "lamp", "tv"]) == "Where are the bed, the lamp, and the tv in the image?"
