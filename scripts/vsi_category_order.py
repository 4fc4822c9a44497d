"""Derive VSI-Bench's category order from the released meta-info and check it against every scene.

VSI-Bench's generators enumerate candidate pairs and triples in a scene's ``object_counts`` order. The released
ScanNet meta-info lists every scene's categories in one order; this script recovers it (a topological order of
"a is listed before b in some scene", ties broken by VLM-3R's class lists) and says whether the other released
files share an order. The result is the ``vocabulary`` list of ``spatialladder/scannet/vsi_categories.yaml``.

    python scripts/vsi_category_order.py ../shared/data/vsibench_meta_scannet_val.json \\
        ../shared/data/vsibench_meta_scannetpp_val.json ../shared/data/vsibench_meta_arkitscenes_val.json
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from spatialladder.scannet.labels import load_category_spec

# VLM-3R src/utils/scannetv2_utils.py SCANNETV2_VALID_CATEGORY_NAME + scannet200_utils.py
# SCANNET200_VALID_CATEGORY_NAME, with its remaps applied (desk -> table, trash can / recycling bin -> trash bin,
# mouse -> computer mouse); mattress (absent there, present in the release) next to bed.
TIE_BREAK = [
    "bed", "mattress", "chair", "sofa", "table", "window", "bookshelf", "counter", "refrigerator", "pillow",
    "monitor", "door", "lamp", "printer", "towel", "tv", "nightstand", "plant", "keyboard", "backpack", "trash bin",
    "closet", "microwave", "fan", "washing machine", "mirror", "piano", "radiator", "telephone", "clock", "guitar",
    "bicycle", "oven", "computer mouse",
]  # fmt: skip


def precedence(scene_orders: list[list[str]]) -> dict[str, set[str]]:
    """category -> the categories some scene lists before it."""
    before: dict[str, set[str]] = {}
    for order in scene_orders:
        for i, name in enumerate(order):
            before.setdefault(name, set()).update(order[:i])
    return before


def derive_order(scene_orders: list[list[str]], extra: list[str]) -> list[str] | None:
    """A total order consistent with every scene (None if the scenes disagree), ties by ``TIE_BREAK``."""
    before = precedence(scene_orders)
    for name in extra:
        before.setdefault(name, set())
    rank = {name: i for i, name in enumerate(TIE_BREAK)}
    left = {k: set(v) for k, v in before.items()}
    out = []
    while left:
        ready = [name for name, preds in left.items() if not preds]
        if not ready:
            return None
        pick = min(ready, key=lambda n: (rank.get(n, len(rank)), n))
        out.append(pick)
        del left[pick]
        for preds in left.values():
            preds.discard(pick)
    return out


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("meta_files", nargs="+", type=Path)
    args = parser.parse_args()
    vocabulary = list(load_category_spec().vocabulary)
    for path in args.meta_files:
        data = json.loads(path.read_text(encoding="utf-8"))
        orders = [list(entry["object_counts"]) for entry in data.values()]
        order = derive_order(orders, vocabulary if "scannet_" in path.name else [])
        if order is None:
            logging.info("%s: %d scenes, no shared category order (scenes disagree)", path, len(orders))
            continue
        logging.info("%s: %d scenes share one order:\n%s", path, len(orders), json.dumps(order))
        if "scannet_" in path.name:
            same = order == vocabulary
            logging.info("vsi_categories.yaml vocabulary %s this order", "matches" if same else "DIFFERS FROM")


if __name__ == "__main__":
    main()
