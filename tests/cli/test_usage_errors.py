"""Usage errors through the installed console script: click's usage line and one error line, exit 2, no traceback.

typer >= 0.2x vendors click as ``typer._click``, whose exceptions do not derive from click's: catching only
``click.ClickException`` in ``cli.main`` let ``spatialladder eval --bogus`` print a 38-line traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).with_name("spatialladder")


def run_script(*args: str) -> subprocess.CompletedProcess:
    assert SCRIPT.is_file(), f"console script not installed next to {sys.executable} (run make install)"
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120", "TERM": "dumb"}
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.parametrize(
    ("args", "usage", "error"),
    [
        (["eval", "--bogus"], "Usage: spatialladder eval [OPTIONS]", "Error: No such option: --bogus"),
        (["frobnicate"], "Usage: spatialladder [OPTIONS] COMMAND [ARGS]...", "Error: No such command 'frobnicate'."),
        (["config", "show"], "Usage: spatialladder config show [OPTIONS]", "Error: Missing option '--config' / '-c'."),
    ],
)
def test_usage_error_is_clicks_usage_line_and_exit_2(args, usage, error) -> None:
    result = run_script(*args)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert lines[0] == usage and lines[-1].startswith(error) and len(lines) == 3, lines  # usage, "Try ...", error


def test_plain_click_usage_errors_are_handled_too(monkeypatch, capsys) -> None:
    """A usage error from click itself (typer built on click, or code raising click's exceptions) is shown the same."""
    click = pytest.importorskip("click", reason="click is not installed; typer vendors its own copy")
    from spatialladder import cli

    command = click.Command("spatialladder-test")

    def raise_plain_click_error(**_kwargs):
        raise click.NoSuchOption("--bogus", ctx=click.Context(command, info_name="spatialladder-test"))

    monkeypatch.setattr(cli, "app", raise_plain_click_error)
    with pytest.raises(SystemExit) as info:
        cli.main()
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert info.value.code == 2 and lines[0] == "Usage: spatialladder-test [OPTIONS]", err
    assert lines[-1].startswith("Error: No such option") and "--bogus" in lines[-1] and len(lines) == 3, err
