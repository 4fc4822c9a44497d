"""Padding-free SFT batches (``padding_free: true``): the batch's rows laid end to end, no padding token computed.

trl 1.16's own ``padding_free`` refuses vision datasets and custom collators (``SFTTrainer.__init__``), so it cannot
serve our rows. Qwen2.5-VL and Qwen3-VL in transformers 5.24 do accept packed rows: ``input_ids`` of shape ``(1, T)``
with no ``attention_mask`` and ``position_ids`` of shape ``(4, 1, T)`` — row 0 the text positions restarting at 0 for
each packed row (flash-attention derives the varlen ``cu_seqlens`` from them; sdpa/eager build the block-diagonal mask
from them), rows 1–3 the row's own 3-D mRoPE positions (``Qwen2_5_VLTextModel.forward``: "User specifically passed
packed ``position_ids`` and no attention mask", ``modeling_qwen2_5_vl.py`` 811-820; ``Qwen3VLTextModel.forward``,
``modeling_qwen3_vl.py`` 795-797; Qwen3.5's text model alike, 1249-1251, but its linear-attention layers need their
varlen kernels). The vision tensors are unchanged: their order is the rows' order.

The collator builds the usual padded batch first (one processor call, same labels), then packs it with
:func:`pack_batch`: the mRoPE positions are the model family's own ``get_rope_index`` run here on the padded batch
(:class:`RopeIndex`), so each packed row gets exactly the positions the padded forward would give it, and every
row's first label becomes -100 (it would otherwise be predicted from the previous row's last token; in the padded
batch it is never a target either). Per-row losses are therefore those of the padded batch.

The speed-up needs flash-attention's varlen kernels on CUDA: with sdpa the packed batch gets a ``T × T`` mask,
which is why ``padding_free`` requires ``model.attn_implementation: flash_attention_2`` (schema) and CUDA with the
flash-attn package (``trl_args.check_padding_free_runtime``, run by ``config validate`` and by the trainer).

Known gap: trl 1.16 counts a packed batch's tokens for its ``num_tokens`` log as ``position_ids.size(1)``, which
is 1 for our ``(4, 1, T)`` positions, so that logged figure is wrong under ``padding_free`` (losses are not).

This module imports torch and transformers at import time; the collator imports it only when packing.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers.models.auto.modeling_auto import MODEL_MAPPING

from spatialladder.models.families import family_for

PACKED_KEYS = ("input_ids", "labels", "mm_token_type_ids")
"""Per-token tensors that are packed; every other key (pixel values, grids, frame times) passes unchanged."""


class RopeIndex:
    """The model's own ``get_rope_index`` (transformers' code of the config's base model class: ``Qwen2_5_VLModel``,
    ``Qwen3VLModel``, ``Qwen3_5Model`` or their MoE twins) run outside the model. It reads only the model config
    (``vision_config.spatial_merge_size``; Qwen2.5-VL also ``tokens_per_second``) and the class's
    ``get_vision_position_ids``, so the collator can hold it, also in DataLoader workers (the class pickles by
    name). ``second_per_grid_ts`` reaches it only where the family's video time is in the rope (Qwen2.5-VL)."""

    def __init__(self, config: Any) -> None:
        self.config = config
        self.model_class = MODEL_MAPPING[type(config)]
        self.vision_inputs = family_for(config).vision_inputs

    def get_vision_position_ids(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        """The class's own, which its ``get_rope_index`` calls on ``self``."""
        return self.model_class.get_vision_position_ids(self, *args, **kwargs)

    def get_rope_index(self, *args: Any, **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """The class's own ``get_rope_index``: ``(3, B, L)`` positions and ``(B, 1)`` rope deltas."""
        return self.model_class.get_rope_index(self, *args, **kwargs)

    def __call__(self, batch: dict[str, Any]) -> torch.Tensor:
        """The ``(3, B, L)`` mRoPE positions of a padded batch (zeros at padding), as the model would compute them."""
        grids = {k: batch.get(k) for k in ("image_grid_thw", "video_grid_thw")}
        if "second_per_grid_ts" in self.vision_inputs:
            grids["second_per_grid_ts"] = batch.get("second_per_grid_ts")
        positions, _ = self.get_rope_index(
            batch["input_ids"], batch["mm_token_type_ids"], attention_mask=batch["attention_mask"], **grids
        )
        return positions


def pack_batch(batch: dict[str, Any], rope_index: RopeIndex) -> dict[str, Any]:
    """A padded collator batch → the same rows packed into one sequence (no ``attention_mask``, ``position_ids``
    ``(4, 1, T)`` with T the batch's real token count)."""
    mask = batch["attention_mask"].bool()
    mrope = rope_index(batch)[:, mask]  # (3, T), rows in order, padding dropped
    text = torch.cat([torch.arange(int(n)) for n in mask.sum(dim=1)])
    packed = {k: v for k, v in batch.items() if k not in (*PACKED_KEYS, "attention_mask")}
    for key in PACKED_KEYS:
        if key in batch:
            packed[key] = batch[key][mask][None]
    packed["labels"][0, text == 0] = -100
    packed["position_ids"] = torch.cat([text[None].to(mrope.dtype), mrope])[:, None]
    return packed
