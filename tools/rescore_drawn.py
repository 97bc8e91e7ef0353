"""Score shipped models again on the drawn test part after it has changed, and keep their cards in step.

    python tools/rescore_drawn.py --note "why the test part changed" [--models mlp-pen-prior cnn-pen-prior]

`evaluate --dataset unipen --save-report` rewrites a model's drawn report, but a card also carries the drawn
headline figures: `drawn_test_metrics`, and for a prior-corrected model `uncalibrated_drawn_test_metrics` (the same
weights without the correction). This rewrites the report and both card sections from one scoring, and keeps
`--note` in the card (`drawn_test_note`), since the card's `data` still says what the weights were trained on.
Run `python -m emnist_core robustness --model NAME` afterwards: it makes the report's robustness table again.
"""

from __future__ import annotations

import argparse
import sys

from emnist_core.cli import main as cli
from emnist_core.data.datasets import load_dataset
from emnist_core.data.labels import label_map
from emnist_core.models.calibration import without_prior_correction
from emnist_core.models.evaluation import DRAWN, DRAWN_CARD_METRICS, evaluate_arrays
from emnist_core.models.store import load_card, load_model, read_report, report_path, resolve_model_path, save_card


def headline(report: dict) -> dict:
    return {k: report[k] for k in DRAWN_CARD_METRICS if k in report}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["mlp-pen-prior", "cnn-pen-prior"])
    parser.add_argument("--note", required=True, help="why the drawn test part changed, kept in each card")
    args = parser.parse_args()
    drawn = load_dataset(DRAWN)
    for name in args.models:
        path = resolve_model_path(name)
        card = load_card(path)
        if card is None:
            raise SystemExit(f"{path.name} has no card to keep in step")
        if cli(["evaluate", "--model", str(path), "--dataset", DRAWN, "--save-report", "--json"]) != 0:
            return 1
        sections = {"drawn_test_metrics": headline(read_report(report_path(path, DRAWN)))}
        model = load_model(path)
        base = without_prior_correction(model)
        if base is not model:  # prior-corrected: its uncorrected figures too, the same weights without it
            report = evaluate_arrays(
                base,
                drawn.x_test,
                drawn.labels_as_classes(drawn.y_test),
                label_map("bymerge"),
                with_details=False,
                sections=drawn.test_sections,
            )
            sections["uncalibrated_drawn_test_metrics"] = headline(report)
        save_card(path, card.updated(**sections, drawn_test_note=args.note))
        print(f"{path.name}: card in step with its drawn report ({', '.join(sections)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
