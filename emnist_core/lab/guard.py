"""What may change the class's server, and who may change it, decided in one place.

Every service of the Lab that changes something for the whole class (a job, the live pair, the corrections, the
class scores) asks ``Guard.check`` first, with the action it is about to take and who asks; the answer comes from
the owner's switches (``Switches``, read once from the environment) and from the teacher's key, and nowhere else, so
a new caller of ``put_live`` or of a reset cannot skip it. ``Refused`` carries the message to show, which says what
to do.

**The teacher's key.** On a public Space every visitor is anonymous. When the owner sets ``EMNIST_TEACHER_KEY`` (a
Space secret), the actions in ``TEACHER_ONLY`` need the teacher: ``Guard.sign_in`` takes the key (or a pass it gave
before) and returns a ``Teacher`` pass, which a page keeps in its browser and sends back instead of the key. The key
itself is never kept: the server holds a slow one-way hash of it (PBKDF2), which also signs the passes, so a pass
outlives a restart and a new key voids every pass. Wrong keys are counted per asker and refused for a while after
``WRONG_KEYS_ALLOWED``. Without a key (a laptop) everything stays open, as it always was.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import threading
import time
from collections import deque
from dataclasses import dataclass

from emnist_core.lab.challenge import RESET_OFF
from emnist_core.lab.corrections import ALLOW_CORRECTIONS, COLLECTION_OFF, DISABLE_TRAINING

SWITCH_ON = ("1", "true", "yes")
# The actions that change the server for everyone on it.
TRAIN, FINE_TUNE, CANCEL, PUT_LIVE, RESTORE = "train", "fine-tune", "cancel", "put live", "restore"
CLEAR_CORRECTIONS, RESET_SCORES, COLLECT = "clear the corrections", "reset the class scores", "collect"
ACTIONS = (TRAIN, FINE_TUNE, CANCEL, PUT_LIVE, RESTORE, CLEAR_CORRECTIONS, RESET_SCORES, COLLECT)
TEACHER_ONLY = (TRAIN, FINE_TUNE, CANCEL, PUT_LIVE, RESTORE, CLEAR_CORRECTIONS, RESET_SCORES)  # pupils still teach
TEACHER_KEY = "EMNIST_TEACHER_KEY"
SHORTEST_KEY = 8
KEY_HASH_ROUNDS = 200_000  # about 0.1 s a key: a guess costs the guesser, a pass costs nothing to check
KEY_HASH_SALT = b"emnist-sketch-lab teacher key"
PASS_DAYS = 30  # how long a browser keeps its teacher pass
PASS_SHAPE = re.compile(r"\d{9,12}\.[0-9a-f]{64}")  # expiry.signature
WRONG_KEYS_ALLOWED, WRONG_KEYS_WINDOW = 5, 60.0  # wrong keys an asker may try in so many seconds
TEACHER_NEEDED = (
    "Only the teacher can {action} on this server. Teacher: enter the teacher key under **Teacher** at the foot of "
    "the page (a program passes it as `teacher_key`)."
)
WRONG_KEY = "That is not the teacher key of this server. Check it with whoever set up the Space."
TOO_MANY_KEYS = (
    f"Too many wrong teacher keys from here: wait a minute, then try again ({WRONG_KEYS_ALLOWED} tries a minute)."
)
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


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Teacher:
    """Proof that the teacher asks: a pass ``Guard.sign_in`` gave, good until it expires. ``token`` is what a browser
    keeps in place of the key (never the key itself)."""

    token: str


class TeacherKey:
    """The teacher's key as the server holds it: a one-way hash, which also signs the passes (see the module doc)."""

    def __init__(self, key: str):
        if len(key) < SHORTEST_KEY:
            log.warning("%s is shorter than %d characters: easy to guess", TEACHER_KEY, SHORTEST_KEY)
        self._secret = self._hash(key)

    @classmethod
    def from_env(cls, environ=None) -> TeacherKey | None:
        key = (os.environ if environ is None else environ).get(TEACHER_KEY, "").strip()
        return cls(key) if key else None

    @staticmethod
    def _hash(key: str) -> bytes:
        return hashlib.pbkdf2_hmac("sha256", key.encode(), KEY_HASH_SALT, KEY_HASH_ROUNDS)

    def _sign(self, expires: int) -> str:
        return hmac.new(self._secret, f"teacher:{expires}".encode(), hashlib.sha256).hexdigest()

    def is_key(self, given: str) -> bool:
        return hmac.compare_digest(self._hash(given), self._secret)

    def new_pass(self, now: float) -> Teacher:
        expires = int(now + PASS_DAYS * 86_400)
        return Teacher(f"{expires}.{self._sign(expires)}")

    def is_pass(self, token, now: float) -> bool:
        expires, _, signature = str(token).partition(".")
        if not expires.isdigit() or int(expires) < now:
            return False
        return hmac.compare_digest(self._sign(int(expires)), signature)


