"""Train on a GPU machine that has JAX but no TensorFlow and no network, with the project's own training code.

Two steps, one on each machine:

    python tools/gpu_train.py pack --model wide-resnet --dataset pool47+unipen [--epochs 20] [--init NAME]
        (here) writes the ignored folder gpu/: the dataset's arrays, compressed and cut into parts that
        each fit one transfer beside the working tree; the keras, namex and optree wheels for
        Python 3.12; and job.json (what to train). It prints the commands to run there.
    python tools/gpu_train.py train --out DIR
        (there) installs the wheels into /tmp/site, runs emnist_core's training under KERAS_BACKEND=jax
        and writes NAME.keras, its card and its pool47 (and drawn) test reports into DIR.

Each transfer to the GPU machine carries at most 64 MiB, the working tree included, and a warm machine
keeps what earlier calls left in the checkout's ignored folders, so the parts travel in consecutive calls
(each carrying ``gpu/part-K``) and the last call carries ``gpu/wheels`` and ``gpu/job.json`` too and
trains. With jax[cuda] or TensorFlow with CUDA installed on your own machine, none of this is needed:
``python -m emnist_core train ...`` uses the GPU as it is.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PACK = ROOT / "gpu"
TRANSFER_LIMIT = 64 * 2**20  # what one call may carry, working tree included
HEADROOM = 2 * 2**20  # for files that appear between packing and sending
WHEELS = ("keras==3.15.1", "namex", "optree")  # what the GPU machine lacks (it has JAX, numpy, scikit-learn)
WHEEL_PLATFORMS = (
    "manylinux_2_28_x86_64",
    "manylinux_2_27_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
    "manylinux1_x86_64",
)
ARRAYS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")
DRAWN = ("drawn_x", "drawn_y", "drawn_sections")  # unipen test, for the drawn figures
SITE = "/tmp/site"
TRAINED_ON = "GPU machine, KERAS_BACKEND=jax, via tools/gpu_train.py"  # on the card


def working_tree_bytes() -> int:
    """What a call sends besides carried folders: tracked files and untracked files git does not ignore."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    return sum((ROOT / name.decode()).stat().st_size for name in listed if name and (ROOT / name.decode()).is_file())


def pack(args) -> None:
    import numpy as np

    from emnist_core.data import datasets as ds
    from emnist_core.models.registry import model_spec

    model_spec(args.model)  # a clear error for an unknown name, before any work
    data = ds.load_dataset(args.dataset, args.data_dir, args.unipen_dir)
    arrays = {name: getattr(data, name) for name in ARRAYS}
    if "unipen" in data.name:  # drawn test figures are made there too
        drawn = ds.load_dataset("unipen", unipen_dir=args.unipen_dir)
        arrays.update(drawn_x=drawn.x_test, drawn_y=drawn.y_test, drawn_sections=drawn.test_sections)
    PACK.mkdir(exist_ok=True)
    wheels = PACK / "wheels"
    if not any(wheels.glob("*.whl")):
        platforms = [a for p in WHEEL_PLATFORMS for a in ("--platform", p)]
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--only-binary=:all:",
                "--python-version",
                "3.12",
                "--implementation",
                "cp",
                *platforms,
                "-d",
                str(wheels),
                *WHEELS,
            ],
            check=True,
        )
    wheel_bytes = sum(p.stat().st_size for p in wheels.glob("*.whl"))
    budget = TRANSFER_LIMIT - working_tree_bytes() - HEADROOM - wheel_bytes
    if budget < 4 * 2**20:
        raise SystemExit(f"the working tree leaves only {budget / 2**20:.1f} MiB per transfer; make it smaller first")
    for old in PACK.glob("part-*"):
        for f in old.iterdir():
            f.unlink()
        old.rmdir()
    # Rows are cut into chunks that compress to well under the budget (uint8 images compress ~3-4x).
    rows = max(1000, int(budget * 2 // (28 * 28)))
    parts, current, size = [], [], 0
    chunks = [
        (name, start, array[start : start + rows])
        for name, array in arrays.items()
        for start in range(0, len(array), rows)
    ]
    for i, (name, start, array) in enumerate(chunks):
        path = PACK / f"chunk-{i:03d}-{name}-{start}.npz"
        np.savez_compressed(path, array=array)
        if current and size + path.stat().st_size > budget:
            parts.append(current)
            current, size = [], 0
        current.append(path)
        size += path.stat().st_size
    parts.append(current)
    for k, paths in enumerate(parts):
        folder = PACK / f"part-{k}"
        folder.mkdir()
        for p in paths:
            p.rename(folder / p.name)
    job = {
        "model": args.model,
        "dataset": data.name,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "seed": args.seed,
        "init": args.init,
        "description": data.description,
        "sources": data.sources,
        "label_split": data.label_map.split,
        "parts": len(parts),
        "drawn_test": "drawn_x" in arrays,
    }
    (PACK / "job.json").write_text(json.dumps(job, indent=1))
    print(
        f"packed {args.dataset} into {len(parts)} part(s) under {PACK} (tree {working_tree_bytes() / 2**20:.1f} MiB"
        f" + at most {budget / 2**20:.1f} MiB a part). Run there, in consecutive calls (the machine stays warm ~30 s):"
    )
    for k in range(len(parts)):
        last = k == len(parts) - 1
        carry = [f"gpu/part-{k}"] + (["gpu/wheels", "gpu/job.json"] if last else [])
        command = "ls gpu" if not last else "python3 tools/gpu_train.py train --out $OUT"
        print(f"  carry={json.dumps(carry)}  command={command!r}")


def load_pack():
    import numpy as np

    from emnist_core.data.datasets import Dataset
    from emnist_core.data.labels import label_map

    job = json.loads((PACK / "job.json").read_text())
    arrays = {name: [] for name in (*ARRAYS, *DRAWN)}
    found = sorted(PACK.glob("part-*/chunk-*.npz"))
    parts = {p.parent.name for p in found}
    if len(parts) != job["parts"]:
        raise SystemExit(f"found parts {sorted(parts)} of {job['parts']}: send the missing ones first")
    for path in sorted(found, key=lambda p: p.name):
        _, _, name, start = path.stem.split("-", 3)
        arrays[name].append((int(start), np.load(path)["array"]))
    joined = {
        name: np.concatenate([a for _, a in sorted(chunks, key=lambda c: c[0])])
        for name, chunks in arrays.items()
        if chunks
    }
    data = Dataset(
        job["dataset"], label_map(job["label_split"]), *(joined[n] for n in ARRAYS), job["description"], job["sources"]
    )
    drawn = {n.removeprefix("drawn_"): joined[n] for n in DRAWN} if job["drawn_test"] else None
    return job, data, drawn


def install_wheels() -> None:
    """Put the packed wheels on the path (the GPU machine has no network and no Keras); skip where Keras is."""
    from importlib.util import find_spec

    if find_spec("keras") is not None:
        return
    wheels = sorted(str(p) for p in (PACK / "wheels").glob("*.whl"))
    if wheels:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "-q",
                "--no-index",
                "--no-deps",
                "--no-compile",
                "--no-cache-dir",
                "--upgrade",
                "--target",
                SITE,
                *wheels,
            ],
            check=True,
        )
        sys.path.insert(0, SITE)


