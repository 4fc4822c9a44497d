"""build_report.html on the synthetic scans: parses, links only files that exist, shows every question type with
its frames, boxes where the records put them, a plan per scene, failed scenes and the audit; thumbnails once."""

from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from spatialladder.data.build import build_dataset
from spatialladder.data.html_report import (
    BOX_COLOURS,
    HTML_NAME,
    ReportStats,
    build_html_report,
    thumbnail,
    write_html_report,
)
from spatialladder.data.report import merge_records
from spatialladder.records import GroundingRecord, read_records

from .conftest import SCENES, make_config


class Page(HTMLParser):
    """Every tag with its attributes, in order, plus the page's text."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data):
        self.text.append(data)

    def all(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())]

    @property
    def ids(self) -> set[str]:
        return {a["id"] for _, a in self.tags if "id" in a}


@pytest.fixture(scope="module")
def built(scans, tmp_path_factory):
    out = tmp_path_factory.mktemp("html")
    result = build_dataset(make_config(scans, out), progress=False)
    return result, out


def page_of(out: Path) -> Page:
    return Page((out / HTML_NAME).read_text(encoding="utf-8"))


def local_files(page: Page) -> list[str]:
    """Every file the page shows or links (images, and links that are not anchors on the page)."""
    return [a["src"] for a in page.all("img")] + [a["href"] for a in page.all("a") if not a["href"].startswith("#")]


def load_shards(out: Path) -> list[dict]:
    return [json.loads((out / "shards" / f"{s}.json").read_text()) for s in SCENES]


def test_page_parses_is_self_contained_and_every_link_resolves(built):
    result, out = built
    assert result.files["html_report"] == out / HTML_NAME
    page = page_of(out)
    assert not page.all("script") and not page.all("link") and not page.all("iframe")
    refs = local_files(page)
    assert len(refs) > 50
    for ref in refs:
        assert "://" not in ref and not ref.startswith("/"), ref  # relative: opens from disk, no network
        assert (out / ref).is_file(), ref
        assert (out / ref).resolve().is_relative_to(out.resolve())
    for a in page.all("a"):
        if a["href"].startswith("#"):
            assert a["href"][1:] in page.ids, a["href"]


def test_every_modality_and_question_type_is_sampled_with_its_frames(built):
    _, out = built
    manifest = json.loads((out / "manifest.json").read_text())
    page = page_of(out)
    groups = [(m, t) for m, types in manifest["counts"].items() if m != "coldstart" for t in types]
    assert len(groups) == 19
    text = " ".join(page.text)
    for modality, qtype in groups:
        assert f"s-{modality}--{qtype}" in page.ids
        assert f"{modality} · {qtype}" in text
    spatial_types = {
        t for m, types in manifest["counts"].items() if m not in ("coldstart", "localization") for t in types
    }
    assert {i[2:] for i in page.ids if i.startswith("a-")} == spatial_types  # a histogram per spatial type
    # a sampled multi-view record shows all 8 of its frames, as thumbnails of its own images
    spatial = {json.loads(line)["question_id"]: json.loads(line) for line in (out / "spld_spatial_data.jsonl").open()}
    imgs = [a["src"] for a in page.all("img")]
    multi_view = [q for q, r in spatial.items() if r["modality"] == "multi_view" and f"spatial-{q}" in page.ids]
    assert multi_view
    record = spatial[multi_view[0]]
    for rel in record["image"]:
        assert f"report/thumbs/160/{rel}" in imgs
        with Image.open(out / "report" / "thumbs" / "160" / rel) as thumb:
            assert max(thumb.size) == 160 and thumb.format == "JPEG"


def test_samples_are_seeded_three_per_group(built, tmp_path):
    _, out = built
    cards = sorted(i for i in page_of(out).ids if i.startswith(("spatial-", "grounding-")))
    manifest = json.loads((out / "manifest.json").read_text())
    expected = sum(min(3, n) for m, types in manifest["counts"].items() if m != "coldstart" for n in types.values())
    assert len(cards) == expected
    shards = load_shards(out)
    build_html_report(out, manifest, merge_records(shards), shards, seed=0)  # same seed, same sample
    assert sorted(i for i in page_of(out).ids if i.startswith(("spatial-", "grounding-"))) == cards
    other = tmp_path / "other"
    shutil.copytree(out, other)
    build_html_report(other, manifest, merge_records(shards), shards, seed=1)
    assert sorted(i for i in page_of(other).ids if i.startswith(("spatial-", "grounding-"))) != cards


def test_every_scene_has_a_plan_with_its_cameras(built):
    _, out = built
    page = page_of(out)
    plans = page.all("img", **{"class": "plan"})
    assert len(plans) == len(SCENES)
    for scene, img in zip(SCENES, plans, strict=True):
        assert f"scene-{scene}" in page.ids and img["src"].startswith(f"report/plans/{scene}.")
        with Image.open(out / img["src"]) as png:
            assert png.format == "PNG" and png.width == 400 and 200 <= png.height <= 736  # the room's aspect
    text = " ".join(page.text)
    assert "10 objects" in text and "camera positions" in text and "Camera positions absent" not in text


def _colour_at(image: Image.Image, x: int, y: int) -> tuple[int, int, int]:
    return image.convert("RGB").getpixel((x, y))


def _close(a, b, tol=60) -> bool:
    return all(abs(int(p) - int(q)) <= tol for p, q in zip(a, b, strict=True))


def test_box_drawn_at_the_thumbnail_scale_on_a_known_frame(tmp_path):
    """A white 200×150 frame, box [20, 30, 119, 89] → thumbnail 100×75, box round(v × 0.5) = [10, 15, 60, 44]
    (Python rounds 59.5 and 44.5 to even); the line is 2 px inward from there, the rim 1 px outside."""
    src = tmp_path / "frame.jpg"
    Image.new("RGB", (200, 150), (255, 255, 255)).save(src, quality=95)
    dst = tmp_path / "thumb.jpg"
    thumbnail(src, dst, 100, [[20, 30, 119, 89]], ReportStats())
    with Image.open(dst) as thumb:
        assert thumb.size == (100, 75)
        red = BOX_COLOURS[0]
        for x, y in [(10, 30), (11, 30), (60, 30), (59, 30), (35, 15), (35, 44)]:  # the four sides
            assert _close(_colour_at(thumb, x, y), red), (x, y)
        for x, y in [(9, 30), (61, 30), (35, 14), (35, 45)]:  # the dark rim just outside
            assert max(_colour_at(thumb, x, y)) < 110, (x, y)
        for x, y in [(35, 30), (5, 5), (80, 60), (13, 30)]:  # inside and outside stay white
            assert min(_colour_at(thumb, x, y)) > 200, (x, y)


def _assert_boxes_drawn(thumb: Image.Image, frame_size: tuple[int, int], boxes: list, where: str) -> None:
    """Each box's 2 px line at its scaled place: the left side at its vertical middle, the bottom at its middle."""
    sx, sy = thumb.width / frame_size[0], thumb.height / frame_size[1]
    for k, box in enumerate(boxes):
        x1, y1, x2, y2 = (round(v * s) for v, s in zip(box.bbox_2d, (sx, sy, sx, sy), strict=True))
        x2, y2 = min(x2, thumb.width - 1), min(y2, thumb.height - 1)
        mid_y, mid_x = (y1 + y2) // 2, (x1 + x2) // 2
        assert _close(_colour_at(thumb, x1 + 1, mid_y), BOX_COLOURS[k]), (where, k, "left")
        assert _close(_colour_at(thumb, mid_x, y2 - 1), BOX_COLOURS[k]), (where, k, "bottom")


