"""One way to load a Qwen-family VLM and its processor, from a Hub id or a local folder, for every stage.

The same function serves training (optional frozen vision tower, LoRA) and evaluation (a LoRA adapter folder is
loaded onto its base model and merged), so a checkpoint written by one rung loads unchanged in the next.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spatialladder.config.base import LoraSettings, ModelSettings
from spatialladder.errors import ModelLoadError
from spatialladder.models.families import BY_MODEL_TYPE, ModelFamily, family_for

logger = logging.getLogger(__name__)

SUPPORTED_MODEL_TYPES = tuple(BY_MODEL_TYPE)
MAX_VIDEO_FRAMES = 2048
"""Frames a video may have before the whole-video budget of a Qwen3-family processor, not the per-frame one, binds
(lmms-eval's Qwen3.5 wrapper samples at most 768)."""
_DTYPES = {"float32": "float32", "bfloat16": "bfloat16", "float16": "float16"}


@dataclass
class LoadedModel:
    model: Any
    processor: Any
    peft_config: Any | None  # a peft.LoraConfig for trl to wrap the model with, when LoRA is asked for
    source: str
    family: ModelFamily  # the model family's facts (models/families/): stages ask it, not model_type


def _looks_like_path(name: str) -> bool:
    """Hub ids are ``org/name``; anything else, or an ``a/b`` whose ``a`` is a local folder, is a path."""
    return name.startswith((".", "/", "~")) or name.count("/") != 1 or Path(name).parent.is_dir()


def resolve_source(name_or_path: str) -> str:
    """A local folder if it exists; otherwise a Hub id. A path-like name that does not exist is an error."""
    path = Path(name_or_path).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelLoadError(f"model path {name_or_path}: is a file; expected a checkpoint folder")
        if not (path / "config.json").is_file() and not (path / "adapter_config.json").is_file():
            raise ModelLoadError(
                f"model path {name_or_path}: no config.json or adapter_config.json inside; "
                "expected a folder written by save_pretrained"
            )
        return str(path)
    if _looks_like_path(name_or_path):
        raise ModelLoadError(f"model path {name_or_path}: does not exist (and is not a Hub id of the form org/name)")
    return name_or_path


def check_model_type(source: str) -> ModelFamily:
    """The family of ``source``'s ``config.json``, read before any weights; one line listing the supported families
    otherwise. (The class to load is ``AutoModelForImageTextToText`` for every family: ``AutoModelForCausalLM`` maps
    ``qwen3_5`` to the text-only ``Qwen3_5ForCausalLM``, without the vision tower.)"""
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(source, trust_remote_code=False)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"model {source}: cannot read its config ({exc.__class__.__name__}: {exc})") from None
    return family_for(config, f"model {source}")


def base_source(source: str) -> str:
    """The checkpoint whose weights load: ``source`` itself, or the base model a LoRA adapter folder names."""
    adapter_file = Path(source) / "adapter_config.json"
    if not adapter_file.is_file():
        return source
    return resolve_source(json.loads(adapter_file.read_text())["base_model_name_or_path"])


def model_family(name_or_path: str) -> ModelFamily:
    """The family of a checkpoint (or of a LoRA adapter's base model), read from its ``config.json`` without loading
    weights: what a stage needs to know before it loads the model (e.g. eval's default input protocol)."""
    return check_model_type(base_source(resolve_source(name_or_path)))


def _torch_dtype(name: str) -> Any:
    import torch

    return "auto" if name == "auto" else getattr(torch, _DTYPES[name])


def _check_attention(impl: str) -> None:
    if impl != "flash_attention_2":
        return
    import importlib.util

    import torch

    if importlib.util.find_spec("flash_attn") is None or not torch.cuda.is_available():
        raise ModelLoadError(
            "model.attn_implementation=flash_attention_2 needs CUDA and the flash-attn package "
            "(pip install 'spatialladder[flash-attn]'); use sdpa otherwise"
        )


