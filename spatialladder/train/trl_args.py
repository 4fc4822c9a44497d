"""The only place our config becomes trl's config. ``trainer:`` keys pass through untouched."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from spatialladder.errors import ConfigError


def _build(cls: type, source: str, owned: dict[str, Any], trainer: dict[str, Any]) -> Any:
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(trainer) - known)
    if unknown:
        raise ConfigError(
            f"{source}: trainer.{unknown[0]}: not a field of trl.{cls.__name__} "
            f"(see the trl docs for {cls.__name__}; check the spelling)"
        )
    try:
        args = cls(**owned, **trainer)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: trainer: trl.{cls.__name__} rejected the settings: {exc}") from None
    check_report_to_names(args.report_to, source)
    return args


def _report_to_list(report_to: Any) -> list[str]:
    if report_to is None or report_to == "none":
        return []
    return [report_to] if isinstance(report_to, str) else [r for r in report_to if r != "none"]


def check_report_to_names(report_to: Any, source: str = "<config>") -> None:
    """A typo'd ``trainer.report_to`` is accepted by trl's config and fails only once the trainer is built."""
    from transformers.integrations.integration_utils import INTEGRATION_TO_CALLBACK

    for name in _report_to_list(report_to):
        if name != "all" and name not in INTEGRATION_TO_CALLBACK:
            raise ConfigError(
                f"{source}: trainer.report_to: unknown logger {name!r}; "
                f"valid: none, all, {', '.join(sorted(INTEGRATION_TO_CALLBACK))}"
            )


def check_report_to_installed(args: Any, source: str = "<config>") -> None:
    """Each logger in ``report_to`` must be importable *here*, before any data or model is loaded (transformers
    would raise only when the trainer is built). Not part of ``config validate``: the training node may have it."""
    from transformers.integrations.integration_utils import get_available_reporting_integrations

    available = get_available_reporting_integrations()
    missing = [n for n in _report_to_list(args.report_to) if n != "all" and n not in available]
    if missing:
        packages = " ".join(PIP_NAMES.get(n, n) for n in missing)
        raise ConfigError(
            f"{source}: trainer.report_to: {', '.join(missing)} is not installed in this environment "
            f"(pip install {packages}), or set trainer.report_to=none"
        )


PIP_NAMES = {"azure_ml": "azureml-core", "comet_ml": "comet-ml"}
"""``report_to`` names whose Python package is named differently."""


SFT_DEFAULTS: dict[str, Any] = {
    "max_length": None,  # trl's 1024 would cut a 16-frame video row mid-vision-tokens; official never truncated
    "activation_checkpointing_kwargs": {"use_reentrant": False},  # as the official SFT scripts
    "remove_unused_columns": False,  # rows are built from an ``index`` column on access (see train/sft_rows.py)
}
"""Our defaults where trl's differ from what the official stage scripts ran; ``trainer:`` keys override them."""


def check_one_gpu_per_process(
    args: Any, source: str = "<config>", *, devices: int | None = None, processes: int | None = None
) -> None:
    """A single process that sees several GPUs (``spatialladder train`` on a multi-GPU node without a launcher):
    transformers' Trainer would wrap the model in ``torch.nn.DataParallel`` (its ``n_gpu`` is the device count
    outside a distributed launch), which trl's trainers and our collators do not support and the paper did not
    use; stop and say how to launch. ``devices`` / ``processes`` default to torch's device count and the launch's
    world size (read without setting up ``args``' devices, which would create the process state early)."""
    if getattr(args, "use_cpu", False):
        return
    if processes is None:
        from spatialladder.distributed import world_size

        processes = world_size()
    if processes > 1:
        return
    if devices is None:
        import torch

        devices = torch.cuda.device_count()
    if devices > 1:
        raise ConfigError(
            f"{source}: {devices} CUDA devices are visible to one training process, so transformers would wrap the "
            "model in DataParallel; start one process per GPU (accelerate launch --config_file "
            "configs/accelerate/zero3.yaml --num_processes N -m spatialladder train ...) or choose one GPU with "
            "CUDA_VISIBLE_DEVICES=0"
        )


