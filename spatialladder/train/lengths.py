"""Each SFT row's token count (text + vision), computed once from the record, without pixels.

Length-grouped batching (``trainer.train_sampling_strategy: group_by_length``) needs one length per row before
training starts. Building the rows would decode every image and run the processor on 26k records; instead:

- vision tokens come from the image sizes in the file headers and the processor's own resize rule
  (``get_number_of_image_patches`` / ``get_num_of_video_patches``, Qwen2.5-VL's ``smart_resize`` at the
  configured pixel bounds, the helpers vLLM uses for the same purpose), divided by ``merge_size²``;
- text tokens come from the tokenizer on the chat template rendered with one placeholder per image or video
  (:meth:`SFTRows.messages`, the row's own text, so system prompt, template and targets are all counted).

The result equals the row's non-padding token count after collation (``attention_mask.sum()``), capped at
``max_length`` when truncation is on; ``tests/train/test_grouping.py`` checks this for every tiny record.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from spatialladder.train.media import image_file_size, official_pre_resize_size

logger = logging.getLogger(__name__)


def image_tokens(processor: Any, width: int, height: int) -> int:
    """Merged vision tokens of one image of ``width``×``height`` as the processor resizes it."""
    ip = processor.image_processor
    return ip.get_number_of_image_patches(height, width, {}) // ip.merge_size**2


def video_tokens(processor: Any, num_frames: int, width: int, height: int) -> int:
    """Merged vision tokens of a ``num_frames``-frame video, frames padded to the temporal patch as the processor
    does; the per-frame cap of ``cap_pixels_per_frame`` (qwen-vl-utils' whole-video budget) applied as in
    ``Qwen2VLVideoProcessor.resize``."""
    vp = processor.video_processor
    size = dict(vp.size)
    if getattr(vp, "cap_pixels_per_frame", None):
        factor = vp.patch_size * vp.merge_size
        total = int(vp.max_video_tokens * factor * factor * 0.9)
        share = total * vp.temporal_patch_size // num_frames
        size["longest_edge"] = max(min(size["longest_edge"], share), int(size["shortest_edge"] * 1.05))
    return vp.get_num_of_video_patches(num_frames, height, width, {"size": size}) // vp.merge_size**2


def row_lengths(rows: Any, max_length: int | None = None) -> list[int]:
    """Token count of every row of an ``SFTRows`` (text + vision), from file headers and the tokenizer."""
    start = time.perf_counter()
    processor = rows.processor
    conversations, vision = [], []
    for s in rows.samples:
        sizes = [image_file_size(p) for p in (s.media[:1] if s.data_type == "video" else s.media)]
        if rows.image_resize == "official" and s.data_type != "video":
            sizes = [official_pre_resize_size(w, h) for w, h in sizes]
        if s.data_type == "video":
            items = [{"type": "video"}]
            count = video_tokens(processor, len(s.media), *sizes[0])
        else:
            items = [{"type": "image"} for _ in sizes]
            count = sum(image_tokens(processor, w, h) for w, h in sizes)
        conversations.append(rows.messages(s, items, sizes[0] if sizes else None))
        vision.append(count - len(items))  # each placeholder token becomes ``count`` tokens
    texts = processor.apply_chat_template(conversations, tokenize=False)
    ids = processor.tokenizer(texts, add_special_tokens=False)["input_ids"]
    lengths = [len(t) + v for t, v in zip(ids, vision, strict=True)]
    if max_length is not None:
        lengths = [min(n, max_length) for n in lengths]
    logger.info(
        "row lengths of %d samples in %.1f s (min %d, max %d tokens)",
        len(lengths),
        time.perf_counter() - start,
        min(lengths, default=0),
        max(lengths, default=0),
    )
    return lengths
