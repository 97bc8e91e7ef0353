"""Keeping the corrections on the Hugging Face Hub: a Space's disk is emptied at every restart, so when its owner
sets ``EMNIST_CORRECTIONS_REPO`` (a dataset repository, "owner/name") and ``HF_TOKEN`` (a token that may write to
it), the corrections folder is pushed there every few minutes with ``huggingface_hub.CommitScheduler``, the Hub's
own way of keeping what the users of a Space give it.

What is pushed: every file in the corrections folder (one JSON file per correction or challenge drawing, and the
Challenge's class scores in their subfolder), as it is when the push starts; hidden files (writes in progress) never.
A push only adds and updates files: clearing the corrections on the server deletes nothing on the Hub. The
repository is created private when it does not exist. The token is read by ``huggingface_hub`` itself and never
passes through this module.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

REPO_ENV, TOKEN_ENV = "EMNIST_CORRECTIONS_REPO", "HF_TOKEN"
PUSH_EVERY_MINUTES = 5  # CommitScheduler's own default: a Space restarted meanwhile loses at most this much
PATH_IN_REPO = "corrections"
HIDDEN = [".*", "*/.*"]  # atomic writes' temporaries, named ".STEM.tmpPID-TID.json"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HubPush:
    """Where the corrections go: the dataset repository, the folder pushed, and how often (minutes)."""

    repo_id: str
    folder: Path
    every: float = PUSH_EVERY_MINUTES

    @classmethod
    def from_env(cls, folder, environ=None) -> HubPush | None:
        """The push the environment asks for, or None when ``EMNIST_CORRECTIONS_REPO`` or ``HF_TOKEN`` is unset or
        empty. ValueError, saying what to set, for a repository name the Hub would refuse."""
        from huggingface_hub.utils import HFValidationError, validate_repo_id

        environ = os.environ if environ is None else environ
        repo_id = environ.get(REPO_ENV, "").strip()
        if not repo_id or not environ.get(TOKEN_ENV, "").strip():
            return None
        try:
            validate_repo_id(repo_id)
        except HFValidationError as exc:
            raise ValueError(
                f"{REPO_ENV} must name a dataset repository as owner/name, got {repo_id[:100]!r}: {exc}"
            ) from None
        return cls(repo_id, Path(folder))

    def start(self, scheduler_class=None):
        """Create the repository if needed and start pushing in a background thread (and once more at exit);
        returns the scheduler. ``scheduler_class``: ``CommitScheduler`` unless a test passes its own."""
        if scheduler_class is None:
            from huggingface_hub import CommitScheduler as scheduler_class
        return scheduler_class(
            repo_id=self.repo_id,
            repo_type="dataset",
            folder_path=self.folder,
            path_in_repo=PATH_IN_REPO,
            every=self.every,
            private=True,
            ignore_patterns=HIDDEN,
        )


def push_corrections(folder, environ=None, scheduler_class=None):
    """Start pushing ``folder`` (the corrections store's) to the Hub when the environment asks for it; the
    scheduler, or None. Never raises: the push is an extra, and a Space whose repository name is wrong or whose
    network is down still serves, with the reason in its log."""
    try:
        push = HubPush.from_env(folder, environ)
        if push is None:
            return None
        scheduler = push.start(scheduler_class)
    except Exception as exc:
        log.warning("Corrections are not pushed to the Hugging Face Hub: %s", exc)
        return None
    log.info("Corrections in %s are pushed to the dataset %s every %g minutes.", push.folder, push.repo_id, push.every)
    return scheduler
