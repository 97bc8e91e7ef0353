"""The demo data pack in assets/data: what it holds, its checksums, and the product working from it alone."""

import json
import shutil
import time

import numpy as np
import pytest

from emnist_core.data import cache, pack, unipen
from emnist_core.data import datasets as ds
from emnist_core.lab import state, testsets
from emnist_core.models.evaluation import DRAWN, EMNIST, find_mistakes

from conftest import ROOT

GALLERY_MAX = 48  # images the Confusions tab shows of one mistake


@pytest.fixture
def no_data(tmp_path, monkeypatch):
    """A machine with no EMNIST or UNIPEN files anywhere the project looks, and an empty cache: a fresh clone."""
    for name in ("EMNIST_DATA_DIR", "UNIPEN_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(ds, "PROJECT_ROOT", tmp_path)  # ../shared beside the project
    monkeypatch.setattr(unipen, "PROJECT_ROOT", tmp_path)
    monkeypatch.chdir(tmp_path)  # ./data
    # An empty cache (no decoded arrays, no downloaded data), sharing only the session's model exports: exporting
    # the shipped models for serving takes half a minute, and has nothing to do with the data.
    exports = cache.cache_dir() / "served"
    exports.mkdir(parents=True, exist_ok=True)
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "served").symlink_to(exports, target_is_directory=True)
    monkeypatch.setenv("EMNIST_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


@pytest.fixture
def pack_copy(tmp_path):
    folder = tmp_path / "pack"
    shutil.copytree(pack.PACK_DIR, folder)
    return folder


def report(name: str, test_set: str = EMNIST) -> dict:
    suffix = "" if test_set == EMNIST else f".{test_set}"
    return json.loads((ROOT / "assets" / f"{name}{suffix}.report.json").read_text())


def test_pack_is_compact_and_its_manifest_says_what_it_holds():
    files = [pack.pack_file(group) for group in pack.GROUPS] + [pack.manifest_file()]
    assert sum(f.stat().st_size for f in files) <= 15_000_000
    assert all(f.stat().st_size < pack.FILE_LIMIT for f in files)  # a Space takes each without Git LFS
    manifest = pack.read_manifest(pack.manifest_file())
    assert manifest["command"] == "python -m emnist_core pack --out assets/data"
    counts = {
        group: {k: manifest["contents"][group][k] for k in ("train", "validation", "test")} for group in pack.GROUPS
    }
    assert counts == {
        "pool47": {"train": 16_000, "validation": 2_000, "test": 21_617},
        "unipen": {"train": 8_000, "validation": 1_000, "test": 9_317},
    }
    emnist, drawn = manifest["sources"]["emnist"], manifest["sources"]["unipen"]
    assert "arXiv:1702.05373" in emnist["cite"] and "Special Database 19" in emnist["origin"]
    assert "CC BY 4.0" in drawn["licence"] and "10.5281/zenodo.1195803" in drawn["cite"]
    assert sorted(f["name"] for f in emnist["files"]) == sorted(
        f"emnist-{s}-test-{k}-ubyte.gz" for s in ("bymerge", "byclass") for k in ("images-idx3", "labels-idx1")
    )
    assert all(len(f["sha256"]) == 64 for f in emnist["files"]) and len(drawn["sha256"]) == 64
    for group, names in pack.GROUPS.items():
        arrays, _ = pack.load(group)
        for name in names:
            assert pack.array_sha256(arrays[name]) == manifest["arrays"][group][name]["sha256"]


def test_the_pack_test_parts_are_the_ones_the_shipped_reports_index():
    arrays, _ = pack.load("pool47")
    y_test = arrays["labels"][arrays["part"] == pack.TEST]
    meta = pack.load("unipen")[0]["meta"]
    drawn_test = meta[meta[:, 2] == pack.TEST]
    for name in ("cnn-pen-prior", "mlp-pen-prior", "seed-cnn"):
        emnist = report(name)
        assert emnist["n"] == len(y_test) == 21_617
        assert all(y_test[i] == true for i, true, _ in emnist["misclassified"])  # each mistake's true class
        on_drawn = report(name, DRAWN)
        assert on_drawn["n"] == len(drawn_test) == 9_317
        assert all(drawn_test[i, 0] == true for i, true, _ in on_drawn["misclassified"])
    sections = dict(zip(*np.unique(drawn_test[:, 1], return_counts=True)))
    assert sections == {0: 1_069, 1: 2_575, 2: 5_673}  # digits, upper, lower: as README says


def test_pack_pool47_test_is_the_full_pool47_test(pool47, no_data):
    from_pack = ds.load_dataset("pool47")
    assert from_pack.source == "the demo data pack (16,000 training images; the full test part)"
    assert pool47.source.startswith("full EMNIST files in ")
    np.testing.assert_array_equal(from_pack.x_test, pool47.x_test)
    np.testing.assert_array_equal(from_pack.y_test, pool47.y_test)
    assert from_pack.y_test.dtype == pool47.y_test.dtype


@pytest.mark.parametrize(
    "damage, says",
    [
        ("flip a byte", "SHA-256 is not the one in manifest.json"),
        ("cut the file short", "SHA-256 is not the one in manifest.json"),
        ("edit an array's SHA-256", "array pool47/labels does not match its SHA-256"),
        ("break the manifest", "cannot be read as JSON"),
    ],
)
def test_a_damaged_pack_is_refused_with_a_message_naming_the_file(pack_copy, damage, says):
    npz, manifest_path = pack.pack_file("pool47", pack_copy), pack.manifest_file(pack_copy)
    if damage == "flip a byte":
        raw = bytearray(npz.read_bytes())
        raw[len(raw) // 2] ^= 0x01
        npz.write_bytes(bytes(raw))
    elif damage == "cut the file short":
        npz.write_bytes(npz.read_bytes()[:-1000])
    elif damage == "edit an array's SHA-256":
        manifest = json.loads(manifest_path.read_text())
        manifest["arrays"]["pool47"]["labels"]["sha256"] = "0" * 64
        manifest_path.write_text(json.dumps(manifest))
    else:
        manifest_path.write_text("{")
    with pytest.raises(pack.PackError) as err:
        pack.load("pool47", pack_copy)
    message = str(err.value)
    named = manifest_path if damage == "break the manifest" else npz
    assert says in message and str(named) in message and pack.BUILD_COMMAND in message


def test_without_data_or_pack_the_message_is_one_paragraph_with_one_command(no_data, monkeypatch):
    monkeypatch.setattr(pack, "PACK_DIR", no_data / "no-pack")
    with pytest.raises(ds.DataNotFoundError) as err:
        ds.load_dataset("pool47")
    message = str(err.value)
    assert "\n" not in message and message.count("python -m emnist_core") == 1
    assert "download --split bymerge byclass --part test" in message
    assert str(no_data / "data") in message and str(no_data / "cache" / "data") in message  # the folders looked in
    assert str(no_data / "no-pack") in message


def test_a_lab_with_no_data_serves_the_o_0_gallery_and_drawn_characters_from_the_pack(no_data):
    lab = state.Lab()
    assert lab.tests.dataset(EMNIST, wait=30) and lab.tests.dataset(EMNIST) is not None, lab.tests.message(EMNIST)
    assert lab.tests.dataset(EMNIST).source.startswith("the demo data pack")
    x_test, _ = lab.tests.images(EMNIST)
    _, _, hits = find_mistakes(lab.models.get("cnn").report, "O", "0")
    shown = [i for i, _ in hits[:GALLERY_MAX]]
    assert len(shown) == GALLERY_MAX
    images = x_test[shown]
    assert images.shape == (GALLERY_MAX, 28, 28) and (images.max(axis=(1, 2)) > 0).all()
    o_class = lab.tests.dataset(EMNIST).label_map.index_of("O")
    assert (lab.tests.dataset(EMNIST).labels_as_classes(lab.tests.dataset(EMNIST).y_test[shown]) == o_class).all()

    started = time.monotonic()
    drawn, message = lab.tests.images(DRAWN)
    assert drawn is not None and len(drawn) == 9_317, message
    assert time.monotonic() - started < testsets.DRAWN_WAIT_SECONDS  # at once, not "still loading"
    assert lab.tests.dataset(DRAWN).source.startswith("the demo data pack")
    assert not (no_data / "cache" / cache.ARRAYS).exists()  # nothing decoded: the pack is read as it is


def test_evaluate_works_from_the_pack_alone_and_says_so(no_data, capsys):
    from emnist_core.cli import main

    for dataset, n in (("unipen", 9_317), ("pool47", 21_617)):
        assert main(["evaluate", "--model", "mlp", "--dataset", dataset, "--json"]) == 0
        result = json.loads(capsys.readouterr().out)
        assert result["n"] == n and result["source"].startswith("the demo data pack")
        assert result["accuracy"] > 0.8  # the shipped model reads them: images and labels belong together
        assert set(result.get("sections", {})) == ({"digits", "upper", "lower"} if dataset == "unipen" else set())
