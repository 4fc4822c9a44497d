"""The child process of ``scripts/gpu_acceptance.py``: prepares the inputs, or runs one path and records its work.

    python scripts/gpu_acceptance_child.py info
    python scripts/gpu_acceptance_child.py setup OUT [--like qwen2.5-vl-3b] [--no-model] [--extra-model KEY=LIKE ...]
    python scripts/gpu_acceptance_child.py run sft|grpo|eval CONFIG OUT_PREFIX [dotted.key=value ...]

``info`` prints one JSON line about the visible GPUs (in its own process, so the parent never holds a CUDA context
on the GPU the paths measure). ``setup`` writes full-size inputs under ``OUT/data`` (1296×968 frames: the stage-2
records, a video-only and an images-only GRPO file, a VSI-Bench folder with two 64-frame videos and three questions
each) and, unless ``--no-model``, a full-depth random real-shaped model in ``OUT/model``
(``make-tiny-model --like``, bf16 on disk), and each ``--extra-model KEY=LIKE`` (also with ``--no-model``) in
``OUT/model-LIKE``, its folder under ``KEY`` in ``OUT/setup.json`` (the parent builds Qwen3-VL-2B so).
``run`` loads CONFIG with the overrides as the CLI does and calls the
real ``run_sft`` / ``run_grpo`` / ``run_eval`` (under ``accelerate launch`` in every process), and writes
``OUT_PREFIX.rank<k>.json`` holding what the parent needs for throughput, model FLOPs and memory, also when the run
fails or is stopped (SIGTERM) part-way:

- ``ok``, ``error`` (exception type and message), ``wall_s``, ``rank``, ``world_size``, ``config`` (resolved);
- ``lm``: one entry per forward of the text model (Qwen2.5-VL's or Qwen3-VL's): ``step``, ``grad`` (autograd on),
  ``shape`` ``[B, S]`` and ``rows``: per row ``[new real tokens, cached real tokens]`` (from the 2-D attention mask,
  or the packed rows of a padding-free batch, else the full shape); for Qwen3-VL also ``visual``: the positions that
  received vision features (``visual_pos_masks``, where DeepStack adds the tower's early-block features: 0 on a
  decoding step), which shows the video's features reached the text model in that forward;
- ``vision``: one entry per forward of the vision tower: ``step``, ``grad``, ``grids`` (``[t, h, w]`` per item);
- ``vllm``: one entry per ``vllm.LLM.generate`` call (trl's colocated rollouts, the vLLM eval backend): ``step``,
  ``seconds`` and per request ``prompt`` tokens, ``cached`` (vLLM's prefix-cache hits), ``vision_tokens`` (image and
  video placeholders after the cached part) and ``completions`` (generated tokens per sample);
- ``step_ends``: ``[step, t]`` at ``on_train_begin`` (step 0) and each ``on_step_end`` (t after a CUDA sync, seconds
  since the child started); work is tagged with the step it belongs to (between the previous step's end and its own);
- ``work_window``: ``[first model forward or vLLM call starts, last one ends]`` (synced), the eval's timed span;
- ``cuda``: ``max_memory_allocated`` / ``max_memory_reserved`` of this process and ``device_used_peak`` (device-wide
  used memory sampled every 0.1 s, which also sees vLLM's engine process) with ``device_total``;
- ``facts``: ``global_step``, ``log_history`` and ``params`` (bytes, trainable bytes and count per dtype of the
  parameters when training starts: after any fp32 master-weight upcast) for training, ``rows`` (GRPO), ``results``
  (eval, rank 0);
- ``generation`` (eval with ``backend: hf``, else null): ``dtype`` (the model's), ``layers`` (its text layers),
  ``top_k`` and ``questions``: per question id, per generation step ``[token, [[index, score], ...]]``: the token
  greedy decoding took (argmax of the scores after ``generate``'s logits processors, e.g. the repetition penalty)
  and the ``top_k`` highest of those scores, up to and including the question's first end-of-sequence token; what
  the parent compares between the shared-prefix and the unshared eval paths.

The forwards are recorded by wrapping each family's two classes' ``forward`` (:data:`RECORDED_CLASSES`; not a
global hook on every module: decoding
would pay for a Python call per submodule), so the KL reference model and the rollout count as well; vLLM's own
model classes are not these, so its work is counted once, from ``LLM.generate``'s outputs. The generation steps are
recorded by wrapping ``LogitsProcessorList.__call__`` (called once per step by ``generate``; its top-k stays on the
device until the call returns), ``HFGenerator.__call__`` (rows to outputs) and ``predict.prediction_record``
(outputs to question ids).
"""

