"""``results.html``: an eval run writes a page that parses, whose every picture exists, that lists every task, whose
gallery holds only wrong answers with the frames the model saw, and whose option-letter confusion is exact."""

import html
import io
import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from spatialladder.cli import app
from spatialladder.eval import get_benchmark
from spatialladder.eval.base import EvalSample
from spatialladder.eval.html_report import Evidence, option_letter, write_html, wrong_rows
from spatialladder.eval.runner import run_eval
from spatialladder.eval.video import Uniform, frame_indices
from spatialladder.testing.synthetic_benchmarks import BenchItem, solid_frames, write_cvbench, write_vsibench

from .test_runner import make_cfg


class Page(HTMLParser):
    """What the tests read back: gallery items (attributes, image sources, titles), confusion tables, score rows."""

    def __init__(self, text: str):
        super().__init__()
        self.items: list[dict] = []
        self.images: list[str] = []
        self.confusion: dict[str, list[list[str]]] = {}
        self.score_rows: dict[str, list[str]] = {}
        self._table: tuple[str, str] | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._depth = 0
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "div" and a.get("class") == "item":
            self.items.append({**a, "imgs": [], "titles": []})
            self._depth = 1
        elif tag == "div" and self._depth:
            self._depth += 1
        if tag == "img":
            self.images.append(a["src"])
            if self._depth:
                self.items[-1]["imgs"].append(a["src"])
                self.items[-1]["titles"].append(a.get("title"))
        if tag == "table":
            self._table = (a.get("class", ""), a.get("data-task", ""))
            if self._table[0] == "confusion":
                self.confusion[self._table[1]] = []
        if tag == "tr":
            self._flush_row()
            self._row = [] if a.get("data-task") is None else [f"@{a['data-task']}"]
        if tag in ("td", "th"):
            self._flush_cell()
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "div" and self._depth:
            self._depth -= 1
        if tag == "table":
            self._flush_row()
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def _flush_cell(self):
        if self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
        self._cell = None

    def _flush_row(self):
        self._flush_cell()
        if self._row is not None and self._table is not None:
            kind, task = self._table
            if kind == "confusion":
                self.confusion[task].append(self._row)
            elif kind == "scores" and self._row and self._row[0].startswith("@"):
                self.score_rows[self._row[0][1:]] = self._row[2:]  # after the task's own cell
        self._row = None


def confusion_counts(rows: list[list[str]]) -> dict[str, dict[str, int]]:
    head, *body = rows
    return {row[0]: {c: int(v) for c, v in zip(head[1:], row[1:], strict=True) if int(v)} for row in body}


def read_page(out: Path, name: str = "results.html") -> Page:
    page = Page((out / name).read_text(encoding="utf-8"))
    missing = [src for src in page.images if not (out / src).is_file()]
    assert not missing, missing
    return page


def scores(out: Path) -> dict[str, dict]:
    return {row["id"]: row for row in map(json.loads, (out / "scores.jsonl").read_text().splitlines())}


def test_eval_run_writes_a_page_with_only_wrong_answers_and_the_frames_seen(
    tiny_model_dir: Path, vsi_dir: Path, tmp_path: Path
):
    out = tmp_path / "run"
    run_eval(make_cfg(tiny_model_dir, vsi_dir, out, frames=4))
    page = read_page(out)
    samples = get_benchmark("vsi").load(vsi_dir)
    for question_type in {s.question_type for s in samples}:
        assert question_type in page.score_rows, question_type
    rows = scores(out)
    wrong = {i for i, row in rows.items() if row["score"] < 1.0}
    assert {item["data-id"] for item in page.items} == wrong  # 6 questions: all wrong ones fit the 24 shown
    assert "results.png" in page.images
    seen = [str(i) for i in frame_indices(6, 4)]  # the synthetic videos have 6 frames; the run took 4
    for item in page.items:
        assert item["data-frames"] == "4" and len(item["imgs"]) == 4
        assert item["titles"] == [f"frame {i} of 6" for i in seen]
    predictions = {r["id"]: r["prediction"] for r in map(json.loads, (out / "predictions.jsonl").open())}
    text = (out / "results.html").read_text(encoding="utf-8")
    for item in page.items:  # the raw output is shown, escaped
        assert f"<pre>{html.escape(predictions[item['data-id']])}</pre>" in text