def test_grounding_thumbnails_draw_the_records_boxes(built, tmp_path):
    """On the synthetic frames: each box's line lies where the record's bbox_2d lands at the thumbnail's scale —
    the page's thumbnails (the 200×150 frames are never enlarged) and the same frames shrunk to 100×75."""
    _, out = built
    page = page_of(out)
    grounding = {r.question_id: r for r in read_records(out / "spld_grounding_data.jsonl", GroundingRecord)}
    html = (out / HTML_NAME).read_text()
    checked = 0
    for qid, record in grounding.items():
        if f'id="grounding-{qid}"' not in html:
            continue
        card = html.split(f'id="grounding-{qid}"', 1)[1]
        src = card.split('src="', 1)[1].split('"', 1)[0]
        assert src.startswith("report/thumbs/boxes/") and src in [a["src"] for a in page.all("img")]
        frame_path = out / "images" / record.image[0]
        with Image.open(frame_path) as frame, Image.open(out / src) as thumb:
            assert frame.size == tuple(record.image_size) and thumb.size == (200, 150)
            _assert_boxes_drawn(thumb, frame.size, record.answer, f"page {qid}")
        small = tmp_path / f"{qid}.jpg"
        thumbnail(frame_path, small, 100, [b.bbox_2d for b in record.answer], ReportStats())
        with Image.open(small) as thumb:
            assert thumb.size == (100, 75)
            _assert_boxes_drawn(thumb, tuple(record.image_size), record.answer, f"half {qid}")
        checked += 1
    assert checked == 3


