"""The app as a Hugging Face Space runs it: ``python app.py`` started from a clean copy of the repository, with no
data beside it, no data variables, no cache and another HOME; every tab is then used through the API.

The copy holds what git would hand over: the tracked files and the untracked ones it does not ignore, each as it is
in the working tree now (so uncommitted work is tested too). It sits in a temporary folder with no ``../shared``
beside it, so the EMNIST files, the UNIPEN files and the old cache are all out of reach: only the demo data pack in
``assets/data`` can serve the Confusions galleries and the Retrain tab.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from conftest import ROOT, sketch, sketch_file

START_TIMEOUT = 240  # the first start exports the models for serving (10-20 s alone on an idle machine)
CALL_TIMEOUT = 60
TRAIN_TIMEOUT = 240  # the Retrain form's defaults: seed-mlp, 10 epochs on 16,000 pack images (10-21 s idle)
LOG_TAIL = 3000
# What a Space does not have: data folders, a cache, the tests' own settings. Anything named so is dropped.
UNSET_PREFIXES = ("EMNIST_", "UNIPEN_", "GRADIO_", "HF_", "XDG_", "KERAS_", "MPLCONFIGDIR", "PYTHONPATH")
POOL47_TEST, UNIPEN_TEST = "21,617", "9,317"  # the pack's two test sets, as the page counts them
GALLERY_SHOWN = 48  # the gallery's most (ui/confusions.GALLERY_MAX): O -> 0 has more mistakes on both test sets
GALLERY_TILE = 28 * 4  # a 28x28 test image, enlarged 4 times
FAR_ABOVE_CHANCE = 0.5  # 47 classes: chance is 2%; ten epochs of the seed MLP read 80% or so


def clean_copy(folder: Path) -> Path:
    """The repository as git would hand it over, copied from the working tree into ``folder``/repo."""
    try:
        listed = subprocess.run(
            ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"no git checkout to copy the repository from: {exc}")
    repo = folder / "repo"
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is not handed over
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name)  # a real copy: a link would lead back to the data beside ROOT
    return repo


def space_environment(home: Path, port: int) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(UNSET_PREFIXES)}
    return {
        **env,
        "HOME": str(home),
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_TEMP_DIR": str(home / "gradio"),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "MPLBACKEND": "Agg",
    }


def free_port() -> int:
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]
    except OSError as exc:
        pytest.skip(f"the app cannot start here: no free loopback port ({exc})")


def files_under(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.stat().st_size for p in folder.rglob("*") if p.is_file()}


class Space:
    """The running app: its copy, its HOME, its process and log, and a gradio_client on it."""

    def __init__(self, folder: Path):
        self.repo, self.home = clean_copy(folder), folder / "home"
        self.home.mkdir()
        self.assets_before = files_under(self.repo / "assets")
        self.log_path = folder / "app.log"
        self.port = free_port()
        self.env = space_environment(self.home, self.port)
        self.started = time.perf_counter()
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "app.py"], cwd=self.repo, stdout=log, stderr=subprocess.STDOUT, env=self.env
            )
        self.client = self.connect()
        self.start_seconds = time.perf_counter() - self.started

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-LOG_TAIL:]

    def connect(self):
        from gradio_client import Client

        deadline = self.started + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                if "empty port" in self.log():  # another program took the port meanwhile
                    pytest.skip(f"the app cannot start here: port {self.port} was taken")
                pytest.fail(f"app.py exited with {self.process.returncode} before serving:\n{self.log()}")
            try:
                return Client(f"http://127.0.0.1:{self.port}/", verbose=False)
            except Exception:  # not listening yet
                if time.perf_counter() > deadline:
                    pytest.fail(f"app.py did not serve within {START_TIMEOUT} s:\n{self.log()}")
                time.sleep(0.2)

    def call(self, api_name: str, *args, timeout: float = CALL_TIMEOUT):
        try:
            return self.client.submit(*args, api_name=api_name).result(timeout=timeout)
        except Exception as exc:
            raise AssertionError(f"{api_name} failed: {exc!r}\napp log:\n{self.log()}") from exc

    def peak_memory(self) -> str:
        """The app's peak resident memory so far (Linux), for the README's hardware advice."""
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return "unknown"
        return next(
            (line.split(":", 1)[1].strip() for line in status.splitlines() if line.startswith("VmHWM")), "unknown"
        )

    def stop(self):
        print(f"app.py peak memory: {self.peak_memory()}")
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    folder = tmp_path_factory.mktemp("space")
    space = Space(folder)
    try:
        yield space
    finally:
        space.stop()


@pytest.fixture(scope="module")
def seven(tmp_path_factory) -> dict:
    return sketch(sketch_file(tmp_path_factory.mktemp("sketch"), "7"))


def test_the_copy_has_no_data_beside_it(space):
    """What the rest relies on: the app runs where no data and no cache can be found."""
    assert not (space.repo.parent / "shared").exists() and not (space.repo / "data").exists()
    assert not (space.repo / ".git").exists() and (space.repo / "assets" / "data" / "manifest.json").is_file()
    assert not [k for k in space.env if k.startswith(("EMNIST_", "UNIPEN_"))] and space.env["HOME"] == str(space.home)
    print(f"app.py served {space.start_seconds:.1f} s after start (the models exported on this first start)")


def test_draw_predict_and_explain(space, seven):
    mlp, cnn, preview, verdict = space.call("/predict", seven)
    assert mlp["label"] == "7" and cnn["label"] == "7", (mlp, cnn)
    assert "<img" in preview and "7" in verdict
    mlp_overlay, cnn_overlay, captions = space.call("/explain", seven)
    assert Image.open(mlp_overlay).size == Image.open(cnn_overlay).size
    assert captions.startswith("MLP") and "\nCNN" in captions


def test_a_correction_is_kept_in_home(space, seven):
    """Without EMNIST_CORRECTIONS_DIR, corrections go to the cache in HOME: on a Space, gone at restart unless
    persistent storage holds them."""
    message = space.call("/correct", seven, "7")
    assert message.startswith("Kept as **7**"), message
    assert list((space.home / ".cache" / "emnist_sketch_lab" / "corrections").glob("*.json"))


def test_inside_and_challenge(space, seven):
    """The tabs that need only the models and a folder to keep drawings in."""
    cnn_maps, mlp_units, note = space.call("/inside", seven)
    assert cnn_maps and mlp_units, note
    who, words, _result = space.call("/challenge_answer", seven, "7")
    assert who in ("both", "mlp", "cnn", "neither") and words
    scores, _summary, _rows = space.call("/class_scores")
    assert scores["drawings"] == 1, scores


@pytest.mark.parametrize("test_set, count", [("pool47", POOL47_TEST), ("unipen", UNIPEN_TEST)])
def test_confusions_and_the_o_0_gallery(space, test_set, count):
    """Both test sets from the pack alone, at once: the matrix, the ranked pairs, the per-class table, the note
    that says the data is the pack's, and the gallery of O read as 0 full (no "still loading")."""
    for slot in ("mlp", "cnn"):
        summary, matrix, pairs, table, data_note = space.call("/confusions", slot, test_set)
        assert f"on {count} " in summary, summary
        assert "demo data pack" in data_note, f"the page does not say which data is in use: {data_note!r}"
        assert matrix.startswith('<img class="figure" src="data:image/png;base64,') and " on " in matrix[-80:]
        assert pairs["choices"] and len(table["data"]) > 40
    true_class, predicted, images, message = space.call("/gallery_O_0", "cnn", test_set)
    assert (true_class, predicted) == ("O", "0")
    assert len(images) == GALLERY_SHOWN, message
    assert Image.open(images[0]["image"]).size == (GALLERY_TILE, GALLERY_TILE)
    assert images[0]["caption"].endswith("O / o (letter) -> 0 (zero)")


