"""The decoded-array cache: one entry per source, reused across copies, replaced by new contents; listed and cleared."""

import shutil
import subprocess
import sys

import numpy as np
import pytest

from emnist_core.data import cache, files
from emnist_core.data import datasets as ds

from conftest import ROOT, l_shapes, write_idx_pair


def run_cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "emnist_core", *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("EMNIST_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def decodes(monkeypatch):
    """How many times the image files were decoded (not served from the cache)."""
    calls = []
    real = files.read_idx_images
    monkeypatch.setattr(files, "read_idx_images", lambda path: calls.append(path) or real(path))
    return calls


def array_entries():
    return [item.name for item in cache.entries() if item.name.startswith(f"{cache.ARRAYS}/")]


def test_a_copy_elsewhere_reuses_the_entry_and_new_contents_replace_it(tmp_path, empty_cache, decodes):
    images, labels = write_idx_pair(tmp_path / "a", "digits", "test", l_shapes(6), [1] * 6)
    ds.load_files(images, labels, "digits")
    copy = tmp_path / "b"
    shutil.copytree(tmp_path / "a", copy)  # another place, another time: the same data
    x, _ = ds.load_files(copy / images.name, copy / labels.name, "digits")
    assert len(decodes) == 1 and isinstance(x, np.memmap)
    assert array_entries() == ["arrays/emnist-digits-test"]

    newer = l_shapes(6, seed=1)  # a newer copy of the file: different images under the same name
    write_idx_pair(copy, "digits", "test", newer, [2] * 6)
    x, y = ds.load_files(copy / images.name, copy / labels.name, "digits")
    np.testing.assert_array_equal(x, newer)
    assert y.tolist() == [2] * 6 and len(decodes) == 2
    assert array_entries() == ["arrays/emnist-digits-test"]  # replaced, not kept beside the old one


def test_unchanged_files_are_not_hashed_again(tmp_path, empty_cache, monkeypatch):
    images, labels = write_idx_pair(tmp_path, "digits", "test", l_shapes(3), [1] * 3)
    ds.load_files(images, labels, "digits")

    def no_hashing(path):
        raise AssertionError(f"{path} hashed again though it did not change")

    monkeypatch.setattr(cache, "file_sha256", no_hashing)
    x, _ = ds.load_files(images, labels, "digits")
    assert isinstance(x, np.memmap)


def test_entries_of_the_older_layout_are_removed_and_nothing_else(tmp_path, empty_cache):
    old = empty_cache / "pool47-0123456789abcdef"
    old.mkdir(parents=True)
    np.save(old / "images.npy", np.zeros((2, 28, 28), np.uint8))
    np.save(old / "labels.npy", np.zeros(2, np.int64))
    notes = empty_cache / "notes-0123456789abcdef"  # the same kind of name, but not a cache entry
    notes.mkdir()
    (notes / "mine.txt").write_text("keep me")
    assert "pool47-0123456789abcdef" in [item.name for item in cache.entries()]

    images, labels = write_idx_pair(tmp_path, "digits", "test", l_shapes(3), [1] * 3)
    ds.load_files(images, labels, "digits")
    assert not old.exists() and (notes / "mine.txt").exists()


def fill(tmp_path, folder):
    """An entry of decoded arrays, a model export, and what people gave: corrections and retrained models."""
    images, labels = write_idx_pair(tmp_path, "digits", "test", l_shapes(3), [1] * 3)
    ds.load_files(images, labels, "digits")
    (folder / "served").mkdir()
    (folder / "served" / "cnn-0.tflite").write_bytes(b"x" * 1000)
    for kept in ("corrections", "models"):
        (folder / kept).mkdir()
        (folder / kept / "one").write_text("given")


def test_clear_removes_what_can_be_made_again_and_keeps_what_people_gave(tmp_path, empty_cache):
    fill(tmp_path, empty_cache)
    freed, kept = cache.clear()
    assert freed > 1000 and sorted(item.name for item in kept) == ["corrections", "models"]
    assert not (empty_cache / cache.ARRAYS).exists() and not (empty_cache / "served").exists()
    assert (empty_cache / "corrections" / "one").exists() and (empty_cache / "models" / "one").exists()


def test_cache_command_lists_entries_and_sizes_and_clears(tmp_path, empty_cache):
    fill(tmp_path, empty_cache)
    listing = run_cli("cache").stdout
    assert str(empty_cache) in listing and "total" in listing
    entry = next(line for line in listing.splitlines() if "arrays/emnist-digits-test" in line)
    assert " MB" in entry and "decoded from 2 source files" in entry
    assert "[kept by --clear]" in next(line for line in listing.splitlines() if "corrections" in line)

    assert "cleared" in run_cli("cache", "--clear").stdout
    after = run_cli("cache").stdout
    assert "arrays/" not in after and "served" not in after and "corrections" in after
