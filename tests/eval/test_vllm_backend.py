"""The vLLM backend fails with a clear message where it cannot run (no package, or no CUDA GPU)."""

from pathlib import Path

import pytest

from spatialladder.errors import ConfigError
from spatialladder.eval.predict import make_generator
from spatialladder.eval.vllm_backend import require_vllm

from .test_runner import make_cfg


def test_missing_vllm_package_is_a_clear_error(tmp_path: Path):
    pytest.importorskip("torch")
    try:
        import vllm  # noqa: F401

        pytest.skip("vllm is installed here")
    except ImportError:
        pass
    cfg = make_cfg(tmp_path, tmp_path, tmp_path / "o", backend="vllm")
    with pytest.raises(ConfigError, match=r"needs the vllm package \(pip install vllm"):
        make_generator(cfg)


def test_missing_cuda_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is visible")
    (tmp_path / "vllm").mkdir()
    (tmp_path / "vllm" / "__init__.py").write_text('"""An empty stand-in package: only the import must succeed."""\n')
    import sys

    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "vllm", raising=False)
    try:
        with pytest.raises(ConfigError, match="needs a CUDA GPU"):
            require_vllm()
    finally:  # the stand-in must not outlive this test (other tests check that vllm is absent)
        sys.modules.pop("vllm", None)
