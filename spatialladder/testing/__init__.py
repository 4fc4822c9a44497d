"""Test and demo helpers that ship with the package (like ``torch.testing``): tiny model, synthetic scenes."""
