"""The ``spatialladder`` command line. Command bodies only load config and call one ``run_*`` function."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import typer

from spatialladder.errors import SpatialLadderError

app = typer.Typer(
    help="Teach Qwen2.5-VL spatial reasoning the SpatialLadder way: ScanNet → QA data → 3-stage training → benchmarks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
config_app = typer.Typer(help="Inspect and check YAML configs.", no_args_is_help=True)
app.add_typer(config_app, name="config")

SetOption = typer.Option(None, "--set", help="Override a config value: dotted.path=value (repeatable).")


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging.")) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )


@config_app.command("show")
def config_show(
    config: Path = typer.Option(..., "--config", "-c", help="YAML config file."),
    overrides: list[str] = SetOption,
) -> None:
    """Print the resolved config (defaults filled in, overrides applied).

    Example: spatialladder config show -c configs/train/stage1_localization.yaml --set trainer.learning_rate=2e-5
    """
    from spatialladder.config.load import load_config, to_yaml

    typer.echo(to_yaml(load_config(config, overrides or [])), nl=False)


@config_app.command("validate")
def config_validate(
    config: Path = typer.Option(..., "--config", "-c", help="YAML config file."),
    overrides: list[str] = SetOption,
) -> None:
    """Validate a config deeply: schema, registry names and trl's own config classes.

    Example: spatialladder config validate -c configs/train/stage3_grpo.yaml --set trainer.beta=0.04
    """
    from spatialladder.config.load import load_config
    from spatialladder.config.validate import deep_validate

    checked = deep_validate(load_config(config, overrides or []), str(config))
    typer.echo(f"{config}: OK ({', '.join(checked)})")


@app.command("make-tiny-model")
def make_tiny_model(
    out_dir: Path = typer.Argument(..., help="Folder to write the checkpoint into."),
    seed: int = typer.Option(0, help="Seed for the random weights."),
) -> None:
    """Write a tiny random Qwen2.5-VL (model + processor) built offline, for tests and the demo.

    Example: spatialladder make-tiny-model outputs/tiny-qwen2.5-vl
    """
    from spatialladder.testing.tiny_qwen import build_tiny_qwen2_5_vl

    typer.echo(str(build_tiny_qwen2_5_vl(out_dir, seed=seed)))


def main() -> None:
    """Console entry point: library errors become one clear line and exit code 2, not a traceback."""
    try:
        app(standalone_mode=False)
    except SpatialLadderError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        sys.exit(2)
    except (typer.Exit, typer.Abort) as exc:
        sys.exit(getattr(exc, "exit_code", 1))
    except Exception as exc:  # click usage errors arrive here in non-standalone mode
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()
