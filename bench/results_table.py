"""Print README's results table from the shipped cards, reports and round-trip file (no figure typed by hand).

Usage: python bench/results_table.py
The drawn columns are class-balanced where they say so (mean per-class recall, overall and per section, as the app
is used: a class draws every character alike), beside natural top-1 and top-3. They come from each model's
NAME.unipen.report.json (unipen test), written by
    python -m emnist_core evaluate --model NAME --dataset unipen --save-report
and the round-trip columns from assets/roundtrip.json, written by
    python -m emnist_core roundtrip --model NAME ... --n 3000 --json > assets/roundtrip.json
"""

from __future__ import annotations

import json

from emnist_core.data.labels import SECTIONS
from emnist_core.models.store import ALIASES, ASSETS_DIR, SHIPPED, load_card, report_path

NA = " n/a |" * 7
DRAWN_COLUMNS = 6  # top-1, top-3, balanced, balanced digits, upper, lower
SEED_REPORT = (
    "| seed report MLP | official ByMerge test (116,323) after ByMerge train (697,932) | 88% |" + NA + " n/a | n/a |\n"
    "| seed report CNN | same | ~90% |" + NA + " n/a | n/a |"
)


def main() -> None:
    roundtrip_path = ASSETS_DIR / "roundtrip.json"
    roundtrip = json.loads(roundtrip_path.read_text())["models"] if roundtrip_path.exists() else {}
    live = {name: alias for alias, name in ALIASES.items()}
    print(
        "| model | EMNIST data (test) | EMNIST accuracy | mean per-class recall | drawn top-1 | drawn top-3 | "
        "drawn class-balanced | balanced digits | balanced upper | balanced lower | "
        "canvas round trip: 28x28 -> drawn | parameters |"
    )
    print("|" + " --- |" * 12)
    print(SEED_REPORT)
    for name in SHIPPED:
        card = load_card(ASSETS_DIR / f"{name}.keras")
        m = card.test_metrics
        rt = roundtrip.get(name)
        trip = (
            f"{rt['accuracy_28x28']:.1%} -> {rt['accuracy_canvas']:.1%} ({-rt['gap_points']:+.1f} points)"
            if rt
            else "n/a"
        )
        label = f"**{name}** (`{live[name]}`)" if name in live else name
        drawn_path = report_path(ASSETS_DIR / f"{name}.keras", "unipen")
        drawn = drawn_columns(json.loads(drawn_path.read_text())) if drawn_path.exists() else ["n/a"] * DRAWN_COLUMNS
        drawn = " | ".join(drawn)
        print(
            f"| {label} | pool47 test ({m['n']:,}) | {m['accuracy']:.2%} | {m['mean_recall']:.2%} | {drawn} | {trip} | "
            f"{card.parameters:,} |"
        )


def drawn_columns(report: dict) -> list[str]:
    """Natural top-1 and top-3, then the class-balanced figures (n/a in a report written before they existed)."""
    balanced = report.get("balanced_sections") or {}
    return [
        f"{report['accuracy']:.1%}",
        f"{report['top3']:.1%}",
        f"{report['mean_recall']:.1%}",
        *(f"{balanced[k]:.1%}" if k in balanced else "n/a" for k in SECTIONS),
    ]


if __name__ == "__main__":
    main()
