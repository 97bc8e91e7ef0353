"""Command line: ``python -m emnist_core {train,evaluate,predict,report,download} --help``."""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
from pathlib import Path

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


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from emnist_core.data.datasets import DataNotFoundError
    from emnist_core.data.download import DownloadError
    from emnist_core.data.files import DataFileError
    from emnist_core.data.preprocess import ImageInputError
    from emnist_core.data.unipen import UnipenNotFoundError
    from emnist_core.models.store import ModelFileError

    try:
        command = {
            "train": cmd_train,
            "evaluate": cmd_evaluate,
            "predict": cmd_predict,
            "report": cmd_report,
            "roundtrip": cmd_roundtrip,
            "download": cmd_download,
            "calibrate": cmd_calibrate,
            "pack": cmd_pack,
            "cache": cmd_cache,
            "robustness": cmd_robustness,
        }[args.command]
        return command(args)
    except (
        DataNotFoundError,
        UnipenNotFoundError,
        DataFileError,
        DownloadError,
        ModelFileError,
        ImageInputError,
        ValueError,
    ) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; nothing was saved", file=sys.stderr)
        return 130


class _ConsoleProgress:
    """Prints a progress bar per epoch (tqdm) and a line of metrics at each epoch's end."""

    def __init__(self):
        self.bar = None

    def on_batch(self, epoch, batch, batches, logs):
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=batches, desc=f"epoch {epoch + 1}", unit="batch", leave=False, file=sys.stderr)
        self.bar.update(1)
        if batch % 20 == 0:
            self.bar.set_postfix(loss=f"{logs.get('loss', 0):.4f}", acc=f"{logs.get('accuracy', 0):.4f}")

    def on_epoch(self, epoch, epochs, logs):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        metrics = "  ".join(f"{k}={v:.4f}" for k, v in logs.items())
        print(f"epoch {epoch}/{epochs}  {metrics}", file=sys.stderr, flush=True)


def cmd_train(args) -> int:
    from emnist_core.training.config import TrainConfig
    from emnist_core.training.train import train_and_save

    config = TrainConfig(
        model=args.model,
        dataset=args.dataset,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        subset=args.subset,
        seed=args.seed,
        init=args.init,
        extra_csv=args.extra_csv,
    )
    out = Path(args.out or Path("models") / f"{args.model}.keras")
    result = train_and_save(
        config,
        out,
        listener=_ConsoleProgress(),
        data_dir=args.data_dir,
        unipen_dir=args.unipen_dir,
        command_path=args.out and str(args.out),
    )
    drawn = result.card.drawn_test_metrics
    print(json.dumps({"model": str(out), **result.test_metrics, **({"drawn": drawn} if drawn else {})}))
    return 0


def _split_from_name(path: str) -> str | None:
    m = re.match(r"emnist-([a-z]+)-", Path(path).name)
    return m.group(1) if m else None


def cmd_evaluate(args) -> int:
    import numpy as np

    from emnist_core.data import datasets as ds
    from emnist_core.data.labels import DEFAULT_LESSON, label_map, to_bymerge
    from emnist_core.models.evaluation import EMNIST, evaluate_arrays
    from emnist_core.models.store import load_model, report_path, resolve_model_path, save_report

    if args.save_report and args.classes != DEFAULT_LESSON:
        raise ValueError("--save-report writes the model's full report, on every class: leave out --classes")
    model_path = resolve_model_path(args.model)
    named, data = {}, None
    if args.images or args.csv:
        if args.images and not args.labels:
            raise ValueError("--images needs --labels (the IDX labels file that goes with it)")
        split = args.split or _split_from_name(args.images or args.csv) or "bymerge"
        x, y = ds.load_files(args.images or args.csv, args.labels, split=split)
        y, source = to_bymerge(y, split), str(args.images or args.csv)
    else:
        data = ds.load_dataset(args.dataset or EMNIST, args.data_dir, args.unipen_dir)
        x, y, split, source = data.x_test, data.labels_as_classes(data.y_test), data.name, f"{data.name} test"
        named = {"dataset": data.name, "part": "test", "source": data.source}
    # Drawn characters are scored per section too: digits, upper-case and lower-case letters.
    sections = data.test_sections if data is not None else None
    model = load_model(model_path)
    report = evaluate_arrays(
        model,
        np.asarray(x),
        y,
        label_map("bymerge"),
        with_details=args.save_report,
        sections=sections,
        lesson=args.classes,
    )
    report.update(model=model_path.name, data=source, split=split, **named)
    if args.save_report:  # without "source": where the data lay on this machine is no part of a report that ships
        save_report(
            {k: v for k, v in report.items() if k != "source"},
            report_path(model_path, "" if args.dataset in (None, EMNIST) else args.dataset),
        )
    keys = (
        "model",
        "data",
        "source",
        "split",
        "lesson",
        "n",
        "accuracy",
        "top3",
        "loss",
        "mean_recall",
        "balanced_sections",
        "sections",
    )
    summary = {k: report[k] for k in keys if k in report}
    print(json.dumps(summary) if args.json else "\n".join(f"{k:12s} {v}" for k, v in summary.items()))
    return 0


