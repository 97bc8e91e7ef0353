"""Size and load time of the demo data pack (assets/data), checksums included.

Each repeat loads both groups in a fresh process (nothing kept in memory between repeats), as a server does at
start, and prints the wall time and the process's CPU time: on a shared machine the wall time includes waiting for
a core, the CPU time does not. The datasets that the app builds from the pack (pool47 and unipen, with no data
folders) are timed too. Usage:
    python bench/bench_pack.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT_BYTES, LIMIT_SECONDS = 15_000_000, 0.5  # what the pack may take on disk and to load


def child(mode: str) -> None:
    sys.path.insert(0, str(ROOT))
    import numpy  # noqa: F401  every path pays for numpy: not counted

    from emnist_core.data import datasets, pack, unipen

    # ../shared beside the project holds the full files here: look there no more, as on a fresh clone.
    datasets.PROJECT_ROOT = unipen.PROJECT_ROOT = Path(os.environ["HOME"])
    wall, cpu = time.perf_counter(), time.process_time()
    if mode == "pack":
        for group in pack.GROUPS:
            pack.load(group)
    else:  # the datasets, as the app's loaders get them on a machine with no data files
        datasets.load_dataset("pool47")
        datasets.load_dataset("unipen")
    print(json.dumps({"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}))


def run(mode: str, env: dict) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=env["HOME"],
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    sys.path.insert(0, str(ROOT))
    from emnist_core.data import pack

    files = [pack.pack_file(group) for group in pack.GROUPS] + [pack.manifest_file()]
    size = sum(f.stat().st_size for f in files)
    contents = json.loads(pack.manifest_file().read_text())["contents"]
    print(
        f"pack: {size:,} bytes ({size / 1e6:.2f} MB; limit {LIMIT_BYTES / 1e6:.0f} MB): "
        + ", ".join(f"{f.name} {f.stat().st_size / 1e6:.2f} MB" for f in files)
    )
    for group, counts in contents.items():
        print(f"  {group}: test {counts['test']:,}, train {counts['train']:,}, validation {counts['validation']:,}")
    with tempfile.TemporaryDirectory() as home:
        # No data folders anywhere the project looks, an empty cache: what a fresh clone or a Space has.
        env = {k: v for k, v in os.environ.items() if k not in ("EMNIST_DATA_DIR", "UNIPEN_DATA_DIR")}
        env.update(HOME=home, EMNIST_CACHE_DIR=str(Path(home) / "cache"))
        for mode, what in (("pack", "load + checksums, both groups"), ("datasets", "pool47 + unipen datasets")):
            runs = [run(mode, env) for _ in range(args.repeats)]
            wall, cpu = (statistics.median(r[k] for r in runs) for k in ("wall", "cpu"))
            print(f"{what}: median of {args.repeats}: wall {wall:.3f} s, CPU {cpu:.3f} s (limit {LIMIT_SECONDS} s)")


if __name__ == "__main__":
    main()
