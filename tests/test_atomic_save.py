"""Killing a process (SIGKILL) while it saves a model leaves the previous model whole."""

import signal
import subprocess
import sys
import textwrap
import time

import numpy as np

from emnist_core.models.store import load_card, load_model

from conftest import ROOT

SAVER = textwrap.dedent("""
    import sys, numpy as np
    sys.path.insert(0, sys.argv[2])
    from emnist_core.models.build import build_model
    from emnist_core.models.card import ModelCard
    from emnist_core.models.store import save_model
    model = build_model("seed-mlp")
    for version in range(1, 10_000):
        model.layers[-1].bias.assign(np.full(model.layers[-1].bias.shape, float(version), np.float32))
        save_model(model, sys.argv[1], ModelCard(extra={"version": version}))
        print(version, flush=True)
""")


def test_sigkill_mid_save_keeps_the_previous_model(tmp_path):
    target = tmp_path / "live.keras"
    proc = subprocess.Popen([sys.executable, "-c", SAVER, str(target), str(ROOT)], stdout=subprocess.PIPE, text=True)
    try:
        # Wait for a few complete saves, then kill at an arbitrary moment, most likely mid-write
        # (a save of this 2.8 MB model takes tens of milliseconds and the loop never pauses).
        for _ in range(3):
            assert proc.stdout.readline().strip(), "the saver died before saving"
        time.sleep(0.037)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    model = load_model(target)
    version = float(model.layers[-1].bias.numpy()[0])
    assert version >= 3 and np.all(model.layers[-1].bias.numpy() == version)
    assert load_card(target).extra["version"] in (
        version,
        version - 1,
    )  # the card is written second: one behind at most
    leftovers = [p.name for p in tmp_path.iterdir() if p.name not in ("live.keras", "live.card.json")]
    assert all(name.startswith(".live.") for name in leftovers)  # only a hidden temporary, never the real name