def check_padding_free_runtime(source: str = "<config>", family: Any = None) -> None:
    """``padding_free: true`` needs CUDA and the flash-attn package on this machine, and a family without linear
    attention; a one-line error otherwise.

    ``family`` (the model's ``ModelFamily``; None when not known yet) with Gated DeltaNet layers (Qwen3.5) is
    refused outright: packed rows (``train/packing.py``: text positions restarting per row, no mask) reach those
    layers as one sequence, so each row's recurrent and convolution state runs on into the next. transformers 5.24
    gives the layers row boundaries only through ``cu_seq_lens_q`` (``modeling_qwen3_5.py`` lines 628, 641), raises
    for them without flash-linear-attention (``integrations/hub_kernels.py`` lines 1033-1040: "can't keep packed
    sequences apart"), and calls the causal conv1d with no ``seq_idx`` (lines 587-593; ``hub_kernels.py`` line 1050
    keeps only the kernel's own parameters), so not even flash-linear-attention + causal-conv1d keep rows apart.
    """
    if family is not None and family.linear_attention:
        raise ConfigError(
            f"{source}: padding_free: true would let packed rows leak into each other in {family.name}'s Gated "
            "DeltaNet (linear-attention) layers: transformers passes them no row boundaries from packed positions "
            "(explicit ones raise without flash-linear-attention, and its causal conv1d never gets any); set "
            "padding_free: false (pip install 'spatialladder[qwen3.5]' on a CUDA node for those layers' kernels)"
        )
    import importlib.util

    import torch

    missing = [
        what
        for what, ok in (
            ("CUDA", torch.cuda.is_available()),
            ("the flash-attn package", importlib.util.find_spec("flash_attn") is not None),
        )
        if not ok
    ]
    if missing:
        raise ConfigError(
            f"{source}: padding_free: true needs CUDA and flash-attention's varlen kernels, but this machine lacks "
            f"{' and '.join(missing)} (pip install 'spatialladder[flash-attn]' on a CUDA node), or set "
            "padding_free: false"
        )


def to_sft_args(cfg: Any, source: str = "<config>") -> Any:
    """Build ``trl.SFTConfig`` from an SFT stage config."""
    from trl import SFTConfig

    owned = {
        "output_dir": cfg.output_dir,
        "seed": cfg.seed,
        "data_seed": cfg.seed,
        "assistant_only_loss": cfg.loss_on == "assistant",
    }
    args = _build(SFTConfig, source, owned, {**SFT_DEFAULTS, **cfg.trainer})
    if args.train_sampling_strategy == "batch_rebalance":
        raise ConfigError(
            f"{source}: trainer.train_sampling_strategy: batch_rebalance varies the micro-batch size, which the "
            "paper's batches do not; use group_by_length (same batch size, rows of similar length) or random"
        )
    if cfg.padding_free:
        from spatialladder.models.shape import cached_family

        check_padding_free_runtime(source, cached_family(cfg.model.name_or_path))
    return args


GRPO_DEFAULTS: dict[str, Any] = {
    # trl 1.16 multiplies the k3 KL by the importance ratio exp(logp - old_logp). With num_iterations 1 the ratio is
    # 1 in value but not in gradient: it adds beta * KL * grad(logp). The official loss is beta * KL (§5.5).
    "use_bias_correction_kl": False,
    # trl 1.16 gathers a batch's images for its completion logs only on processes whose rows have images
    # (grpo_trainer.py: `if images is not None and self.log_multimodal: gather_object(images)`), so a multi-process
    # step where one process holds only video rows stops in mismatched collectives. The logs are off by default.
    "log_multimodal": False,
}
"""Our GRPO defaults where trl's differ from the official trainer; ``trainer:`` keys override them."""


def truncating_settings(sampling: Any, trainer: dict[str, Any]) -> list[str]:
    """The settings that make rollouts sample from a truncated distribution (top-k, top-p, min-p), as
    ``key value``; ``trainer.generation_kwargs`` overrides the others in trl's rollouts, so its keys count too."""
    values = {
        "sampling.top_k": sampling.top_k,
        "sampling.top_p": sampling.top_p,
        "trainer.min_p": trainer.get("min_p"),
    }
    for key in ("top_k", "top_p", "min_p"):
        if key in (trainer.get("generation_kwargs") or {}):
            values[f"trainer.generation_kwargs.{key}"] = trainer["generation_kwargs"][key]
    truncating = {"top_k": lambda v: v > 0, "top_p": lambda v: v < 1.0, "min_p": lambda v: v > 0.0}
    return [
        f"{key} {value}"
        for key, value in values.items()
        if value is not None and truncating[key.rsplit(".", 1)[1]](value)
    ]


