"""The real EMNIST files in ../shared/emnist (skipped where they are absent)."""

import numpy as np

from emnist_core.data import dataset
from emnist_core.data import datasets as ds
from emnist_core.data.labels import label_map


def test_bymerge_test_loads_upright(shared_emnist):
    x, y = ds.load_split("bymerge", "test", shared_emnist)
    assert x.shape == (116323, 28, 28) and x.dtype == np.uint8
    assert y.min() == 0 and y.max() == 46
    # Upright ones are tall: their ink spreads further down the rows than across the columns.
    ones = x[y == label_map("bymerge").index_of("1")][:500].astype(np.float64)
    grid = np.arange(28.0)
    weight = ones.sum(axis=(1, 2))
    spread = lambda profile: np.sqrt((profile * grid**2).sum(1) / weight - ((profile * grid).sum(1) / weight) ** 2)
    tall = spread(ones.sum(axis=2)) > spread(ones.sum(axis=1))
    assert tall.mean() > 0.95  # measured 0.99; transposed files would give about 0.01


def test_pool47_is_the_documented_union(pool47):
    assert pool47.counts() == {"train": 172934, "validation": 21617, "test": 21617}
    assert sum(pool47.counts().values()) == 216168
    assert set(np.unique(pool47.y_test)) == set(range(47))
    # Stratified: each class's share is the same in train and test (within rounding).
    share = lambda y: np.bincount(y, minlength=47) / len(y)
    assert np.abs(share(pool47.y_train) - share(pool47.y_test)).max() < 0.001


def test_pool47_parts_do_not_overlap(pool47):
    keys = [set(dataset.content_keys(x).tolist()) for x in (pool47.x_train, pool47.x_val, pool47.x_test)]
    assert not (keys[0] & keys[1] or keys[0] & keys[2] or keys[1] & keys[2])


def test_partition_is_keyed_on_content_not_order(pool47):
    x = np.concatenate([pool47.x_val, pool47.x_test])[:4000]
    y = np.concatenate([pool47.y_val, pool47.y_test])[:4000]
    perm = np.random.default_rng(1).permutation(len(y))
    a = dataset.partition(x, y, (0.8, 0.1, 0.1))
    b = dataset.partition(x[perm], y[perm], (0.8, 0.1, 0.1))
    for ia, ib in zip(a, b):
        assert set(dataset.content_keys(x[ia]).tolist()) == set(dataset.content_keys(x[perm][ib]).tolist())
