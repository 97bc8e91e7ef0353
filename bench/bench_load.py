"""Load time and peak memory of EMNIST ByMerge test: our loader (cold, cached) vs the seed's pandas path.

Each measurement runs in its own subprocess so peak RSS is its own. Usage:
    python bench/bench_load.py [--data-dir ../shared/emnist]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def child(mode: str, images: str, labels: str, csv: str) -> None:
    import numpy as np

    started = time.perf_counter()
    if mode == "baseline":  # the interpreter and numpy, which every path pays
        n = 0
    elif mode in ("ours-cold", "ours-cached"):
        from emnist_core.data import datasets

        x, y = datasets.load_files(images, labels, "bymerge")
        n = len(y)
    elif mode == "pandas-seed":
        import pandas as pd

        frame = pd.read_csv(csv, header=None)  # the seed report's path: default dtypes
        x = frame.iloc[:, 1:].to_numpy().reshape(-1, 28, 28)
        n = len(x)
    if mode != "baseline":
        int(np.asarray(x).sum(dtype=np.uint64))  # read every pixel: a memory-mapped load is not free
    seconds = time.perf_counter() - started
    print(json.dumps({"mode": mode, "seconds": seconds, "peak_rss_mb": peak_rss_mb(), "n": n}))


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM, not ru_maxrss: Linux carries ru_maxrss over from
    the parent across fork and exec, which would charge the parent's CSV writing to every child."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(mode, args, env):
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, *args], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("EMNIST_DATA_DIR", str(ROOT.parent / "shared" / "emnist")))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, *args.paths)

    from emnist_core.data.datasets import find_files, load_files

    images, labels = find_files("bymerge", "test", args.data_dir)
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "EMNIST_CACHE_DIR": str(Path(tmp) / "cache")}
        csv = Path(tmp) / "emnist-bymerge-test.csv"
        print(f"writing {csv.name} (Kaggle layout) for the pandas path ...", file=sys.stderr)
        os.environ["EMNIST_CACHE_DIR"] = str(Path(tmp) / "scratch")
        import numpy as np
        import pandas as pd

        x, y = load_files(images, labels, "bymerge")
        rows = np.concatenate([np.asarray(y)[:, None], np.asarray(x).transpose(0, 2, 1).reshape(len(y), -1)], 1)
        pd.DataFrame(rows).to_csv(csv, header=False, index=False)
        paths = [str(images), str(labels), str(csv)]
        results = {m: run(m, paths, env) for m in ("baseline", "ours-cold", "ours-cached", "pandas-seed")}
        csv_mb = csv.stat().st_size / 1e6

    base = results["baseline"]["peak_rss_mb"]
    print(
        f"ByMerge test: {results['ours-cold']['n']:,} images; {images.name} {images.stat().st_size / 1e6:.1f} MB, "
        f"the same as a Kaggle CSV {csv_mb:.0f} MB"
    )
    print(f"{'path':<14}{'seconds':>10}{'peak RSS MB':>14}{'above baseline MB':>20}")
    for mode, r in results.items():
        print(f"{mode:<14}{r['seconds']:>10.3f}{r['peak_rss_mb']:>14.0f}{r['peak_rss_mb'] - base:>20.0f}")
    pandas, cold, cached = (results[m] for m in ("pandas-seed", "ours-cold", "ours-cached"))
    print(
        f"pandas / ours cold:   {pandas['seconds'] / cold['seconds']:.1f}x time, "
        f"{(pandas['peak_rss_mb'] - base) / max(cold['peak_rss_mb'] - base, 1):.1f}x memory"
    )
    print(
        f"pandas / ours cached: {pandas['seconds'] / cached['seconds']:.0f}x time, "
        f"{(pandas['peak_rss_mb'] - base) / max(cached['peak_rss_mb'] - base, 1):.1f}x memory"
    )


if __name__ == "__main__":
    main()