def vllm_importance_sampling(cfg: Any, trainer: dict[str, Any], source: str = "<config>") -> dict[str, Any]:
    """Under ``rollout: vllm`` with truncated sampling, trl's correction for the vLLM/trainer mismatch is off.

    trl 1.16 asks vLLM for log-probs renormalised over the kept tokens (``logprobs_mode="processed_logprobs"``,
    trl/generation/vllm_generation.py ``VLLMGeneration.__init__``), while the loss recomputes them over the whole
    vocabulary (trl/trainer/utils.py ``add_fused_lm_head``), so each token's ratio carries the kept mass S ≤ 1. With
    the default correction (``sequence_mask``, no lower bound; grpo_trainer.py ``_generate_and_score_completions``)
    the policy term of a completion is scaled by Π S over its tokens, toward zero for a long one (trl#6789). The
    paper samples with top-k 50 and corrects nothing (official §5.3, §5.5), so ``rollout: hf`` and ``vllm`` train the
    same objective only without it."""
    if cfg.rollout != "vllm":
        return {}
    truncated = truncating_settings(cfg.sampling, trainer)
    if not truncated:
        return {}
    if trainer.get("vllm_importance_sampling_correction"):
        raise ConfigError(
            f"{source}: trainer.vllm_importance_sampling_correction: true with rollout: vllm and truncated sampling "
            f"({', '.join(truncated)}): vLLM's log-probs are renormalised over the kept tokens, so trl's ratio would "
            "scale every completion by its kept mass (trl#6789); keep the truncated sampling without the correction "
            "(drop the key), or sample untruncated (sampling.top_k: 0, sampling.top_p: 1.0, no min_p) with it"
        )
    return {"vllm_importance_sampling_correction": False}


def to_grpo_args(cfg: Any, source: str = "<config>") -> Any:
    """Build ``trl.GRPOConfig`` from the stage-3 config: the algorithm fields, reward weights from ``rewards:``, and
    trl's batch rule checked first so a bad batch shape is one clear error, not a trl traceback."""
    from trl import GRPOConfig

    trainer = dict(cfg.trainer)
    defaults = {**GRPO_DEFAULTS, **vllm_importance_sampling(cfg, trainer, source)}
    trainer["per_device_train_batch_size"] = grpo_per_device_batch(cfg, trainer, source)
    check_grpo_batch_rule(cfg.sampling.num_generations, trainer, source, dynamic_sampling=cfg.dynamic_sampling.enabled)
    owned = {
        "output_dir": cfg.output_dir,
        "seed": cfg.seed,
        "data_seed": cfg.seed,
        "reward_weights": [r.weight for r in cfg.rewards],
        **cfg.sampling.model_dump(),
        "loss_type": cfg.loss_type,
        "scale_rewards": cfg.scale_rewards,
        "beta": cfg.beta,
        "epsilon": cfg.epsilon,
        "use_vllm": cfg.rollout == "vllm",
        "vllm_mode": "colocate",
    }
    return _build(GRPOConfig, source, owned, {**defaults, **trainer})


def set_family_chat_template_kwargs(args: Any, family: Any, source: str = "<config>") -> None:
    """Render every GRPO prompt with the family's chat-template flags (Qwen3.5: ``enable_thinking=False``).

    trl reads ``GRPOConfig.chat_template_kwargs`` when the trainer is built (``grpo_trainer.py`` line 788) and
    renders rollouts with it; our loss pass and vLLM requests use the trainer's copy (``video_grpo.py``
    ``_encode_row``, ``_vllm_request``). A ``trainer.chat_template_kwargs`` value that contradicts the family's is
    refused: the cold-start targets and the format reward assume the family's prompt tail (docs/fidelity.md)."""
    if not family.chat_template_kwargs:
        return  # args untouched (Qwen2.5-VL, Qwen3-VL: their templates take no flags)
    given = dict(args.chat_template_kwargs or {})
    for key, value in family.chat_template_kwargs.items():
        if key in given and given[key] != value:
            raise ConfigError(
                f"{source}: trainer.chat_template_kwargs.{key}: {given[key]!r}, but {family.name} prompts are "
                f"rendered with {key}={value!r} in every stage and at eval (the cold-start targets and the format "
                f"reward expect that prompt tail); drop the key"
            )
        given[key] = value
    args.chat_template_kwargs = given


def _grpo_trainer_value(trainer: dict[str, Any], key: str) -> Any:
    """``trainer[key]``, else trl's ``GRPOConfig`` default for it."""
    from trl import GRPOConfig

    if key in trainer:
        return trainer[key]
    return next(f.default for f in dataclasses.fields(GRPOConfig) if f.name == key)


