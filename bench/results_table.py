"""Print README's results table from the shipped cards, reports and round-trip file (no figure typed by hand).

Usage: python bench/results_table.py
The round-trip columns come from assets/roundtrip.json, written by
    python -m emnist_core roundtrip --model NAME ... --n 3000 --json > assets/roundtrip.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from emnist_core.predictor import ALIASES, ASSETS_DIR, SHIPPED  # noqa: E402

SEED_REPORT = (
    "| seed report MLP | official ByMerge test (116,323), trained on ByMerge train (697,932) | 88% | n/a | n/a | n/a |\n"
    "| seed report CNN | same | ~90% | n/a | n/a | n/a |"
)


def main() -> None:
    roundtrip_path = ASSETS_DIR / "roundtrip.json"
    roundtrip = json.loads(roundtrip_path.read_text())["models"] if roundtrip_path.exists() else {}
    live = {name: alias for alias, name in ALIASES.items()}
    print("| model | data (test) | accuracy | mean per-class recall | canvas round trip: 28x28 -> drawn | parameters |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(SEED_REPORT)
    for name in SHIPPED:
        card = json.loads((ASSETS_DIR / f"{name}.card.json").read_text())
        m = card["test_metrics"]
        rt = roundtrip.get(name)
        trip = f"{rt['accuracy_28x28']:.1%} -> {rt['accuracy_canvas']:.1%} ({-rt['gap_points']:+.1f} points)" if rt else "n/a"
        label = f"**{name}** (`{live[name]}`)" if name in live else name
        print(f"| {label} | pool47 test ({m['n']:,}) | {m['accuracy']:.2%} | {m['mean_recall']:.2%} | {trip} | "
              f"{card['architecture']['parameters']:,} |")


if __name__ == "__main__":
    main()
