"""Label mapping by raw_category with the real ScanNet tsv (the VLM-3R id-keyed bug must not come back)."""

from __future__ import annotations

from pathlib import Path

import pytest

from spatialladder.errors import ConfigError, DataFormatError
from spatialladder.scannet.labels import load_category_spec, make_label_mapper, read_label_map


@pytest.fixture(scope="module")
def label_map(shared_data) -> Path:
    """ScanNet's own scannetv2-labels.combined.tsv from ../shared/data (skipped, with the path, when absent)."""
    path = shared_data / "scannetv2-labels.combined.tsv"
    if not path.is_file():
        pytest.skip(f"real ScanNet label map not found at {path}")
    return path


@pytest.fixture(scope="module")
def mapper(label_map):
    return make_label_mapper(label_map)


@pytest.mark.parametrize(
    ("raw", "category"),
    [
        ("chair", "chair"), ("door", "door"), ("pillow", "pillow"), ("bookshelf", "bookshelf"), ("lamp", "lamp"),
        ("towel", "towel"), ("washing machine", "washing machine"), ("couch", "sofa"), ("sofa", "sofa"),
        ("desk", "table"), ("trash can", "trash bin"), ("recycling bin", "trash bin"), ("mouse", "computer mouse"),
        ("doors", "door"), ("table lamp", "lamp"), ("office chair", "chair"), ("mattress", "mattress"),
    ],
)  # fmt: skip
def test_vsi_categories_survive_mapping(mapper, raw, category):
    assert mapper.category(raw) == category


@pytest.mark.parametrize("raw", ["wall", "floor", "ceiling", "cabinet", "no such label"])
def test_structure_and_unlisted_labels_are_dropped(mapper, raw):
    assert mapper.category(raw) is None


def test_tsv_ids_are_not_unique_so_we_key_by_raw_category(label_map):
    rows = read_label_map(label_map)
    assert rows["chair"].label_id == rows["stack of chairs"].label_id == 2
    assert rows["door"].label_id == rows["doors"].label_id == 5
    assert len(rows) == 607


def test_packaged_vocabulary_loads():
    spec = load_category_spec()
    assert len(spec.vocabulary) == 34 and "computer mouse" in spec.vocabulary
    assert spec.remap["couch"] == "sofa" and spec.remap["desk"] == "table"


def test_bad_label_map_and_categories_file(tmp_path):
    with pytest.raises(DataFormatError, match="not found"):
        read_label_map(tmp_path / "missing.tsv")
    bad = tmp_path / "bad.tsv"
    bad.write_text("id\tname\n1\twall\n")
    with pytest.raises(DataFormatError, match="bad.tsv.*raw_category"):
        read_label_map(bad)
    cats = tmp_path / "cats.yaml"
    cats.write_text("vocabulary: [chair]\n")
    with pytest.raises(ConfigError, match="cats.yaml.*expected exactly the keys"):
        load_category_spec(cats)
    cats.write_text("scannet20_nyu40: {}\nscannet200_ids: {}\nremap: {desk: table}\nvocabulary: [chair]\n")
    with pytest.raises(ConfigError, match="remap target 'table'"):
        load_category_spec(cats)
    with pytest.raises(ConfigError, match="label_map is not set"):
        make_label_mapper(None)


def test_label_map_defaults_to_scannets_own_copy_beside_scans(tmp_path) -> None:
    """Needs no ../shared: the shipped subset of the real tsv (checked against it below) stands in for ScanNet's."""
    import shutil

    from spatialladder.testing.synthetic_scannet import synthetic_label_map

    scans = tmp_path / "ScanNet" / "scans"
    scans.mkdir(parents=True)
    with pytest.raises(ConfigError, match=r"none was found in .*scans or its parent"):
        make_label_mapper(None, scans_root=scans)
    shutil.copy(synthetic_label_map(), scans.parent / "scannetv2-labels.combined.tsv")
    assert make_label_mapper(None, scans_root=scans).category("couch") == "sofa"


def test_shipped_synthetic_label_map_is_a_faithful_subset_of_the_real_tsv(label_map):
    from spatialladder.testing.synthetic_scannet import DEFAULT_OBJECTS, synthetic_label_map

    real = {line.split("\t")[1]: line for line in label_map.read_text().splitlines()}
    shipped = synthetic_label_map().read_text().splitlines()
    assert shipped[0] == label_map.read_text().splitlines()[0]
    for line in shipped[1:]:
        assert real[line.split("\t")[1]] == line
    names = {line.split("\t")[1] for line in shipped[1:]}
    assert {o.raw_label for o in DEFAULT_OBJECTS} <= names


def test_vocabulary_is_in_vsibench_category_order(shared_data):
    """Every released ScanNet scene lists its categories in the shipped vocabulary's order (VSI-Bench enumerates
    candidates in that order), and the vocabulary holds every category the release uses."""
    import json

    order = list(load_category_spec().vocabulary)
    path = shared_data / "vsibench_meta_scannet_val.json"
    if not path.is_file():
        pytest.skip(f"released VSI-Bench meta-info not found at {path}")
    data = json.loads(path.read_text(encoding="utf-8"))
    for scene, entry in data.items():
        listed = list(entry["object_counts"])
        assert set(listed) <= set(order), scene
        assert listed == sorted(listed, key=order.index), scene