def grpo_per_device_batch(cfg: Any, trainer: dict[str, Any], source: str = "<config>") -> int:
    """trl's ``per_device_train_batch_size`` for ``cfg.prompts_per_step`` on this launch: an optimizer step holds
    per-device batch × processes × accumulation completions (transformers' Trainer), which must be
    ``prompts_per_step × num_generations`` whatever the launch (the paper: 1 × 4 on 2 GPUs × 2, official §1, §5.3).
    An explicit ``trainer.per_device_train_batch_size`` must agree: the shipped value used to be 4 whatever the
    launch, so a 2-GPU run stepped on 2 prompts (half the steps, another learning-rate schedule)."""
    from spatialladder.distributed import world_size

    processes = world_size()
    accumulation = _grpo_trainer_value(trainer, "gradient_accumulation_steps")
    if not isinstance(accumulation, int) or accumulation < 1:
        raise ConfigError(
            f"{source}: trainer.gradient_accumulation_steps: expected an integer >= 1, got {accumulation!r}"
        )
    prompts, generations = cfg.prompts_per_step, cfg.sampling.num_generations
    completions, share = prompts * generations, processes * accumulation
    if completions % share:
        counts = [str(n) for n in range(1, completions + 1) if completions % (n * accumulation) == 0]
        if len(counts) > 1:
            counts[-2:] = [f"{counts[-2]} or {counts[-1]}"]
        launch = f"launch {', '.join(counts)} processes, or " if counts else ""
        raise ConfigError(
            f"{source}: prompts_per_step ({prompts}) x sampling.num_generations ({generations}) = {completions} "
            f"completions per optimizer step do not split evenly over {processes} processes x "
            f"trainer.gradient_accumulation_steps ({accumulation}); {launch}set prompts_per_step to a multiple of "
            f"{share // math.gcd(generations, share)}"
        )
    derived = completions // share
    explicit = trainer.get("per_device_train_batch_size")
    if explicit is not None and explicit != derived:
        implied = explicit * share / generations
        fix = f" or set prompts_per_step: {int(implied)}" if implied == int(implied) else ""
        raise ConfigError(
            f"{source}: trainer.per_device_train_batch_size {explicit} on {processes} processes x "
            f"trainer.gradient_accumulation_steps ({accumulation}) is {implied:g} prompts per optimizer step, but "
            f"prompts_per_step is {prompts} (per-device batch {derived}); drop trainer.per_device_train_batch_size "
            f"(it is derived from prompts_per_step){fix}"
        )
    return derived


def check_grpo_batch_rule(
    num_generations: int, trainer: dict[str, Any], source: str = "<config>", *, dynamic_sampling: bool = False
) -> None:
    """trl groups every generation batch into prompts of ``num_generations`` completions, so the generation batch
    (per-device batch × steps per generation × processes, or ``generation_batch_size``) must divide evenly; under
    dynamic sampling each process's share must too (``VideoGRPOTrainer._dynamic_batch`` keeps or drops its groups
    whole)."""
    from spatialladder.distributed import world_size

    def get(key: str) -> Any:
        return _grpo_trainer_value(trainer, key)

    processes = world_size()
    per_device = get("per_device_train_batch_size")
    if get("generation_batch_size") is not None:
        total, how = get("generation_batch_size"), "trainer.generation_batch_size"
    else:
        steps = get("steps_per_generation") or get("gradient_accumulation_steps")
        total = per_device * steps * processes
        how = (
            f"trainer.per_device_train_batch_size ({per_device}) x steps per generation ({steps}, "
            f"trainer.steps_per_generation or else trainer.gradient_accumulation_steps) x processes ({processes})"
        )
    if total % num_generations:
        raise ConfigError(
            f"{source}: the generation batch {how} = {total} is not divisible by sampling.num_generations "
            f"({num_generations}); every prompt needs all its {num_generations} completions in one batch. "
            f"Make it a multiple of {num_generations}, or leave trainer.steps_per_generation and "
            "trainer.generation_batch_size unset (one generation batch per optimizer step)"
        )
    if dynamic_sampling and (total // processes) % num_generations:
        raise ConfigError(
            f"{source}: dynamic_sampling keeps or drops whole groups on each process, but each of the {processes} "
            f"processes holds {total // processes} completions per generation batch, not a multiple of "
            f"sampling.num_generations ({num_generations}); set prompts_per_step to a multiple of {processes}"
        )
