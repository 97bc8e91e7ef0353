"""The CLI forms that people and scripts depend on: ``python -m emnist_core`` run in this process (Keras loads once
for the suite, not once per command) or, where the process itself is what is tested, as a real subprocess."""

import io
import json
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, l_shapes, write_csv, write_idx_pair
from emnist_core.data.datasets import Dataset
from emnist_core.data.labels import label_map
from emnist_core.training.train import train_and_save
from emnist_core.training.config import TrainConfig


def run_cli(*args, check=True, own_process=False):
    """``python -m emnist_core ARGS`` -> what it exited with and printed (a ``subprocess.CompletedProcess``): in this
    process, as ``__main__`` runs it, from the project folder; ``own_process``: as a real subprocess."""
    argv = [str(a) for a in args]
    if own_process:
        proc = subprocess.run([sys.executable, "-m", "emnist_core", *argv], cwd=ROOT, capture_output=True, text=True,
                              timeout=300)
    else:
        from emnist_core.cli import main

        out, err, here = io.StringIO(), io.StringIO(), os.getcwd()
        os.chdir(ROOT)
        try:
            with redirect_stdout(out), redirect_stderr(err):
                code = main(argv)
        except SystemExit as exited:  # argparse's way out: a wrong command line, or --help
            code = exited.code if isinstance(exited.code, int) else int(exited.code is not None)
        finally:
            os.chdir(here)
        proc = subprocess.CompletedProcess(["python", "-m", "emnist_core", *argv], code, out.getvalue(),
                                           err.getvalue())
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}: {proc.stderr[-2000:]}")
    return proc


def synthetic(n, seed):
    """Two easy classes: 'L' shapes (class 21, "L") and their mirror images (class 7, "7"-ish)."""
    x = l_shapes(n, seed)
    y = np.full(n, 21)
    x[n // 2 :], y[n // 2 :] = x[n // 2 :, :, ::-1], 7
    return x, y


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    x, y = synthetic(400, 0)
    data = Dataset("synthetic", label_map("bymerge"), x, y, x[:50], y[:50], x[:100], y[:100], "two shapes", [])
    return train_and_save(TrainConfig(model="seed-mlp", epochs=3, batch_size=32),
                          tmp_path_factory.mktemp("m") / "tiny.keras", data).path


def test_evaluate_idx_pair_json(tmp_path, tiny_model):
    x, y = synthetic(60, 1)
    images, labels = write_idx_pair(tmp_path, "bymerge", "test", x, y)
    out = json.loads(run_cli("evaluate", "--model", tiny_model, "--images", images, "--labels", labels,
                             "--json").stdout)
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
    proc = run_cli("predict", "--model", tiny_model, "--json", *paths, tmp_path / "blank.png", check=False,
                   own_process=True)
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
