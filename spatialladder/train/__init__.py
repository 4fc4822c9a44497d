"""Training: SFT stages 1, 2 and cold start (``sft``), stage 3 GRPO (``grpo``), and ladder chaining (``ladder``).

Nothing heavy is imported here; trainer modules import torch/transformers/trl inside their functions.
"""