def cmd_predict(args) -> int:
    from emnist_core.data.preprocess import ImageInputError, load_image
    from emnist_core.serving.predictor import Predictor

    predictor = Predictor.load([args.model], lesson=args.classes)
    failed = 0
    for path in args.images:
        try:
            _, tops = predictor.predict_drawing(load_image(path), k=max(1, args.top))
            top = [[label, round(p, 6)] for label, p in tops[args.model]]
            line = {"file": path, "top": top}
        except ImageInputError as exc:
            failed += 1
            line = {"file": path, "error": str(exc)}
        if args.json:
            print(json.dumps(line), flush=True)
        elif "error" in line:
            print(f"{path}: error: {line['error']}")
        else:
            print(f"{path}: " + ", ".join(f"{label} {p:.1%}" for label, p in line["top"]))
    return 1 if failed else 0


def cmd_calibrate(args) -> int:
    if args.temperature:
        return cmd_temperature(args)
    if not args.out:
        raise ValueError("calibrate needs --out (the corrected model's .keras path), or --temperature")
    from emnist_core.data import datasets as ds
    from emnist_core.models.calibration import fit_tau, training_log_prior, with_prior_correction
    from emnist_core.models.evaluation import DRAWN, model_reports, predict_probabilities
    from emnist_core.models.store import load_card, load_model, resolve_model_path, save_model
    from emnist_core.training.train import command_line

    source = resolve_model_path(args.model)
    card = load_card(source)
    if card is None or card.dataset is None:
        raise ValueError(
            f"{source}: {'no model card beside it' if card is None else 'its card names no dataset'}; "
            "calibrate needs the card to know the dataset it was trained on"
        )
    data = ds.load_dataset(card.dataset, args.data_dir, args.unipen_dir)
    # The prior to divide out is the one the model learned; the fit is on the data it will serve.
    fit = data if args.fit_on is None else ds.load_dataset(args.fit_on, args.data_dir, args.unipen_dir)
    model = load_model(source)
    y_fit = fit.labels_as_classes(fit.y_val)
    log_prior = training_log_prior(data.labels_as_classes(data.y_train), data.num_classes)
    tau, table = fit_tau(predict_probabilities(model, fit.x_val), y_fit, log_prior)
    corrected = with_prior_correction(model, log_prior, tau)
    out = Path(args.out)
    # Scored on drawn input too when it was trained or fitted for it.
    reports = model_reports(corrected, data, ds.drawn_test(fit if DRAWN in fit.name else data, args.unipen_dir))
    # Beside its source, the corrected model is a card that reuses the source's weights: one copy of them.
    derived = out.parent.resolve() == source.parent.resolve() and source.is_file()
    correction = {"tau": tau, "log_prior": [float(v) for v in log_prior]}
    card = card.prior_corrected(
        out.name.removesuffix(".keras"),
        {
            "method": "logit adjustment by the training class prior",
            "tau": tau,
            "fitted_on": f"{fit.name} validation ({len(y_fit)} images)",
            "validation_table": table,
        },
        corrected.count_params(),
        reports,
        command_line(),
        derived_from={"weights": source.name, "prior_correction": correction} if derived else None,
    )
    save_model(None if derived else corrected, out, card, reports)
    print(
        json.dumps(
            {
                "model": str(out),
                "tau": tau,
                **card.test_metrics,
                **({"drawn": card.drawn_test_metrics} if DRAWN in reports else {}),
            }
        )
    )
    return 0


