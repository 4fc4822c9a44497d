"""spatialladder: ScanNet → spatial QA → Qwen2.5-VL trained up the SpatialLadder curriculum → benchmark scores.

Importing the package is cheap on purpose: no torch, no transformers, no side effects.
"""

__version__ = "0.1.0"
