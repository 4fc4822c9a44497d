"""The tiny local Qwen2.5-VL is a real Qwen2.5-VL: vision inputs flow, gradients reach the vision tower."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from PIL import Image  # noqa: E402

from spatialladder.config.base import ModelSettings  # noqa: E402
from spatialladder.models.load import load_model_and_processor  # noqa: E402
from spatialladder.testing.tiny_qwen import QWEN_SPECIAL_TOKENS, REASONING_TOKENS, chat_template  # noqa: E402


def _image(w: int, h: int, color: tuple[int, int, int]) -> Image.Image:
    return Image.new("RGB", (w, h), color)


def _loss_and_vision_grad(loaded, messages, processor_kwargs=None):
    from trl.chat_template_utils import qwen2_5_vl_training_chat_template

    model, proc = loaded.model, loaded.processor
    model.zero_grad()
    enc = proc.apply_chat_template(
        messages,
        tokenize=True,
        return_dict=True,
        return_tensors="pt",
        chat_template=qwen2_5_vl_training_chat_template,
        return_assistant_tokens_mask=True,
        processor_kwargs=processor_kwargs or {},
    )
    mask = torch.as_tensor(enc.pop("assistant_masks"))
    labels = enc["input_ids"].clone()
    labels[mask == 0] = -100
    loss = model(**enc, labels=labels).loss
    loss.backward()
    grad = sum(p.grad.abs().sum().item() for p in model.model.visual.parameters() if p.grad is not None)
    return enc, loss, grad, labels


@pytest.fixture(scope="module")
def loaded(tiny_model_dir: Path):
    return load_model_and_processor(ModelSettings(name_or_path=str(tiny_model_dir), dtype="float32"))


def test_special_tokens_consistent(loaded) -> None:
    tok, cfg = loaded.processor.tokenizer, loaded.model.config
    ids = {t: tok.convert_tokens_to_ids(t) for t in QWEN_SPECIAL_TOKENS + REASONING_TOKENS}
    assert len(set(ids.values())) == len(ids), "every special token has its own id"
    assert cfg.image_token_id == ids["<|image_pad|>"] == loaded.processor.image_token_id
    assert cfg.video_token_id == ids["<|video_pad|>"] == loaded.processor.video_token_id
    assert cfg.vision_start_token_id == ids["<|vision_start|>"]
    assert cfg.vision_end_token_id == ids["<|vision_end|>"]
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"
    assert cfg.text_config.vocab_size >= len(tok)
    # <think>/<answer> survive skip_special_tokens decoding, as GRPO completions need
    text = tok.decode(tok("<think>a</think><answer>b</answer>")["input_ids"], skip_special_tokens=True)
    assert text == "<think>a</think><answer>b</answer>"


def test_chat_template_is_qwen25vl_byte_identical(loaded) -> None:
    import trl

    trl_copy = Path(trl.__file__).parent / "chat_templates" / "qwen2_5_vl.jinja"
    assert chat_template() == trl_copy.read_text()
    assert loaded.processor.chat_template == chat_template()


def test_one_image_chat_loss_and_vision_grad(loaded) -> None:
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "image", "image": _image(56, 56, (255, 0, 0))},
                {"type": "text", "text": "What color?"},
            ],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "<answer>red</answer>"}]},
    ]
    enc, loss, grad, labels = _loss_and_vision_grad(loaded, messages)
    assert torch.isfinite(loss) and grad > 0
    n_pad = int((enc["input_ids"] == loaded.model.config.image_token_id).sum())
    assert n_pad == int(enc["image_grid_thw"].prod()) // 4
    supervised = loaded.processor.tokenizer.decode(labels[labels != -100])
    assert supervised == "<answer>red</answer><|im_end|>\n"


def test_two_image_chat(loaded) -> None:
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "image", "image": _image(56, 84, (0, 255, 0))},
                {"type": "image", "image": _image(112, 56, (0, 0, 255))},
                {"type": "text", "text": "Which is wider?"},
            ],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "B"}]},
    ]
    enc, loss, grad, _ = _loss_and_vision_grad(loaded, messages)
    assert enc["image_grid_thw"].shape[0] == 2
    assert torch.isfinite(loss) and grad > 0


def test_four_frame_video_chat(loaded) -> None:
    frames = [_image(56, 56, (40 * i, 0, 0)) for i in range(4)]
    messages = [
        {"role": "user", "content": [{"type": "video", "video": frames}, {"type": "text", "text": "How many?"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "2"}]},
    ]
    enc, loss, grad, _ = _loss_and_vision_grad(loaded, messages, {"fps": 2.0, "do_sample_frames": False})
    assert enc["video_grid_thw"].tolist() == [[2, 4, 4]]
    assert torch.isfinite(loss) and grad > 0


def test_generate_returns_text(loaded) -> None:
    proc, model = loaded.processor, loaded.model
    messages = [
        {
            "role": "user",
            "content": [{"type": "image", "image": _image(56, 56, (9, 9, 9))}, {"type": "text", "text": "Describe."}],
        }
    ]
    enc = proc.apply_chat_template(
        messages, tokenize=True, add_generation_prompt=True, return_dict=True, return_tensors="pt"
    )
    torch.manual_seed(0)
    out = model.generate(**enc, max_new_tokens=6, do_sample=False)
    new = out[0, enc["input_ids"].shape[1] :]
    assert 1 <= new.numel() <= 6
    assert isinstance(proc.tokenizer.decode(new, skip_special_tokens=True), str)


def test_reload_gives_identical_logits(tiny_model_dir: Path, loaded) -> None:
    again = load_model_and_processor(ModelSettings(name_or_path=str(tiny_model_dir), dtype="float32"))
    ids = torch.tensor([[1, 2, 3, 4, 5]])
    with torch.no_grad():
        a = loaded.model.eval()(input_ids=ids).logits
        b = again.model.eval()(input_ids=ids).logits
    assert torch.equal(a, b)