from __future__ import annotations

import argparse
import functools
import inspect
import json
import logging
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

logger = logging.getLogger("gpu_acceptance_child")

IMAGES_ONLY_FILE = "spld_spatial_images_only.jsonl"
VSI_QUESTIONS = (
    ("object_counting", "How many chair(s) are in this room?", "3", None),
    (
        "object_rel_distance",
        "Measuring from the closest point of each object, which of these objects (bed, tv, sofa, lamp) is the "
        "closest to the door?",
        "B",
        ["A. bed", "B. tv", "C. sofa", "D. lamp"],
    ),
    (
        "object_size_estimation",
        "What is the length of the longest dimension (length, width, or height) of the table, measured in centimeters?",
        "120",
        None,
    ),
)
"""Three questions on each VSI-Bench video: a count, a multiple choice and a size."""
VSI_VIDEOS = 2
VSI_VIDEO_FRAMES = 64
TOP_K = 5
"""Scores kept per generation step: enough to compare two paths' leading scores and see their top-2 gap."""
RECORDED_CLASSES = (
    ("qwen2_5_vl", "Qwen2_5_VLTextModel", "Qwen2_5_VisionTransformerPretrainedModel"),
    ("qwen3_vl", "Qwen3VLTextModel", "Qwen3VLVisionModel"),
)
"""Per family a path runs (``transformers.models.<module>.modeling_<module>``): its text model, called once per
forward with the merged embeddings (``Qwen2_5_VLModel.forward`` / ``Qwen3VLModel.forward`` → ``language_model``),
and its vision tower, called once per batch of images or videos with their ``grid_thw`` (``get_image_features``;
Qwen3-VL's ``get_video_features`` calls it with the video's whole ``[t, h, w]`` grid, transformers 5.24
``modeling_qwen3_vl.py`` 1015-1043). Wrapping a class no path loads costs nothing."""


class Terminated(BaseException):
    """SIGTERM from the parent (time budget spent): unwinds so the records so far are still written."""


class Recorder:
    """What one process computed, tagged by the optimizer step it belongs to."""

    def __init__(self, cuda: bool) -> None:
        self.cuda = cuda
        self.t0 = time.perf_counter()
        self.step: int | None = None
        self.lm: list[dict[str, Any]] = []
        self.vision: list[dict[str, Any]] = []
        self.vllm: list[dict[str, Any]] = []
        self.step_ends: list[list[float]] = []
        self.window: list[float | None] = [None, None]
        self.log_history: list[dict[str, Any]] | None = None
        self.placeholder_ids: set[int] = set()
        self.params: dict[str, Any] | None = None
        self.generation: dict[str, Any] | None = None
        self.steps: list[tuple[Any, Any, Any]] | None = None  # (argmax, top-k values, indices) of the call running
        self.pending: dict[int, list[list[Any]]] = {}  # id(Generation) -> its steps, until its record is written

    def now(self) -> float:
        """Seconds since start, after the GPU has finished what was queued (so spans measure GPU work too)."""
        if self.cuda:
            import torch

            torch.cuda.synchronize()
        return time.perf_counter() - self.t0

    def work_starts(self) -> None:
        if self.window[0] is None:
            self.window[0] = self.now()

    def work_ends(self) -> None:
        self.window[1] = self.now()