def mc_vsi(tmp_path: Path) -> Path:
    opts = ["A. bed", "B. tv", "C. sofa", "D. lamp"]
    golds = ["A", "A", "B", "C", "D", "B"]
    items = [
        BenchItem("object_rel_distance", f"Which is closest {k}?", g, "scene0000_00", solid_frames(4), options=opts)
        for k, g in enumerate(golds)
    ]
    items.append(BenchItem("object_counting", "How many chairs?", "3", "scene0000_00", solid_frames(4)))
    return write_vsibench(items, tmp_path / "vsi")


def test_confusion_equals_the_hand_count_of_a_predictions_file_scored_by_the_cli(tmp_path: Path):
    data = mc_vsi(tmp_path)
    answers = ["A", "C. sofa", "(b)", "I think C", "", "B.", "3"]
    preds = tmp_path / "preds.jsonl"
    preds.write_text("".join(json.dumps({"id": str(i), "prediction": a}) + "\n" for i, a in enumerate(answers)))
    out = tmp_path / "scored"
    result = CliRunner().invoke(
        app,
        ["score", "--bench", "vsi", "--predictions", str(preds), "--data", str(data), "--out", str(out)]
        + ["--prompt", "direct"],
    )
    assert result.exit_code == 0, result.output
    page = read_page(out)
    assert set(page.confusion) == {"object_rel_distance"}  # counting is not multiple choice
    assert confusion_counts(page.confusion["object_rel_distance"]) == {
        "A": {"A": 1, "C": 1},
        "B": {"B": 2},
        "C": {"unparsed": 1},
        "D": {"unparsed": 1},
    }
    assert page.confusion["object_rel_distance"][0][1:] == ["A", "B", "C", "D", "unparsed"]
    # score: which frames the predictions were made from is unknown, so the gallery is text only and says so
    # "(b)" names B (the table's diagonal) but VSI-Bench's first-token rule scores it wrong: it is in the gallery
    assert {item["data-id"] for item in page.items} == {"1", "2", "3", "4"}
    assert all(item["data-frames"] == "0" for item in page.items)
    assert "video frames not shown" in (out / "results.html").read_text(encoding="utf-8")


def test_image_benchmark_gallery_shows_each_questions_own_image(tiny_model_dir: Path, tmp_path: Path):
    frames = [solid_frames(1, seed=k)[0] for k in range(4)]
    items = [
        BenchItem("Count", f"How many {k}? (A) 1 (B) 2", "(B)", "x", [frames[k]], source=("COCO", "Omni3D")[k % 2])
        for k in range(4)
    ]
    data = write_cvbench(items, tmp_path / "cv")
    out = tmp_path / "run"
    run_eval(make_cfg(tiny_model_dir, data, out, bench="cvbench", frames=1))
    page = read_page(out)
    rows = scores(out)
    assert {item["data-id"] for item in page.items} == {i for i, r in rows.items() if r["score"] < 1.0}
    assert page.items, "the tiny random model answers some of these wrong"
    colour = {
        s.id: np.asarray(Image.open(io.BytesIO(s.images[0]))).reshape(-1, 3)[0]
        for s in get_benchmark("cvbench").load(data)
    }
    for item in page.items:
        assert item["data-frames"] == "1" and len(item["imgs"]) == 1
        thumb = np.asarray(Image.open(out / item["imgs"][0]).convert("RGB"), dtype=float)
        assert np.abs(thumb.mean(axis=(0, 1)) - colour[item["data-id"]]).max() < 4  # its own image, JPEG-close


def hand_results(**extra) -> dict:
    return {
        "bench": "vsibench",
        "overall": 40.0,
        "n": 10,
        "n_unparsed": 1,
        "n_missing": 0,
        "scoring_profile": "vsibench-2024",
        "aggregate": {
            "overall": 40.0,
            "per_type": {"object_counting": 30.0, "room_size_estimation": 50.0},
            "per_source": {
                "arkitscenes": {"overall": 20.0, "per_type": {"object_counting": 20.0}, "n": 4},
                "scannet": {
                    "overall": 55.0,
                    "per_type": {"object_counting": 60.0, "room_size_estimation": 50.0},
                    "n": 6,
                },
            },
        },
        "per_type_counts": {
            "object_counting": {"n": 6, "n_unparsed": 1},
            "room_size_estimation": {"n": 4, "n_unparsed": 0},
        },
        **extra,
    }


