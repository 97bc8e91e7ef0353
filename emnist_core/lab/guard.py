"""What may change the class's server, decided in one place.

Every service of the Lab that changes something for the whole class (a job, the live pair, the corrections, the
class scores) asks ``Guard.check`` first, with the action it is about to take; the answer comes from the owner's
switches (``Switches``, read once from the environment) and nowhere else, so a new caller of ``put_live`` or of a
reset cannot skip it. ``Refused`` carries the message to show, which says what to do.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from emnist_core.lab.challenge import RESET_OFF
from emnist_core.lab.corrections import ALLOW_CORRECTIONS, COLLECTION_OFF, DISABLE_TRAINING

SWITCH_ON = ("1", "true", "yes")
# The actions that change the server for everyone on it.
TRAIN, FINE_TUNE, CANCEL, PUT_LIVE, RESTORE = "train", "fine-tune", "cancel", "put live", "restore"
CLEAR_CORRECTIONS, RESET_SCORES, COLLECT = "clear the corrections", "reset the class scores", "collect"
ACTIONS = (TRAIN, FINE_TUNE, CANCEL, PUT_LIVE, RESTORE, CLEAR_CORRECTIONS, RESET_SCORES, COLLECT)
TRAINING_OFF = f"Retraining is turned off on this server (`{DISABLE_TRAINING}=1`)."
# What each action needs switched on, and what a refusal says when it is off.
NEEDS = {action: ("training", TRAINING_OFF) for action in ACTIONS}
NEEDS[RESET_SCORES] = ("training", RESET_OFF)
NEEDS[COLLECT] = ("corrections", COLLECTION_OFF)


class Refused(ValueError):
    """An action that changes the server was refused; the message says why and what to do."""


@dataclass(frozen=True)
class Switches:
    """What the server's owner turned off, read once when the Lab is made (``Switches.from_env``)."""

    training: bool = True  # retraining, fine-tuning, put live, restore, clearing corrections, resetting scores
    corrections: bool = True  # collecting corrections (off with training unless allowed on its own)

    @classmethod
    def from_env(cls, environ=None) -> Switches:
        """``EMNIST_DISABLE_TRAINING=1`` turns training off, and corrections with it unless
        ``EMNIST_ALLOW_CORRECTIONS=1``."""
        environ = os.environ if environ is None else environ
        on = lambda name: environ.get(name, "").strip().lower() in SWITCH_ON
        training = not on(DISABLE_TRAINING)
        return cls(training=training, corrections=training or on(ALLOW_CORRECTIONS))


class Guard:
    """The one place that decides whether an action may change the server (see the module doc)."""

    def __init__(self, switches: Switches):
        self.switches = switches

    def allows(self, action: str) -> bool:
        """Whether the switches let ``action`` happen at all on this server (a page shows its control then)."""
        switch, _ = NEEDS[action]
        return bool(getattr(self.switches, switch))

    def check(self, action: str) -> None:
        """Refused, with what to do, when ``action`` may not change the server; None when it may."""
        if action not in NEEDS:
            raise ValueError(f"unknown action {action!r}; the actions are {', '.join(ACTIONS)}")
        if not self.allows(action):
            raise Refused(NEEDS[action][1])