def lm_rows(batch: int, seq: int, cache_len_after: int | None, mask: Any, positions: Any) -> list[list[int]]:
    """``[new real tokens, cached real tokens]`` per row of one text-model forward.

    ``cache_len_after`` is the key/value cache's length after the forward (None: no cache), so ``cached`` = that
    minus ``seq``. A 2-D attention mask over cache + new positions tells each row's real tokens (padding excluded);
    with no mask and 4-row position ids (a padding-free batch: text positions restart at 0 for each packed row) the
    packed rows are recovered from the restarts; otherwise every position counts.
    """
    import torch

    cached = max(cache_len_after - seq, 0) if cache_len_after is not None else 0
    if torch.is_tensor(mask) and mask.dim() == 2 and mask.shape[0] == batch:
        real = mask.bool()
        if real.shape[1] == cached + seq:
            new, old = real[:, cached:].sum(1).tolist(), real[:, :cached].sum(1).tolist()
            return [[int(n), int(o)] for n, o in zip(new, old, strict=True)]
        if real.shape[1] == seq:
            return [[int(n), cached] for n in real.sum(1).tolist()]
    packed = mask is None and torch.is_tensor(positions) and positions.dim() == 3 and positions.shape[0] == 4
    if packed and batch == 1 and cached == 0:
        starts = (positions[0, 0] == 0).nonzero().flatten().tolist()
        if starts and starts[0] == 0:
            ends = [*starts[1:], seq]
            return [[int(e - s), 0] for s, e in zip(starts, ends, strict=True)]
    return [[seq, cached] for _ in range(batch)]


def _wrap_forward(cls: Any, record: Any) -> None:
    """Replace ``cls.forward`` by one that calls the original, then ``record(bound arguments)``."""
    original = cls.forward
    signature = inspect.signature(original)
    var_kw = [n for n, p in signature.parameters.items() if p.kind is inspect.Parameter.VAR_KEYWORD]

    @functools.wraps(original)
    def forward(self: Any, *args: Any, **kwargs: Any) -> Any:
        REC.work_starts()
        out = original(self, *args, **kwargs)
        bound = dict(signature.bind(self, *args, **kwargs).arguments)
        extra = bound.pop(var_kw[0], {}) if var_kw else {}
        record({**extra, **bound})
        return out

    cls.forward = forward


def _record_lm(arguments: dict[str, Any]) -> None:
    import torch

    x = arguments.get("inputs_embeds")
    if x is None:
        x = arguments.get("input_ids")
    cache = arguments.get("cache", arguments.get("past_key_values"))
    after = int(cache.get_seq_length()) if cache is not None and hasattr(cache, "get_seq_length") else None
    batch, seq = int(x.shape[0]), int(x.shape[1])
    rows = lm_rows(batch, seq, after, arguments.get("attention_mask"), arguments.get("position_ids"))
    entry = {"step": REC.step, "grad": torch.is_grad_enabled(), "shape": [batch, seq], "rows": rows}
    if "visual_pos_masks" in arguments:  # Qwen3-VL's text model: where the vision features (and DeepStack's) go
        mask = arguments["visual_pos_masks"]
        entry["visual"] = int(mask.sum()) if mask is not None else 0
    REC.lm.append(entry)
    REC.work_ends()


def _record_vision(arguments: dict[str, Any]) -> None:
    import torch

    grid = arguments.get("grid_thw")
    grids = grid.tolist() if grid is not None else []
    REC.vision.append({"step": REC.step, "grad": torch.is_grad_enabled(), "grids": grids})
    REC.work_ends()


def vllm_requests(outputs: Any, placeholder_ids: set[int]) -> list[dict[str, Any]]:
    """Per ``RequestOutput``: prompt length, prefix-cache hits, placeholders after them, tokens per completion."""
    requests = []
    for out in outputs:
        prompt = list(getattr(out, "prompt_token_ids", None) or [])
        cached = int(getattr(out, "num_cached_tokens", 0) or 0)
        requests.append(
            {
                "prompt": len(prompt),
                "cached": cached,
                "vision_tokens": sum(1 for t in prompt[cached:] if t in placeholder_ids),
                "completions": [len(c.token_ids) for c in out.outputs],
            }
        )
    return requests


def _wrap_vllm_generate() -> None:
    import vllm

    original = vllm.LLM.generate

    @functools.wraps(original)
    def generate(self: Any, *args: Any, **kwargs: Any) -> Any:
        REC.work_starts()
        start = REC.now()
        outputs = original(self, *args, **kwargs)
        end = REC.now()
        REC.vllm.append(
            {"step": REC.step, "seconds": end - start, "requests": vllm_requests(outputs, REC.placeholder_ids)}
        )
        REC.work_ends()
        return outputs

    vllm.LLM.generate = generate


