"""Length-grouped SFT batches that are seeded, resumable and shared across processes.

The switch is transformers' own: ``trainer.train_sampling_strategy: group_by_length`` (default ``random``, the
paper's order). Its lengths come from the dataset column ``trainer.length_column_name`` (default ``length``), which
``run_sft`` fills from :func:`spatialladder.train.lengths.row_lengths`. The grouping is transformers'
``get_length_grouped_indices``: a random permutation cut into mega-batches of 50 optimizer steps' rows (fewer on
small sets), each sorted by length, so consecutive micro-batches hold rows of similar length.

Why a subclass at all: transformers 5.24's ``Trainer._get_train_sampler`` builds its ``LengthGroupedSampler``
without a generator, so the permutation is drawn from the global torch RNG at the start of each epoch. A resumed run
draws it from a different RNG state (the checkpoint's RNG is restored only after the skipped batches), so it would
see other batches than the run it continues; and processes agree only as long as their global RNGs do. The one
override below returns the same grouping with its own generator seeded by ``data_seed + epoch`` (``set_epoch`` is
called by the Trainer / accelerate each epoch), so every process and every resume draws the same order. Under DDP
the mega-batches cover all processes' rows of a step and accelerate's ``BatchSamplerShard`` deals the micro-batches
round-robin, so each rank gets its share and the ranks' batches at one step have similar lengths.

This module imports trl at import time (it subclasses a trl class); import it only where training happens.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch
from transformers.trainer_pt_utils import LengthGroupedSampler, get_length_grouped_indices
from trl import SFTTrainer

GROUP_BY_LENGTH = "group_by_length"


class SeededLengthGroupedSampler(LengthGroupedSampler):
    """transformers' ``LengthGroupedSampler`` with the permutation seeded by ``seed + epoch``."""

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int) -> None:
        super().__init__(batch_size, lengths=list(lengths))
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator()
        generator.manual_seed(self.seed + self.epoch)
        return iter(get_length_grouped_indices(self.lengths, self.batch_size, generator=generator))


class GroupedSFTTrainer(SFTTrainer):
    """trl's ``SFTTrainer``; only ``group_by_length`` gets a different (seeded) sampler, see the module docstring."""

    def _get_train_sampler(self, train_dataset: Any = None) -> Any:
        if self.args.train_sampling_strategy != GROUP_BY_LENGTH:
            return super()._get_train_sampler(train_dataset)
        dataset = self.train_dataset if train_dataset is None else train_dataset
        column = self.args.length_column_name
        if column not in dataset.column_names:
            raise ValueError(f"train_sampling_strategy={GROUP_BY_LENGTH} needs a {column!r} column of row lengths")
        lengths = dataset.with_format(None)[column]  # without the row transform: no image is read
        seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
        rows_per_step = (
            self.args.train_batch_size * self.args.gradient_accumulation_steps * max(1, self.args.world_size)
        )
        return SeededLengthGroupedSampler(list(lengths), rows_per_step, seed)