def train_there(args) -> None:
    os.environ.setdefault("KERAS_BACKEND", "jax")
    install_wheels()
    from emnist_core.training.config import TrainConfig
    from emnist_core.training.train import train_and_save

    job, data, drawn = load_pack()
    config = TrainConfig(
        model=job["model"],
        dataset=job["dataset"],
        epochs=job["epochs"],
        batch_size=job["batch_size"],
        learning_rate=job["learning_rate"],
        seed=job["seed"],
        init=job["init"],
    )
    out = Path(args.out) / f"{job['model']}.keras"
    if drawn is not None:  # the unipen folder is not there: the drawn test set travels in the pack
        drawn = drawn["x"], data.labels_as_classes(drawn["y"]), drawn["sections"]
    result = train_and_save(
        config,
        out,
        data,
        listener=EpochPrinter(time.time()),
        drawn=drawn,
        command_path=f"models/{job['model']}.keras",
        card_extra={"trained_on": TRAINED_ON},
    )
    print(
        json.dumps({"model": str(result.path), **result.test_metrics, "drawn": result.card.drawn_test_metrics}),
        flush=True,
    )


class EpochPrinter:
    def __init__(self, started: float):
        self.started = started

    def on_epoch(self, epoch, epochs, logs):
        print(f"epoch {epoch}/{epochs} " + " ".join(f"{k}={v:.4f}" for k, v in logs.items()), flush=True)

    def on_stage(self, stage):
        from emnist_core.training.config import EVALUATING

        if stage == EVALUATING:
            print(f"trained in {time.time() - self.started:.1f} s", flush=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__
    )
    sub = parser.add_subparsers(dest="step", required=True)
    p = sub.add_parser("pack", help="here: write gpu/ with the arrays, wheels and job")
    p.add_argument("--model", required=True)
    p.add_argument("--dataset", default="pool47+unipen")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--learning-rate", type=float)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--init", help="fine-tune from this model (shipped name or .keras path in the working tree)")
    p.add_argument("--data-dir")
    p.add_argument("--unipen-dir")
    p = sub.add_parser("train", help="there: train from gpu/ under KERAS_BACKEND=jax")
    p.add_argument("--out", required=True, help="folder for NAME.keras, its card and reports")
    args = parser.parse_args(argv)
    pack(args) if args.step == "pack" else train_there(args)


if __name__ == "__main__":
    main()
