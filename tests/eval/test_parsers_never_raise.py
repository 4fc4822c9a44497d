"""Property tests: the new benchmark scorers accept any model output without raising."""

from hypothesis import given, settings
from hypothesis import strategies as st

from spatialladder.eval.base import EvalSample
from spatialladder.eval.mindcube import extract_answer
from spatialladder.eval.mindcube import score as mindcube_score
from spatialladder.eval.mmsi import extract_choice
from spatialladder.eval.mmsi import score as mmsi_score
from spatialladder.eval.sparbench import score, score_official

SPAR_SAMPLES = [
    EvalSample("a", "obj_spatial_relation_oo", "q", "B", "mca"),
    EvalSample("b", "depth_prediction_oc_mv", "q", "2.5", "na"),
    EvalSample("c", "distance_prediction_oo", "q", "0", "na"),
    EvalSample("d", "view_change_infer", "q", "move_right:1,rotate_left:20", "free"),
]
MC = EvalSample("e", "MSR", "q", "C", "mca")
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80) | st.sampled_from(
    ["", "``", "`{}`", ":", ",", "move_up:", "move_up:1e999,rotate_left:nan", "^2.5", "A.", "<Answer>", "\n\n"]
)


@settings(max_examples=150, deadline=None)
@given(TEXT)
def test_scorers_never_raise_and_stay_in_range(text: str):
    for sample in SPAR_SAMPLES:
        for scorer in (score, score_official):
            value, parsed = scorer(text, sample, "spatialladder")
            assert 0.0 <= value <= 1.0 and isinstance(parsed, bool)
    for scorer in (mmsi_score, mindcube_score):
        value, _ = scorer(text, MC, "spatialladder")
        assert value in (0.0, 1.0)
    assert extract_choice(text) in (None, "A", "B", "C", "D")
    assert extract_answer(text) in (None, "A", "B", "C", "D", "E")