# Calibrated confidence thresholds whose accuracy the card records: what a "not sure" rule would cost and buy.
SELECTIVE_THRESHOLDS = tuple(round(0.3 + 0.05 * i, 2) for i in range(14))  # 0.3 ... 0.95


def cmd_temperature(args) -> int:
    """``calibrate --temperature``: fit T on a validation split and write it into the model's card (a derived
    model's own card: the T belongs to its corrected output, not to the weights it borrows)."""
    from emnist_core.data import datasets as ds
    from emnist_core.models.evaluation import DRAWN, predict_probabilities
    from emnist_core.models.store import load_card, load_model, resolve_model_path, save_card
    from emnist_core.models.temperature import temperature_section

    path = resolve_model_path(args.model)
    card = load_card(path)
    if card is None:
        raise ValueError(f"{path}: no model card beside it; the temperature is written into the card")
    # The app reads drawings, so a temperature is fitted on drawn characters unless told otherwise.
    fit = ds.load_dataset(args.fit_on or DRAWN, args.data_dir, args.unipen_dir)
    model = load_model(path)
    probs = predict_probabilities(model, fit.x_val)  # what callers get: after any prior correction
    y = fit.labels_as_classes(fit.y_val)
    held_out = predict_probabilities(model, fit.x_test), fit.labels_as_classes(fit.y_test)
    # The command as it reproduces this section anywhere: data folders are this machine's, so left out.
    command = shlex.join(
        ["python", "-m", "emnist_core", "calibrate", "--model", str(args.model), "--temperature", "--fit-on", fit.name]
    )
    section = temperature_section(
        probs,
        y,
        fitted_on=f"{fit.name} validation",
        command=command,
        thresholds=SELECTIVE_THRESHOLDS,
        held_out=held_out,
    )
    save_card(path, card.with_temperature(section))  # beside the prior correction's fit, if any
    before, after = section["before"], section["after"]
    print(
        json.dumps(
            {
                "model": str(path),
                "T": round(section["T"], 4),
                "fitted_on": section["fitted_on"],
                "n": section["n"],
                "nll": [round(before["nll"], 4), round(after["nll"], 4)],
                "ece": [round(before["ece"], 4), round(after["ece"], 4)],
                "held_out": {k: round(v, 4) if isinstance(v, float) else v for k, v in section["held_out"].items()},
            }
        )
    )
    return 0


def cmd_roundtrip(args) -> int:
    from emnist_core.data import datasets as ds
    from emnist_core.models.evaluation import EMNIST
    from emnist_core.models.roundtrip import canvas_roundtrip
    from emnist_core.serving.predictor import Predictor

    data = ds.load_dataset(EMNIST, args.data_dir)
    result = canvas_roundtrip(
        Predictor.load(args.model), data.x_test, data.labels_as_classes(data.y_test), n=args.n, seed=args.seed
    )
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{result['n']} {data.name} test images, redrawn as hard-edged 800x800 canvases (seed {args.seed})")
    print(f"{'model':<12}{'28x28':>9}{'canvas':>9}{'gap (points)':>14}")
    for name, m in result["models"].items():
        print(f"{name:<12}{m['accuracy_28x28']:>9.2%}{m['accuracy_canvas']:>9.2%}{m['gap_points']:>14.2f}")
    stats = result["ink_statistics"]
    print("\nink statistics (mean, std)   EMNIST 28x28 | drawn canvases after preprocessing")
    for key in stats["emnist_28x28"]:
        print(f"  {key:<18} {stats['emnist_28x28'][key]} | {stats['canvas_preprocessed'][key]}")
    return 0