def test_rerun_reuses_thumbnails_and_figures(built, scans):
    _, out = built
    files = sorted(p for p in (out / "report").rglob("*") if p.is_file())
    before = {p: p.stat().st_mtime_ns for p in files}
    page = (out / HTML_NAME).read_bytes()
    again = build_dataset(make_config(scans, out), progress=False)
    assert all(o.resumed for o in again.scenes.values())
    assert {p: p.stat().st_mtime_ns for p in files} == before  # nothing rewritten
    assert sorted(p for p in (out / "report").rglob("*") if p.is_file()) == files  # nothing added
    assert (out / HTML_NAME).read_bytes() == page
    shards = load_shards(out)
    manifest = json.loads((out / "manifest.json").read_text())
    _, stats = build_html_report(out, manifest, merge_records(shards), shards, seed=0)
    assert stats.thumbs_written == 0 and stats.figures_written == 0
    assert stats.thumbs_reused > 100 and stats.figures_reused == len(SCENES) + 8


def test_failed_scenes_and_audit_rendered_from_the_manifest(built, tmp_path):
    _, built_out = built
    out = tmp_path / "out"
    shutil.copytree(built_out, out)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["scenes"]["scene0002_00"] = {"status": "failed", "reason": "SceneFormatError: bad <aggregation>"}
    manifest["audit"] = {
        "folds": 5, "seed": 0, "seconds": 1.25,
        "rows": [
            {"file": "spatial", "modality": "video", "question_type": "object_counting", "kind": "na", "n": 40,
             "n_scenes": 8, "chance": 10.0, "majority": 62.5, "forest": 71.25, "flagged": True},
            {"file": "spatial", "modality": "video", "question_type": "object_rel_distance", "kind": "mc", "n": 30,
             "n_scenes": 8, "chance": 25.0, "majority": 26.7, "forest": 24.0, "flagged": False},
        ],
    }  # fmt: skip
    manifest["debias"] = {
        "margin_pp": 5.0, "max_removed_fraction": 0.3, "rounds": 2,
        "before": {"video": {"object_counting": 40}}, "after": {"video": {"object_counting": 31}},
    }  # fmt: skip
    shards = load_shards(out)
    build_html_report(out, manifest, merge_records(shards), shards, seed=0)
    html = (out / HTML_NAME).read_text()
    page = Page(html)
    assert {"failed", "audit"} <= page.ids
    failed = html.split('<table class="failed">', 1)[1].split("</table>", 1)[0]
    assert "<td>scene0002_00</td><td>SceneFormatError: bad &lt;aggregation&gt;</td>" in failed
    audit = html.split('<table class="audit">', 1)[1].split("</table>", 1)[0]
    assert ('<tr class="flagged"><td>spatial</td><td>video</td><td>object_counting</td><td>na</td><td>40</td>'
            "<td>8</td><td>10.0</td><td>62.5</td><td>71.2</td><td>yes</td></tr>") in audit  # fmt: skip
    assert "<tr><td>spatial</td><td>video</td><td>object_rel_distance</td><td>mc</td><td>30</td>" in audit
    assert "5-fold" in html and "1.2 s" in html
    debias = html.split('<table class="debias">', 1)[1].split("</table>", 1)[0]
    assert "<td>video</td><td>object_counting</td><td class=n>40</td><td class=n>31</td><td class=n>9</td>" in debias
    # the build's own audit (on by default) is on its page, one table row per audited row; without one, no section
    built_page = (built_out / HTML_NAME).read_text()
    built_rows = json.loads((built_out / "manifest.json").read_text())["audit"]["rows"]
    assert built_page.split('<table class="audit">', 1)[1].split("</table>", 1)[0].count("<tr") == len(built_rows) + 1
    del manifest["audit"], manifest["debias"]
    build_html_report(out, manifest, merge_records(shards), shards, seed=0)
    assert "Shortcut audit" not in (out / HTML_NAME).read_text()