def test_per_source_and_vision_gain_columns_come_from_the_shared_keys(tmp_path: Path):
    gain = {
        "overall": 12.5,
        "per_type": {"object_counting": -2.0, "room_size_estimation": 27.0},
        "blind_file": "results.blind.json",
        "sighted_file": "results.json",
    }
    (tmp_path / "results.blind.html").write_text("<html></html>")
    write_html(hand_results(blind=False, vision_gain=gain), [], tmp_path)
    page = read_page(tmp_path)
    assert page.score_rows == {
        "object_counting": ["6", "1", "30.00", "20.00", "60.00", "-2.00"],
        "room_size_estimation": ["4", "0", "50.00", "–", "50.00", "+27.00"],
    }
    text = (tmp_path / "results.html").read_text(encoding="utf-8")
    assert "arkitscenes (n=4)" in text and "vision gain (pp)" in text and "href='results.blind.html'" in text
    assert "+12.50 pp" in text


def test_a_blind_page_says_so_and_plain_results_have_no_extra_columns(tmp_path: Path):
    results = hand_results()
    del results["aggregate"]["per_source"]
    write_html({**results, "blind": True}, [], tmp_path, stem="results.blind")
    page = read_page(tmp_path, "results.blind.html")
    assert page.score_rows["object_counting"] == ["6", "1", "30.00"]
    assert "blind: no images or video shown" in (tmp_path / "results.blind.html").read_text(encoding="utf-8")


def test_option_letters_and_the_seeded_draw():
    assert [option_letter(t) for t in ["C", "(c)", "C. sofa", "Answer: B", "[d].", "The answer", "", "12"]] == [
        "C",
        "C",
        "C",
        "B",
        "D",
        None,
        None,
        None,
    ]
    rows = [{"id": str(i), "score": 1.0 if i % 3 == 0 else 0.25} for i in range(90)]
    drawn = wrong_rows(rows, seed=7)
    assert len(drawn) == 24 and all(r["score"] < 1 for r in drawn)
    assert drawn == wrong_rows(rows, seed=7) != wrong_rows(rows, seed=8)
    assert [int(r["id"]) for r in drawn] == sorted(int(r["id"]) for r in drawn)


CHECK_IMAGES = """<script>
window.addEventListener('load', () => {
  const imgs = Array.from(document.images);
  const shown = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.setAttribute('data-images', imgs.length + '/' + shown);
});
</script>"""


@pytest.mark.slow
def test_headless_chromium_renders_every_image(tiny_model_dir: Path, vsi_dir: Path, tmp_path: Path):
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    out = tmp_path / "run"
    run_eval(make_cfg(tiny_model_dir, vsi_dir, out, frames=4))
    probe = out / "probe.html"  # the page itself carries no script; a copy beside it reports what loaded
    probe.write_text((out / "results.html").read_text(encoding="utf-8").replace("</body>", CHECK_IMAGES + "</body>"))
    flags = [chromium, "--headless", "--disable-gpu", "--no-sandbox", "--virtual-time-budget=5000"]
    dom = subprocess.run([*flags, "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=120)
    n_images = len(read_page(out).images)
    assert f'data-images="{n_images}/{n_images}"' in dom.stdout, dom.stderr[-2000:]
    shot = tmp_path / "shot.png"
    subprocess.run(
        [*flags, "--window-size=1200,900", f"--screenshot={shot}", (out / "results.html").as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    pixels = np.asarray(Image.open(shot).convert("L"))
    assert pixels.std() > 10  # not a blank page


def test_an_unreadable_video_is_a_note_and_a_redraw_leaves_only_its_own_thumbnails(vsi_dir: Path, tmp_path: Path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    video = next((vsi_dir / "scannet").glob("*.mp4"))
    samples = [
        EvalSample(str(k), "object_counting", "How many?", "2", "na", video=broken if k == 0 else video)
        for k in range(30)
    ]
    rows = [{"id": s.id, "question_type": s.question_type, "answer": "7", "score": 0.0} for s in samples]
    predictions = {s.id: {"prediction": "7"} for s in samples}
    results = hand_results()
    out = tmp_path / "out"
    out.mkdir()
    for seed in (0, 1):  # two draws of 24 of the 30 wrong answers
        write_html(results, rows, out, evidence=Evidence(samples, predictions, Uniform(4), seed=seed))
        page = read_page(out)
        assert len(page.items) == 24
        assert {len(item["imgs"]) for item in page.items if item["data-id"] != "0"} == {4}
        on_disk = {p.relative_to(out).as_posix() for p in (out / "results_files").iterdir()}
        assert on_disk == {src for src in page.images}  # 4 frames of the one good video, written once
    assert "0" in {item["data-id"] for item in page.items}  # seed 1 draws the broken one (seed 0 does not)
    broken_item = next(item for item in page.items if item["data-id"] == "0")
    assert broken_item["data-frames"] == "0"
    assert "video frames not shown" in (out / "results.html").read_text(encoding="utf-8")