def cmd_robustness(args) -> int:
    from emnist_core.data import datasets as ds
    from emnist_core.models.evaluation import DRAWN
    from emnist_core.models.store import load_model, read_report, report_path, resolve_model_path, save_report
    from emnist_core.serving.robustness import REPORT_KEY, format_table, robustness

    path = resolve_model_path(args.model)
    drawn_report = report_path(path, DRAWN)
    if not args.no_save and read_report(drawn_report) is None:  # said before minutes of work, not after
        raise ValueError(
            f"{path.name} has no drawn report to keep the table in: run evaluate --model {args.model} "
            f"--dataset {DRAWN} --save-report first, or add --no-save"
        )
    data = ds.load_dataset(DRAWN, unipen_dir=args.unipen_dir)
    section = robustness(
        load_model(path),
        data.x_test,
        data.labels_as_classes(data.y_test),
        data.label_map,
        seed=args.seed,
        test_set=f"{DRAWN} test",
    )
    section["command"] = shlex.join(
        ["python", "-m", "emnist_core", "robustness", "--model", str(args.model), "--seed", str(args.seed)]
    )
    report = None if args.no_save else read_report(drawn_report)  # read again: it may have been rewritten since
    if report is not None:
        save_report({**report, REPORT_KEY: section}, drawn_report)
    print(json.dumps({"model": path.name, **section}) if args.json else f"{path.name}\n{format_table(section)}")
    return 0


def cmd_report(args) -> int:
    from emnist_core.lab.figures import write_figures

    for path in write_figures(args.model, args.out_dir, args.data_dir):
        print(path)
    return 0


def cmd_download(args) -> int:
    from emnist_core.data.download import default_data_dir, download

    # One archive serves every split: the first split downloads it, the others read the copy kept in the cache.
    paths = [path for split in args.split for path in download(split, args.part, data_dir=args.data_dir, url=args.url)]
    for path in paths:
        print(path)
    if args.data_dir and paths[0].parent.resolve() != default_data_dir().resolve():
        print(f"the other commands find them with --data-dir {args.data_dir} (or EMNIST_DATA_DIR)", file=sys.stderr)
    return 0


def cmd_pack(args) -> int:
    """Rebuild the demo data pack from the full files (never from the pack itself)."""
    from emnist_core.data import datasets as ds
    from emnist_core.data import pack
    from emnist_core.data.cache import identity_digest, source_files
    from emnist_core.data.unipen import RELEASE_NAME

    x, y, part, emnist_files = ds.pool47_arrays(args.data_dir)
    ux, meta, root = ds.unipen_arrays(args.unipen_dir)
    drawn_files = source_files(ds.unipen_files(root), root)
    sources = {
        "emnist": source_files(emnist_files),
        "unipen": {
            "release": RELEASE_NAME,
            "files": len(drawn_files),
            "bytes": sum(f["size"] for f in drawn_files),
            "sha256": identity_digest(drawn_files),
            "sha256_of": "lines 'path|size|sha256\\n' of every file under data/ and include/, in path order",
            "render_version": ds.UNIPEN_RENDER_VERSION,
        },
    }
    manifest = pack.build(args.out, (x, y, part), (ux, meta), sources)
    print(json.dumps({"pack": args.out, "files": manifest["files"], "contents": manifest["contents"]}, indent=1))
    return 0


def cmd_cache(args) -> int:
    from emnist_core.data import cache

    def size(n: int) -> str:
        return f"{n / 1e6:,.1f} MB"

    items = cache.entries()
    width = max([len("total"), *(len(i.name) for i in items)])
    print(f"cache: {cache.cache_dir()} (EMNIST_CACHE_DIR moves it)")
    for item in items:
        mark = "" if item.cleared else "  [kept by --clear]"
        print(f"  {item.name:<{width}} {size(item.bytes):>10}  {item.what}{mark}")
    print(f"  {'total':<{width}} {size(sum(i.bytes for i in items)):>10}")
    if args.clear:
        freed, kept = cache.clear()
        print(
            f"cleared {size(freed)}"
            + (f"; kept {', '.join(i.name for i in kept)} ({size(sum(i.bytes for i in kept))})" if kept else "")
        )
    return 0
