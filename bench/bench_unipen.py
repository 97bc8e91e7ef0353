"""The first read of UNIPEN: parse every file, then draw and preprocess every character (target: under 2 minutes).

Runs with an empty, temporary cache, so it measures what a new user waits for once; the second load
(from the cache) is timed too.

    python bench/bench_unipen.py [--unipen-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

TARGET_SECONDS = 120


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--unipen-dir")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        os.environ["EMNIST_CACHE_DIR"] = cache
        from emnist_core.data import drawn
        from emnist_core.data.unipen import find_unipen_dir, iter_samples

        root = find_unipen_dir(args.unipen_dir)
        started = time.perf_counter()
        n = sum(1 for _ in iter_samples(root))
        parse = time.perf_counter() - started
        started = time.perf_counter()
        x, _meta, _ = drawn.unipen_arrays(args.unipen_dir)
        first = time.perf_counter() - started
        started = time.perf_counter()
        drawn.unipen_arrays(args.unipen_dir)
        cached = time.perf_counter() - started
    print(f"UNIPEN at {root}, {os.cpu_count()} cores")
    print(f"  parse only:                          {parse:6.1f} s  ({n:,} characters)")
    usable = f"{len(x):,} usable characters; target {TARGET_SECONDS} s"
    print(f"  first load (parse, draw, preprocess): {first:6.1f} s  ({usable})")
    print(f"  from the cache:                      {cached:6.2f} s")


if __name__ == "__main__":
    main()
