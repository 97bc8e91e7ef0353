"""The commands that make and use models: ``train``, ``evaluate``, ``predict`` and ``calibrate``."""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path


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
    from emnist_core.data.drawn import drawn_test
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
    reports = model_reports(corrected, data, drawn_test(fit if DRAWN in fit.name else data, args.unipen_dir))
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
