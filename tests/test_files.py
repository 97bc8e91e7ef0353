"""Reading IDX and CSV files the tests write: orientation, both formats, caching, discovery."""

import numpy as np
import pytest

from emnist_core.data import datasets as ds
from emnist_core.data import files

from conftest import l_shapes, write_csv, write_idx_pair


@pytest.mark.parametrize("gz", [True, False])
def test_idx_images_come_back_upright(tmp_path, gz):
    upright = l_shapes(5)
    images, labels = write_idx_pair(tmp_path, "bymerge", "test", upright, [21, 1, 2, 3, 4], gz=gz)
    x, y = ds.load_files(images, labels, "bymerge")
    assert x.dtype == np.uint8 and x.shape == (5, 28, 28)
    np.testing.assert_array_equal(x, upright)
    assert y.tolist() == [21, 1, 2, 3, 4]
    # The raw file really is transposed: reading it without the fix would not give an L.
    assert not np.array_equal(files.read_idx_images(images).transpose(0, 2, 1), upright)


def test_csv_matches_idx(tmp_path):
    upright = l_shapes(4, seed=1)
    csv = write_csv(tmp_path / "emnist-bymerge-train.csv", upright, [0, 10, 36, 46])
    x, y = ds.load_files(csv, None, "bymerge")
    np.testing.assert_array_equal(x, upright)
    assert y.tolist() == [0, 10, 36, 46] and x.dtype == np.uint8


def test_second_load_is_served_from_a_memory_mapped_cache(tmp_path):
    images, labels = write_idx_pair(tmp_path, "digits", "test", l_shapes(3), [1, 1, 1])
    first, _ = ds.load_files(images, labels, "digits")
    second, _ = ds.load_files(images, labels, "digits")
    assert isinstance(second, np.memmap)
    np.testing.assert_array_equal(first, second)


def test_labels_outside_the_split_are_refused(tmp_path):
    images, labels = write_idx_pair(tmp_path, "digits", "test", l_shapes(2), [3, 12])
    with pytest.raises(files.DataFileError, match="label 12 is outside 0-9"):
        ds.load_files(images, labels, "digits")


def test_image_and_label_counts_must_agree(tmp_path):
    images, _ = write_idx_pair(tmp_path / "a", "bymerge", "test", l_shapes(3), [1, 2, 3])
    _, labels = write_idx_pair(tmp_path / "b", "bymerge", "test", l_shapes(2), [1, 2])
    with pytest.raises(files.DataFileError, match="2 labels for 3 images"):
        ds.load_files(images, labels, "bymerge")


def test_find_files_prefers_the_flag_then_the_environment(tmp_path, monkeypatch):
    flag, env = tmp_path / "flag", tmp_path / "env"
    write_idx_pair(flag, "balanced", "train", l_shapes(2), [1, 2])
    env.mkdir()
    write_csv(env / "emnist-balanced-train.csv", l_shapes(2), [1, 2])
    monkeypatch.setenv("EMNIST_DATA_DIR", str(env))
    assert ds.find_files("balanced", "train")[0].suffix == ".csv"
    assert ds.find_files("balanced", "train", flag)[0].name.endswith("idx3-ubyte.gz")


def test_nist_archive_layout_is_found(tmp_path):
    write_idx_pair(tmp_path / "gzip", "letters", "test", l_shapes(2), [1, 26])
    images, labels = ds.find_files("letters", "test", tmp_path)
    assert images == tmp_path / "gzip" / "emnist-letters-test-images-idx3-ubyte.gz"
    assert labels == tmp_path / "gzip" / "emnist-letters-test-labels-idx1-ubyte.gz"


def test_missing_data_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("EMNIST_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(ds, "PROJECT_ROOT", tmp_path)  # hide ../shared/emnist
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ds.DataNotFoundError, match="EMNIST_DATA_DIR"):
        ds.find_files("byclass", "train")


def test_official_split_dataset_from_small_files(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(200, 28, 28), dtype=np.uint8)
    y = np.repeat(np.arange(10), 20)
    write_idx_pair(tmp_path, "mnist", "train", x, y)
    write_idx_pair(tmp_path, "mnist", "test", x[:30], y[:30])
    data = ds.load_dataset("mnist", tmp_path)
    assert data.counts() == {"train": 180, "validation": 20, "test": 30}
    assert np.bincount(data.y_val).tolist() == [2] * 10  # stratified 90/10
