"""The CLI forms that people and scripts depend on: ``python -m emnist_core`` run in this process (Keras loads once
for the suite, not once per command) or, where the process itself is what is tested, as a real subprocess."""

import json

import pytest
from PIL import Image

from conftest import run_cli, synthetic, write_csv, write_idx_pair


def test_evaluate_idx_pair_json(tmp_path, tiny_model):
    x, y = synthetic(60, 1)
    images, labels = write_idx_pair(tmp_path, "bymerge", "test", x, y)
    out = json.loads(
        run_cli("evaluate", "--model", tiny_model, "--images", images, "--labels", labels, "--json").stdout
    )
    assert out["n"] == 60 and out["accuracy"] > 0.9


def test_evaluate_csv_json(tmp_path, tiny_model):
    x, y = synthetic(40, 2)
    csv = write_csv(tmp_path / "emnist-bymerge-test.csv", x, y)
    out = json.loads(run_cli("evaluate", "--model", tiny_model, "--csv", csv, "--json").stdout)
    assert out["n"] == 40 and 0.9 < out["accuracy"] <= 1


def test_predict_json_lines(tmp_path, tiny_model):
    paths = []
    for i, glyph in enumerate(synthetic(2, 3)[0][[0, 1]]):
        canvas = Image.fromarray(255 - glyph).resize((400, 400), Image.Resampling.NEAREST)
        canvas.save(tmp_path / f"c{i}.png")
        paths.append(tmp_path / f"c{i}.png")
    (tmp_path / "blank.png").write_bytes(b"not an image")
    # As a script meets it: a process of its own, its exit code and its output lines.
    proc = run_cli(
        "predict", "--model", tiny_model, "--json", *paths, tmp_path / "blank.png", check=False, own_process=True
    )
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line["file"] for line in lines] == [str(p) for p in paths] + [str(tmp_path / "blank.png")]
    for line in lines[:2]:
        assert len(line["top"]) >= 5
        probs = [p for _, p in line["top"]]
        assert probs == sorted(probs, reverse=True) and sum(probs) <= 1.0001
    assert lines[0]["top"][0][0] == "L"
    assert "error" in lines[2] and proc.returncode == 1


def test_bad_model_name_is_a_clear_error():
    proc = run_cli("predict", "--model", "nope", "x.png", check=False)
    assert proc.returncode == 2 and "unknown model 'nope'" in proc.stderr and "Traceback" not in proc.stderr


def test_every_command_has_help(capsys):
    from emnist_core.cli import main

    assert "roundtrip" in run_cli("--help").stdout
    for command in ("train", "evaluate", "predict", "report", "calibrate", "roundtrip"):
        with pytest.raises(SystemExit) as done:
            main([command, "--help"])
        assert done.value.code == 0 and "--model" in capsys.readouterr().out
