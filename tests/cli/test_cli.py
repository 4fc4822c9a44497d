"""The console script, driven in process through Typer's runner."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from spatialladder.cli import app

runner = CliRunner()

SFT = {
    "kind": "sft",
    "stage": "spatial",
    "output_dir": "out/s2",
    "model": {"name_or_path": "Qwen/Qwen2.5-VL-3B-Instruct"},
    "data": {"files": ["d.jsonl"]},
    "trainer": {"learning_rate": 1e-5, "bf16": False, "use_cpu": True},
}


def test_help_lists_commands_and_examples() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "config" in result.output and "make-tiny-model" in result.output
    for args in (["config", "validate", "--help"], ["config", "show", "--help"], ["make-tiny-model", "--help"]):
        sub = runner.invoke(app, args)
        assert sub.exit_code == 0 and "Example:" in sub.output, args


def test_config_validate_builds_trl_config(tmp_path: Path) -> None:
    path = tmp_path / "s2.yaml"
    path.write_text(yaml.safe_dump(SFT))
    result = runner.invoke(app, ["config", "validate", "-c", str(path)])
    assert result.exit_code == 0, result.output
    assert "trl.SFTConfig" in result.output


def test_config_validate_catches_trl_typo(tmp_path: Path) -> None:
    path = tmp_path / "s2.yaml"
    path.write_text(yaml.safe_dump({**SFT, "trainer": {"learning_rte": 1e-5}}))
    result = runner.invoke(app, ["config", "validate", "-c", str(path)])
    assert result.exit_code != 0
    assert "trainer.learning_rte: not a field of trl.SFTConfig" in str(result.exception)


def test_config_show_applies_override(tmp_path: Path) -> None:
    path = tmp_path / "s2.yaml"
    path.write_text(yaml.safe_dump(SFT))
    result = runner.invoke(app, ["config", "show", "-c", str(path), "--set", "seed=123"])
    assert result.exit_code == 0, result.output
    shown = yaml.safe_load(result.output)
    assert shown["seed"] == 123 and shown["loss_on"] == "assistant"


def test_make_tiny_model(tmp_path: Path) -> None:
    result = runner.invoke(app, ["make-tiny-model", str(tmp_path / "tiny")])
    assert result.exit_code == 0, result.output
    for name in ("config.json", "model.safetensors", "processor_config.json", "tokenizer.json", "chat_template.jinja"):
        assert (tmp_path / "tiny" / name).is_file(), name


def test_command_exit_codes_reach_the_shell(tmp_path: Path, monkeypatch, capsys, console) -> None:
    """build-data exits 1 when too many scenes fail; main() must not swallow a command's typer.Exit code."""
    from spatialladder.testing.synthetic_scannet import write_synthetic_scene

    scans = tmp_path / "scans"
    write_synthetic_scene(scans, "scene0000_00", n_frames=8)
    (scans / "scene0001_00").mkdir()  # no files: fails
    args = ["build-data", "--scannet-root", str(scans), "--out", str(tmp_path / "out")]
    args += ["--set", "scannet.num_frames=8", "--set", "modalities.video_frames=8"]
    assert console(args) == 1


def test_build_data_given_the_scannet_root_builds_its_scans_folder(
    tmp_path: Path, monkeypatch, capsys, console
) -> None:
    """A ScanNet download's top folder (scans/, an exported/ tree, the label tsv and split lists beside scans/) is
    read as its scans/ folder: neither ``scans`` nor ``exported`` is taken for a scene, the split list beside
    scans/ still refuses val scenes, and the manifest records the folder used."""
    import json

    from spatialladder.testing.synthetic_scannet import write_synthetic_scene

    root = tmp_path / "ScanNet"
    write_synthetic_scene(root / "scans", "scene0000_00", n_frames=8)
    (root / "scans" / "scannetv2-labels.combined.tsv").rename(root / "scannetv2-labels.combined.tsv")
    (root / "scans" / "scene0707_00").mkdir()  # a val scene: refused by the list beside scans/, not built
    (root / "scannetv2_val.txt").write_text("scene0707_00\n")
    (root / "exported" / "scene0000_00" / "color").mkdir(parents=True)
    out = tmp_path / "out"
    args = ["build-data", "--scannet-root", str(root), "--out", str(out)]
    result = runner.invoke(app, [*args, "--set", "scannet.num_frames=8", "--set", "modalities.video_frames=8"])
    assert result.exit_code == 0, result.output
    assert "scenes: 1 ok, 0 failed" in result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["scenes"] == {"scene0000_00": {"status": "ok", "reason": ""}}
    assert manifest["config"]["scannet_root"] == str(root / "scans")
    assert sum(f["records"] for f in manifest["files"].values()) > 0

    # a folder that is neither: one line saying what to pass, exit 2, no scene reported as failed
    (tmp_path / "downloads" / "ScanNet").mkdir(parents=True)
    code = console(["build-data", "--scannet-root", str(tmp_path / "downloads"), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "pass the ScanNet root (the folder holding scans/) or its scans/ folder" in err


def test_user_mistakes_are_one_line_errors(tmp_path: Path, monkeypatch, capsys, console) -> None:
    sft = tmp_path / "s2.yaml"
    sft.write_text(yaml.safe_dump(SFT))
    cases = [
        (
            ["build-data", "--scenes", str(tmp_path / "nope.txt"), "--scannet-root", str(tmp_path)],
            "scene list not found",
        ),
        (["train", "--stage", "all", "-c", str(sft)], "this is a kind: sft config, but a kind: ladder config"),
        (["build-data", "-c", str(sft)], "this is a kind: sft config, but a kind: data config"),
        (["make-tiny-model", "/proc/no/such/dir"], "error:"),
    ]
    for argv, message in cases:
        assert console(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (argv, err)


def test_eval_bench_alias_shares_the_output_folder() -> None:
    from spatialladder.config.eval import build_eval_config
    from spatialladder.errors import ConfigError

    cfg = build_eval_config(None, [], bench="vsi", model="m/x", data="d")
    assert cfg.bench == "vsibench" and cfg.output_dir == "outputs/eval/vsibench"
    with pytest.raises(ConfigError, match="no benchmark"):
        build_eval_config(None, [], model="m/x", data="d")


def test_missing_local_model_folder_is_not_taken_for_a_hub_id(tmp_path: Path, monkeypatch) -> None:
    from spatialladder.errors import ModelLoadError
    from spatialladder.models.load import resolve_source

    (tmp_path / "outputs").mkdir()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelLoadError, match="does not exist"):
        resolve_source("outputs/nope")