def row_steps(
    tokens: list[list[int]], values: list[list[list[float]]], indices: list[list[list[int]]], eos: set[int]
) -> list[list[list[Any]]]:
    """Per row of one ``generate`` call (``tokens[row][step]``, ``values``/``indices[row][step][k]``): its steps as
    ``[token, [[index, score], ...]]``, up to and including its first end-of-sequence token (later steps only pad a
    finished row)."""
    out = []
    for row_tokens, row_values, row_indices in zip(tokens, values, indices, strict=True):
        steps = []
        for token, vals, idx in zip(row_tokens, row_values, row_indices, strict=True):
            steps.append([int(token), [[int(i), float(v)] for i, v in zip(idx, vals, strict=True)]])
            if token in eos:
                break
        out.append(steps)
    return out


def _install_generation_probe() -> None:
    """Record every greedy step of the HF eval backend per question (``generation`` in the record)."""
    import torch
    from transformers.generation.logits_process import LogitsProcessorList

    from spatialladder.eval import predict
    from spatialladder.eval.generation import HFGenerator

    process = LogitsProcessorList.__call__

    @functools.wraps(process)
    def processed(self: Any, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        out = process(self, input_ids, scores, **kwargs)
        if REC.steps is not None:
            top = out.float().topk(TOP_K, dim=-1)
            REC.steps.append((out.argmax(-1), top.values, top.indices))
        return out

    generate = HFGenerator.__call__

    @functools.wraps(generate)
    def generator_call(self: Any, batch: Any, video_keys: Any = None) -> Any:
        REC.steps = []
        try:
            outputs = generate(self, batch, video_keys)
        finally:
            steps, REC.steps = REC.steps, None
        eos = self.kwargs["eos_token_id"]
        eos = {int(e) for e in (eos if isinstance(eos, (list, tuple)) else [eos])}
        if steps:
            tokens = torch.stack([s[0] for s in steps], 1).tolist()
            values = torch.stack([s[1] for s in steps], 1).tolist()
            indices = torch.stack([s[2] for s in steps], 1).tolist()
            for out, row in zip(outputs, row_steps(tokens, values, indices, eos), strict=True):
                REC.pending[id(out)] = row
        if REC.generation is None:
            dtype = str(self.model.dtype).removeprefix("torch.")
            layers = int(self.model.config.get_text_config().num_hidden_layers)
            REC.generation = {"dtype": dtype, "layers": layers, "top_k": TOP_K}
        return outputs

    record = predict.prediction_record

    @functools.wraps(record)
    def prediction_record(sample: Any, out: Any, key: str, **kwargs: Any) -> dict[str, Any]:
        steps = REC.pending.pop(id(out), None)
        if steps is not None and REC.generation is not None:
            REC.generation.setdefault("questions", {})[str(sample.id)] = steps
        return record(sample, out, key, **kwargs)

    LogitsProcessorList.__call__ = processed
    HFGenerator.__call__ = generator_call
    predict.prediction_record = prediction_record


def param_summary(model: Any) -> dict[str, Any]:
    """The parameters as training starts: bytes, trainable bytes, count per dtype (DeepSpeed ZeRO-3's partitioned
    parameters by their full size, ``ds_numel``)."""
    out: dict[str, Any] = {"bytes": 0, "trainable_bytes": 0, "dtypes": {}}
    for param in model.parameters():
        numel = int(getattr(param, "ds_numel", param.numel()))
        size = numel * param.element_size()
        out["bytes"] += size
        out["trainable_bytes"] += size if param.requires_grad else 0
        dtype = str(param.dtype).removeprefix("torch.")
        out["dtypes"][dtype] = out["dtypes"].get(dtype, 0) + numel
    return out


def _install_step_timer() -> None:
    """A callback every Trainer gets (``transformers.trainer.DEFAULT_CALLBACKS``): step ends, synced, and the log."""
    import transformers.trainer
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if kwargs.get("model") is not None:
                REC.params = param_summary(kwargs["model"])
            REC.step_ends.append([state.global_step, REC.now()])
            REC.step = state.global_step + 1

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            REC.step_ends.append([state.global_step, REC.now()])
            REC.step = state.global_step + 1

        def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            REC.step = None
            REC.log_history = list(state.log_history)

    transformers.trainer.DEFAULT_CALLBACKS.append(StepTimer())


class MemorySampler(threading.Thread):
    """Device-wide used memory (``total - free``) every 0.1 s: sees vLLM's engine process, which the allocator
    statistics of this process do not."""

    def __init__(self, device: int) -> None:
        super().__init__(daemon=True)
        self.device, self.peak, self.total = device, 0, 0
        self.stopped = threading.Event()

    def run(self) -> None:
        import torch

        while not self.stopped.is_set():
            free, self.total = torch.cuda.mem_get_info(self.device)
            self.peak = max(self.peak, self.total - free)
            self.stopped.wait(0.1)


REC = Recorder(cuda=False)


def install(cfg: Any) -> None:
    """Wrap the text and vision forwards of :data:`RECORDED_CLASSES`, ``vllm.LLM.generate`` (when the config uses
    vLLM), the HF eval's generation steps (eval with ``backend: hf``) and add the step timer."""
    import importlib

    for module, text, vision in RECORDED_CLASSES:
        modeling = importlib.import_module(f"transformers.models.{module}.modeling_{module}")
        _wrap_forward(getattr(modeling, text), _record_lm)
        _wrap_forward(getattr(modeling, vision), _record_vision)
    _install_step_timer()
    if getattr(cfg, "kind", None) == "eval" and getattr(cfg, "backend", None) == "hf":
        _install_generation_probe()
    if getattr(cfg, "rollout", None) == "vllm" or getattr(cfg, "backend", None) == "vllm":
        config = json.loads((Path(cfg.model.name_or_path) / "config.json").read_text(encoding="utf-8"))
        REC.placeholder_ids = {int(config["image_token_id"]), int(config["video_token_id"])}
        _wrap_vllm_generate()


def run_entry(kind: str, cfg: Any, source: str) -> dict[str, Any]:
    """The real entry point of ``kind``; what it returns that the parent checks."""
    if kind == "sft":
        from spatialladder.train.sft import run_sft

        result = run_sft(cfg, source=source)
        return {"global_step": result.global_step, "train_loss": result.train_loss}
    if kind == "grpo":
        from spatialladder.train.grpo import run_grpo

        result = run_grpo(cfg, source=source)
        return {"global_step": result.global_step, "rows": result.rows}
    from spatialladder.eval.runner import run_eval

    return {"results": run_eval(cfg).results}


def run(kind: str, config: str, out_prefix: str, overrides: list[str]) -> int:
    global REC
    import torch

    from spatialladder.config.load import load_config
    from spatialladder.distributed import local_rank, rank, world_size

    cuda = torch.cuda.is_available()
    REC = Recorder(cuda)
    sampler = MemorySampler(local_rank()) if cuda else None
    if sampler is not None:
        sampler.start()
    signal.signal(signal.SIGTERM, _terminate)
    out: dict[str, Any] = {"kind": kind, "rank": rank(), "world_size": world_size(), "ok": False, "error": None}
    facts: dict[str, Any] = {}
    try:
        cfg = load_config(config, overrides)
        out["config"] = cfg.model_dump(mode="json")
        install(cfg)
        facts = run_entry(kind, cfg, config)
        out["ok"] = True
    except (Exception, Terminated) as exc:  # recorded for the parent's report, then the traceback for the log
        out["error"] = f"{type(exc).__name__}: {exc}"[-2000:]
        traceback.print_exc()
    out["wall_s"] = time.perf_counter() - REC.t0
    if sampler is not None:
        sampler.stopped.set()
        out["cuda"] = {
            "device_name": torch.cuda.get_device_name(local_rank()),
            "max_memory_allocated": torch.cuda.max_memory_allocated(local_rank()),
            "max_memory_reserved": torch.cuda.max_memory_reserved(local_rank()),
            "device_used_peak": sampler.peak,
            "device_total": sampler.total,
        }
    else:
        out["cuda"] = None
    out.update(
        lm=REC.lm,
        vision=REC.vision,
        vllm=REC.vllm,
        step_ends=REC.step_ends,
        work_window=REC.window,
        facts={**facts, "log_history": REC.log_history, "params": REC.params},
        generation=REC.generation,
    )
    target = Path(f"{out_prefix}.rank{out['rank']}.json")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(out, default=str), encoding="utf-8")
    return 0 if out["ok"] else 1


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated("stopped by the parent (time budget spent)")