class Guard:
    """The one place that decides whether an action may change the server, and who may ask (see the module doc)."""

    def __init__(self, switches: Switches, key: TeacherKey | None = None):
        self.switches = switches
        self._key = key
        self._wrong: dict[str, deque] = {}  # asker -> times of its recent wrong keys
        self._lock = threading.Lock()

    @property
    def locked(self) -> bool:
        """Whether a teacher key is set: the actions in ``TEACHER_ONLY`` need the teacher."""
        return self._key is not None

    def sign_in(self, given, asker: str = "") -> Teacher | None:
        """The key (or a pass it gave, ``Teacher.token``) -> the teacher's pass; None when nothing was given or no
        key is set (everything is open then). Refused for a wrong key, and for any key from an ``asker`` (a page's
        session, a program's address) that sent too many wrong ones lately."""
        if self._key is None or not isinstance(given, str) or not given.strip():
            return None
        given, now = given.strip(), time.time()
        if PASS_SHAPE.fullmatch(given):  # a pass kept by a browser: good, or expired (no key was guessed)
            return Teacher(given) if self._key.is_pass(given, now) else None
        with self._lock:
            recent = self._wrong.setdefault(asker, deque())
            while recent and recent[0] < now - WRONG_KEYS_WINDOW:
                recent.popleft()
            if len(recent) >= WRONG_KEYS_ALLOWED:
                raise Refused(TOO_MANY_KEYS)
        if self._key.is_key(given):
            return self._key.new_pass(now)
        with self._lock:
            self._wrong.setdefault(asker, deque()).append(now)
        log.info("a wrong teacher key was sent")  # never the key itself
        raise Refused(WRONG_KEY)

    def is_teacher(self, teacher: Teacher | None) -> bool:
        """Whether ``teacher`` may do what only the teacher may: always, where no key is set."""
        if self._key is None:
            return True
        return isinstance(teacher, Teacher) and self._key.is_pass(teacher.token, time.time())

    def allows(self, action: str) -> bool:
        """Whether the switches let ``action`` happen at all on this server (a page shows its control then)."""
        switch, _ = NEEDS[action]
        return bool(getattr(self.switches, switch))

    def shows(self, action: str, teacher: Teacher | None) -> bool:
        """Whether a page of ``teacher`` (None: a pupil's) offers the control for ``action``."""
        return self.allows(action) and (action not in TEACHER_ONLY or self.is_teacher(teacher))

    def check(self, action: str, teacher: Teacher | None = None) -> None:
        """Refused, with what to do, when ``action`` may not change the server or ``teacher`` (a pass from
        ``sign_in``, None for anyone) may not take it; None when it may."""
        if action not in NEEDS:
            raise ValueError(f"unknown action {action!r}; the actions are {', '.join(ACTIONS)}")
        if not self.allows(action):
            raise Refused(NEEDS[action][1])
        if action in TEACHER_ONLY and not self.is_teacher(teacher):
            raise Refused(TEACHER_NEEDED.format(action=action))
