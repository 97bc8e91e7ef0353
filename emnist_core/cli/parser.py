"""The command line's parser: every command and its options, with only light imports, so that ``--help`` never
starts Keras (the registry is plain data; see ``models/registry.py``)."""

from __future__ import annotations

import argparse

EXAMPLES = """examples:
  python -m emnist_core train --model seed-cnn --out assets/seed-cnn.keras
  python -m emnist_core evaluate --model cnn --images emnist-bymerge-test-images-idx3-ubyte.gz \\
      --labels emnist-bymerge-test-labels-idx1-ubyte.gz --json
  python -m emnist_core predict --model cnn --json my_letter.png
  python -m emnist_core report --model seed-cnn
  python -m emnist_core calibrate --model cnn-pen-prior --temperature
  python -m emnist_core robustness --model cnn-pen-prior
  python -m emnist_core download --split bymerge byclass --part test
  python -m emnist_core pack --out assets/data
  python -m emnist_core cache --clear
"""


def _add_data_dir(p):
    p.add_argument(
        "--data-dir",
        help="folder with EMNIST files (default: $EMNIST_DATA_DIR, ./data, "
        "../shared/emnist, ~/.cache/emnist_sketch_lab/data)",
    )


def _add_unipen_dir(p):
    p.add_argument(
        "--unipen-dir",
        help="UNIPEN train_r01_v07 folder for the unipen datasets (default: "
        "$UNIPEN_DATA_DIR, ../shared/unipen/train_r01_v07)",
    )


def _add_classes(p, what):
    from emnist_core.data.labels import DEFAULT_LESSON, LESSONS

    p.add_argument(
        "--classes",
        default=DEFAULT_LESSON,
        choices=list(LESSONS),
        help=f"the lesson: {what} (default: {DEFAULT_LESSON})",
    )