def test_default_retraining_job_reports_its_test_accuracy(space):
    """The Retrain form as it comes (the client sends the endpoint's defaults: the form's), trained on the pack's
    training slice and scored on its EMNIST test set; the model goes to HOME, never into assets/."""
    started = time.perf_counter()
    status, curves = space.call("/train", timeout=TRAIN_TIMEOUT)
    seconds = time.perf_counter() - started
    first_figure = re.search(r"([\d.]+)%", status)  # the new model's, on the EMNIST test set
    assert status.startswith("Done.") and first_figure, status
    assert float(first_figure[1]) / 100 > FAR_ABOVE_CHANCE, status
    assert POOL47_TEST in status and UNIPEN_TEST in status, f"not scored on both test sets: {status}"
    assert curves.startswith('<img class="figure" src="data:image/png;base64,') and "training curves" in curves
    assert list((space.home / ".cache" / "emnist_sketch_lab" / "models").glob("seed-mlp-*.keras"))
    assert files_under(space.repo / "assets") == space.assets_before
    print(f"default job: {first_figure[1]}% on EMNIST test, {seconds:.1f} s")


def test_model_cards(space):
    mlp_card, mlp_curves, mlp_summary, cnn_card, cnn_curves, cnn_summary = space.call("/model_cards")
    assert mlp_card.startswith("### MLP") and cnn_card.startswith("### CNN")
    assert "Parameters:" in mlp_card and "Parameters:" in cnn_card
    assert mlp_curves and cnn_curves and "Dense" in mlp_summary and "Conv2D" in cnn_summary