def info() -> dict[str, Any]:
    """The visible GPUs as torch sees them (names from ``torch.cuda.get_device_name``)."""
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    props = [torch.cuda.get_device_properties(i) for i in range(count)]
    return {
        "count": count,
        "names": [p.name for p in props],
        "total_memory": [p.total_memory for p in props],
        "capability": [f"{p.major}.{p.minor}" for p in props],
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
    }


def write_inputs(out: Path) -> dict[str, str]:
    """Full-size inputs: stage-2 records (1 image, 8 views, a 32-frame video), GRPO video-only and images-only
    files, and a VSI-Bench folder (2 videos × 64 frames, 3 questions each). Returns their paths by name."""
    from spatialladder.testing.full_size import full_size_frame, write_full_size_records
    from spatialladder.testing.synthetic_benchmarks import BenchItem, write_vsibench

    records = out / "records"
    files = write_full_size_records(records, views=8, video_frames=32)
    lines = files["spatial"].read_text(encoding="utf-8").splitlines()
    images_only = records / IMAGES_ONLY_FILE
    kept = [line for line in lines if line.strip() and json.loads(line)["data_type"] != "video"]
    images_only.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
    items = []
    for v in range(VSI_VIDEOS):
        frames = [full_size_frame(i + 100 * v) for i in range(VSI_VIDEO_FRAMES)]
        for question_type, question, answer, options in VSI_QUESTIONS:
            items.append(BenchItem(question_type, question, answer, f"scene000{v}_00", frames, options=options))
    vsibench = write_vsibench(items, out / "vsibench")
    return {
        "spatial": str(files["spatial"]),
        "video": str(files["video"]),
        "images_only": str(images_only),
        "images": str(records / "images"),
        "vsibench": str(vsibench),
        "vsi_questions": str(len(items)),
    }