def build_parser() -> argparse.ArgumentParser:
    # Only light modules here: --help must not start Keras (the registry is plain data; see registry.py).
    parser = argparse.ArgumentParser(
        prog="python -m emnist_core",
        description="EMNIST Sketch Lab: train, score and use handwriting models.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _add_model_commands(sub)
    _add_report_commands(sub)
    _add_data_commands(sub)
    return parser


def _add_model_commands(sub) -> None:
    """``train``, ``evaluate``, ``predict`` and ``calibrate``: making models and using them."""
    from emnist_core.data.datasets import DATASETS
    from emnist_core.models.evaluation import EMNIST
    from emnist_core.models.registry import REGISTRY

    p = sub.add_parser("train", help="train an architecture and save it with a model card and report")
    p.add_argument("--model", required=True, choices=list(REGISTRY), help="architecture to train")
    p.add_argument("--dataset", default=EMNIST, choices=DATASETS, help=f"dataset (default: {EMNIST})")
    p.add_argument("--epochs", type=int, help="epochs (default: the architecture's)")
    p.add_argument("--batch-size", type=int, help="batch size (default: the architecture's)")
    p.add_argument("--learning-rate", type=float, help="peak learning rate (default: the architecture's)")
    p.add_argument("--subset", type=int, help="train on a stratified sample of this many images")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument(
        "--init", help="fine-tune: start from this model's weights (shipped name or .keras path, same architecture)"
    )
    p.add_argument(
        "--extra-csv",
        help="also train on every image of this EMNIST CSV with ByMerge labels, such as the "
        "app's corrections download (with a dataset of the 47 ByMerge classes)",
    )
    p.add_argument("--out", help="output .keras path (default: ./models/MODEL.keras)")
    _add_data_dir(p)
    _add_unipen_dir(p)

    p = sub.add_parser("evaluate", help="score a model on a dataset's test part or on your own files")
    p.add_argument("--model", required=True, help="shipped name (mlp, cnn, seed-mlp, seed-cnn) or .keras path")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--dataset", choices=DATASETS, help="use this dataset's test part (default: pool47)")
    src.add_argument("--images", help="IDX images file (.gz or not); needs --labels")
    src.add_argument("--csv", help="Kaggle-style CSV: label then 784 pixels per row, no header")
    p.add_argument("--labels", help="IDX labels file that goes with --images")
    p.add_argument("--split", help="EMNIST split the files use (default: read from the file name, else bymerge)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _add_classes(p, "score only the images of these classes, with the predictions restricted to them")
    p.add_argument(
        "--save-report",
        action="store_true",
        help="write the full report beside the model (MODEL.report.json; MODEL.DATASET.report.json "
        "for another dataset than pool47)",
    )
    _add_data_dir(p)
    _add_unipen_dir(p)

    p = sub.add_parser("predict", help="predict the character in image files")
    p.add_argument("images", nargs="+", help="image files (PNG, JPEG ...), one character each")
    p.add_argument("--model", default="cnn", help="shipped name or .keras path (default: cnn)")
    p.add_argument("--top", type=int, default=5, help="how many guesses to show (default: 5)")
    p.add_argument("--json", action="store_true", help='one JSON object per line: {"file", "top"}')
    _add_classes(p, "the guesses are restricted to these classes")

    p = sub.add_parser(
        "calibrate",
        help="fit a class-prior correction on validation data and save the corrected "
        "model; or, with --temperature, fit how sure the model should say it is, into its card",
    )
    p.add_argument("--model", required=True, help="trained model (.keras path or shipped name) with its card")
    p.add_argument(
        "--out",
        help="output .keras path for the corrected model (in the source's folder: a card that "
        "reuses the source's weights); needed unless --temperature",
    )
    p.add_argument(
        "--temperature",
        action="store_true",
        help="fit temperature scaling instead (T, NLL, ECE and reliability bins before and after) and "
        "write it into the model's own card as calibration.temperature; the model file is not touched",
    )
    p.add_argument(
        "--fit-on",
        choices=DATASETS,
        help="fit on this dataset's validation part (default for tau: the "
        "model's training dataset; for --temperature: unipen, the drawn characters the app reads)",
    )
    _add_data_dir(p)
    _add_unipen_dir(p)


def _add_report_commands(sub) -> None:
    """``roundtrip``, ``report`` and ``robustness``: what a model's figures are made from."""
    p = sub.add_parser("roundtrip", help="redraw test images as browser-style canvases and score the full predict path")
    p.add_argument("--model", nargs="+", default=["mlp", "cnn"], help="models to score (default: mlp cnn)")
    p.add_argument("--n", type=int, default=2000, help="test images to redraw (default: 2000)")
    p.add_argument("--seed", type=int, default=0, help="random seed for the choice and the drawing (default: 0)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _add_data_dir(p)

    p = sub.add_parser("report", help="draw the report's figures (curves, confusion matrix, sample grids) as PNG")
    p.add_argument("--model", required=True, help="shipped name or .keras path")
    p.add_argument("--out-dir", help="where to write the PNGs (default: beside the model, in figures/NAME)")
    _add_data_dir(p)

    p = sub.add_parser(
        "robustness",
        help="score a model on the drawn test set under each what-if variant (moved, "
        "turned, thinner, thicker, smaller, speckled ...) and keep the table in its drawn report",
    )
    p.add_argument("--model", required=True, help="shipped name or .keras path")
    p.add_argument("--seed", type=int, default=0, help="random seed for the canvas places and the noise (default: 0)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--no-save", action="store_true", help="print the table only; leave the drawn report as it is")
    _add_unipen_dir(p)


def _add_data_commands(sub) -> None:
    """``download``, ``pack`` and ``cache``: the official files, the data the project ships, and the data it keeps."""
    from emnist_core.data.labels import SPLITS

    p = sub.add_parser(
        "download", help="fetch NIST's official EMNIST archive and keep the splits named, checksum-verified"
    )
    p.add_argument(
        "--split",
        required=True,
        nargs="+",
        choices=SPLITS,
        help="which splits' files to keep "
        "(pool47 is made of bymerge and byclass test: --split bymerge byclass --part test)",
    )
    p.add_argument("--part", default="both", choices=("train", "test", "both"), help="default: both")
    p.add_argument(
        "--data-dir",
        help="where to put the files (default: ~/.cache/emnist_sketch_lab/data, which the other commands search)",
    )
    p.add_argument(
        "--url",
        help="archive address (default: $EMNIST_DOWNLOAD_URL, else NIST's gzip.zip); "
        "file:///path/gzip.zip uses a copy already on disk",
    )
    p = sub.add_parser("pack", help="rebuild the demo data pack (assets/data) from the full EMNIST and UNIPEN files")
    p.add_argument(
        "--out",
        default="assets/data",
        help="folder for pool47.npz, unipen.npz and manifest.json "
        "(default: assets/data, where the project looks for them)",
    )
    _add_data_dir(p)
    _add_unipen_dir(p)

    p = sub.add_parser("cache", help="list what the cache holds and its size; --clear empties it")
    p.add_argument(
        "--clear",
        action="store_true",
        help="delete decoded arrays, exported models and the downloaded "
        "archive (made again or fetched again when needed); downloaded data files, retrained models and "
        "corrections are kept",
    )