def lora_config(settings: LoraSettings) -> Any:
    from peft import LoraConfig

    return LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=settings.target_modules,
        task_type="CAUSAL_LM",
    )


def load_processor(source: str, settings: ModelSettings, family: ModelFamily | None = None) -> Any:
    """The processor with the configured pixel budget applied once, to images and videos alike; a budget below one
    merged token of the family (28² or 32² px) is refused."""
    from transformers import AutoProcessor

    if family is not None:
        for key in ("min_pixels", "max_pixels"):
            value = getattr(settings, key)
            if value is not None and value < family.token_pixels:
                raise ModelLoadError(
                    f"model.{key}: {value} px is less than one {family.name} vision token "
                    f"({family.pixel_factor}×{family.pixel_factor} = {family.token_pixels} px)"
                )

    try:
        processor = AutoProcessor.from_pretrained(source, trust_remote_code=False)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"model {source}: cannot load its processor ({exc})") from None
    for part in (processor.image_processor, processor.video_processor):
        size = dict(part.size)
        if settings.min_pixels is not None:
            size["shortest_edge"] = settings.min_pixels
        if settings.max_pixels is not None:
            size["longest_edge"] = settings.max_pixels
        part.size = {"shortest_edge": size["shortest_edge"], "longest_edge": size["longest_edge"]}
    video = processor.video_processor
    # qwen-vl-utils' rule: a frame's cap is also bounded by an even share of a whole-video budget. With the paper's
    # 128·28·28 per frame and ≤ 32 frames the share is far larger, so this only matters for very long frame lists.
    video.cap_pixels_per_frame = True
    if family is not None and family.video_size_is_whole_video and settings.max_pixels is not None:
        # Qwen3-VL's video processor reads longest_edge over all frames and max_video_tokens per frame: the
        # per-frame budget (model.max_pixels) goes to max_video_tokens, and the whole-video budget is that many frames'
        # worth; without model.max_pixels the checkpoint's own budgets stand
        # (``Qwen3VLVideoProcessor.resize``: per frame max(min(max_video_tokens·32², longest_edge // T), 1.05·min))
        per_frame = video.size["longest_edge"]
        video.max_video_tokens = max(1, per_frame // family.token_pixels)
        video.size = {"shortest_edge": video.size["shortest_edge"], "longest_edge": per_frame * MAX_VIDEO_FRAMES}
    return processor


def load_model_and_processor(settings: ModelSettings, *, for_training: bool = False) -> LoadedModel:
    """Load model + processor as ``settings`` says; LoRA is returned as a peft config for trl to apply."""
    from transformers import AutoModelForImageTextToText

    source = resolve_source(settings.name_or_path)
    _check_attention(settings.attn_implementation)
    adapter_file = Path(source) / "adapter_config.json"
    base = base_source(source)
    family = check_model_type(base)
    try:
        model = AutoModelForImageTextToText.from_pretrained(
            base,
            dtype=_torch_dtype(settings.dtype),
            attn_implementation=settings.attn_implementation,
            trust_remote_code=False,
        )
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"model {base}: cannot load weights ({exc})") from None
    if adapter_file.is_file():
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, source).merge_and_unload()
        model.requires_grad_(True)  # peft froze the base weights; merged, they are the next stage's weights to train
        logger.info("merged LoRA adapter %s into %s", source, base)
    processor_source = source if (Path(source) / "processor_config.json").exists() else base
    processor = load_processor(processor_source, settings, family)
    if settings.freeze_vision_tower:
        for param in vision_tower(model, family).parameters():
            param.requires_grad_(False)
    peft = lora_config(settings.lora) if (for_training and settings.lora is not None) else None
    return LoadedModel(model=model, processor=processor, peft_config=peft, source=source, family=family)


def vision_tower(model: Any, family: ModelFamily) -> Any:
    """The vision tower module at the family's path (``model.visual`` for every family so far)."""
    import operator

    return operator.attrgetter(family.vision_tower)(model)