def setup(out: Path, like: str, build_model: bool, extra: dict[str, str] | None = None) -> dict[str, Any]:
    """The inputs (:func:`write_inputs`), the ``like``-shaped model in ``out/model`` unless not ``build_model`` (the
    parent was given ``--model``), and each ``extra`` model (setup.json key → ``--like`` name) in
    ``out/model-<like>``; ``out/setup.json`` maps names to paths."""
    start = time.perf_counter()
    inputs = write_inputs(out / "data")
    builds = [("model", like, out / "model")] if build_model else []
    builds += [(key, name, out / f"model-{name}") for key, name in (extra or {}).items()]
    if builds:
        import torch

        from spatialladder.testing import real_shape

        # Random initialisation of 3.75 B parameters takes over a minute on one CPU core (torch's CPU normal_ is
        # serial; ~2 s per 100 M measured) and a second on the GPU; the folder written is the same either way.
        with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
            for key, name, folder in builds:
                inputs[key] = str(real_shape.build_like(folder, name))
    inputs["seconds"] = str(round(time.perf_counter() - start, 1))
    (out / "setup.json").write_text(json.dumps(inputs, indent=1), encoding="utf-8")
    return inputs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info")
    p_setup = sub.add_parser("setup")
    p_setup.add_argument("out")
    p_setup.add_argument("--like", default="qwen2.5-vl-3b")
    p_setup.add_argument("--no-model", action="store_true", help="no --like model (the parent was given --model)")
    p_setup.add_argument(
        "--extra-model",
        action="append",
        default=[],
        metavar="KEY=LIKE",
        help="also build this full-depth model (also with --no-model), its folder under KEY in setup.json",
    )
    p_run = sub.add_parser("run")
    p_run.add_argument("kind", choices=["sft", "grpo", "eval"])
    p_run.add_argument("config")
    p_run.add_argument("out_prefix")
    p_run.add_argument("overrides", nargs="*")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if args.command == "info":
        print(json.dumps(info()))
        return 0
    if args.command == "setup":
        extra = dict(item.split("=", 1) for item in args.extra_model if "=" in item)
        if len(extra) != len(args.extra_model):
            parser.error(f"--extra-model {args.extra_model}: expected KEY=LIKE, e.g. model_qwen3_vl=qwen3-vl-2b")
        print(json.dumps(setup(Path(args.out), args.like, not args.no_model, extra)))
        return 0
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    return run(args.kind, args.config, args.out_prefix, args.overrides)


if __name__ == "__main__":
    sys.exit(main())
