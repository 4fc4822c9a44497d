"""One way to load a Qwen2.5-VL model and processor, from a Hub id or a local folder, for every stage.

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

logger = logging.getLogger(__name__)

SUPPORTED_MODEL_TYPES = ("qwen2_5_vl",)
_DTYPES = {"float32": "float32", "bfloat16": "bfloat16", "float16": "float16"}


@dataclass
class LoadedModel:
    model: Any
    processor: Any
    peft_config: Any | None  # a peft.LoraConfig for trl to wrap the model with, when LoRA is asked for
    source: str


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


def _check_model_type(source: str) -> None:
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(source, trust_remote_code=False)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"model {source}: cannot read its config ({exc.__class__.__name__}: {exc})") from None
    if config.model_type not in SUPPORTED_MODEL_TYPES:
        raise ModelLoadError(
            f"model {source}: model_type {config.model_type!r} is not supported; "
            f"expected one of {', '.join(SUPPORTED_MODEL_TYPES)} (a Qwen2.5-VL checkpoint)"
        )


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


def load_processor(source: str, settings: ModelSettings) -> Any:
    """The processor with the configured pixel budget applied once, to images and videos alike."""
    from transformers import AutoProcessor

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
    # qwen-vl-utils' rule: a frame's cap is also bounded by an even share of a whole-video budget. With the paper's
    # 128·28·28 per frame and ≤ 32 frames the share is far larger, so this only matters for very long frame lists.
    processor.video_processor.cap_pixels_per_frame = True
    return processor


def load_model_and_processor(settings: ModelSettings, *, for_training: bool = False) -> LoadedModel:
    """Load model + processor as ``settings`` says; LoRA is returned as a peft config for trl to apply."""
    from transformers import AutoModelForImageTextToText

    source = resolve_source(settings.name_or_path)
    _check_attention(settings.attn_implementation)
    adapter_file = Path(source) / "adapter_config.json"
    base = source
    if adapter_file.is_file():
        base = json.loads(adapter_file.read_text())["base_model_name_or_path"]
        base = resolve_source(base)
    _check_model_type(base)
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
    processor = load_processor(source if (Path(source) / "processor_config.json").exists() else base, settings)
    if settings.freeze_vision_tower:
        for param in model.model.visual.parameters():
            param.requires_grad_(False)
    peft = lora_config(settings.lora) if (for_training and settings.lora is not None) else None
    return LoadedModel(model=model, processor=processor, peft_config=peft, source=source)
