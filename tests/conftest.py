"""Offline, single-threaded, deterministic test environment; shared tiny fixtures."""

from __future__ import annotations

import os

# Before any Hugging Face import: no hub, no telemetry, one thread (two threads make tiny models 20x slower).
for _key, _value in {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "WANDB_MODE": "disabled",
    "OMP_NUM_THREADS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "TQDM_DISABLE": "1",
}.items():
    os.environ[_key] = _value

import ipaddress  # noqa: E402
import socket  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def _is_loopback(address: object) -> bool:
    if isinstance(address, tuple) and address:
        host = address[0]
        if host in ("localhost", ""):
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False
    return True  # unix sockets


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any non-loopback connection fails loudly: tests must never reach a hub."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        if not _is_loopback(address):
            raise RuntimeError(f"test tried to open a network connection to {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:
        has_cuda = False
    if has_cuda:
        return
    skip = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen2.5-VL checkpoint on disk, built once per session with no network."""
    import torch

    torch.set_num_threads(1)
    from spatialladder.testing.tiny_qwen import build_tiny_qwen2_5_vl

    return build_tiny_qwen2_5_vl(tmp_path_factory.mktemp("tiny-qwen"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_family_dirs(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> dict[str, Path]:
    """A tiny random checkpoint of every model family, by family name (Qwen2.5-VL: ``tiny_model_dir``)."""
    import torch

    torch.set_num_threads(1)
    from spatialladder.testing.tiny_qwen import build_tiny

    dirs = {"qwen2.5-vl": tiny_model_dir}
    for family in ("qwen3-vl", "qwen3.5"):
        dirs[family] = build_tiny(tmp_path_factory.mktemp(f"tiny-{family}"), family)
    return dirs


@pytest.fixture
def console(monkeypatch):
    """The real console entry point as a function: ``console(["eval", ...])`` → exit code (error lines on stderr)."""
    import sys

    from spatialladder.cli import main

    def run(argv: list[str]) -> int:
        monkeypatch.setattr(sys, "argv", ["spatialladder", *argv])
        try:
            main()
        except SystemExit as exc:
            return int(exc.code or 0)
        return 0

    return run