def test_from_meta_scenes_get_object_only_plans(tmp_path, vsi_meta_scannet):
    scenes = tmp_path / "scenes.txt"
    scenes.write_text("scene0025_01\n")
    cfg = make_config(Path("unused"), tmp_path / "out", from_meta=str(vsi_meta_scannet), scenes_file=str(scenes),
                      scannet_root=None)  # fmt: skip
    result = build_dataset(cfg, progress=False)
    out = result.out_dir
    page = page_of(out)
    text = " ".join(page.text)
    assert "Camera positions absent" in text and "(not in the output folder)" in text
    assert len(page.all("img", **{"class": "plan"})) == 1
    for ref in local_files(page):
        assert (out / ref).is_file()
    shard = json.loads((out / "shards" / "scene0025_01.json").read_text())
    assert shard["plan"]["cameras"] is None and shard["plan"]["objects"]


def test_html_report_knob_off(scans, tmp_path):
    cfg = make_config(scans, tmp_path, html_report=False)
    assert write_html_report(cfg, {}, {}, []) == {}
    assert not (tmp_path / HTML_NAME).exists()


BROWSER_PROBE = """<script>
window.addEventListener("load", () => {
  const imgs = [...document.images];
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify({n: imgs.length, broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0))
    .map(i => i.getAttribute("src"))});
  document.body.appendChild(out);
});
</script></body>"""


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_page_renders_its_images_in_headless_chromium(built, tmp_path):
    """Looked at like a person would: Chromium opens the page from disk and every image decodes (a probe script,
    injected into a test copy only, writes each image's naturalWidth check into the DOM), and a screenshot of the
    top of the page is not blank."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium not installed (Debian package `chromium`)")
    _, out = built
    page = out / "probe.html"
    html = (out / HTML_NAME).read_text().replace(' loading="lazy"', "").replace("</body>", BROWSER_PROBE)
    page.write_text(html)
    flags = [
        chromium,
        "--headless",
        "--disable-gpu",
        "--no-sandbox",
        "--hide-scrollbars",
        "--allow-file-access-from-files",
    ]
    dom = subprocess.run(
        [*flags, "--virtual-time-budget=10000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=240, check=True,
    ).stdout  # fmt: skip
    probe = json.loads(dom.split('<pre id="probe">', 1)[1].split("</pre>", 1)[0].replace("&quot;", '"'))
    assert probe["n"] == len(Page(html).all("img")) > 50 and probe["broken"] == []
    shot = tmp_path / "shot.png"
    subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1200,1600", (out / HTML_NAME).as_uri()],
                   capture_output=True, timeout=240, check=True)  # fmt: skip
    with Image.open(shot) as image:
        colours = image.convert("RGB").resize((120, 160)).getcolors(maxcolors=120 * 160)
    assert colours is not None and len(colours) > 50  # text, tables and frame thumbnails, not a blank page
