"""The commands about what a model's figures are made of: ``roundtrip``, ``report`` and ``robustness``."""

from __future__ import annotations

import json
import shlex


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
