"""The lab a server runs, as the few services it composes; everything a server holds between requests is here.

``app.py`` draws the page and turns these services into what each component shows, and calls each service by its own
methods (``tests/test_public_api.py`` checks that ``ui/`` never reaches into a service's parts):

- ``models`` (``live.LiveModels``): the live pair and its predictor as one value, put live and restored;
- ``tests`` (``testsets.TestSets``): the test sets (EMNIST test, drawn characters, the class's drawings), loaded one
  way, and a live model scored on any of them;
- ``classroom`` (``classroom.Classroom``): the corrections, the Challenge's drawings and the class scores;
- ``jobs`` (``jobs.Jobs``): the one job slot, training or fine-tuning in a process of its own;
- ``reader`` (``reader.Reader``): each drawing's answer and the Inside tab's pictures, in a process of its own;
- ``explainer`` (``explainer.Explainer``): why each model reads a drawing, in a process of its own below the answers;
- ``figures`` (``figures.FigureCache``): the page's figures, drawn once per content;
- ``guard`` (``guard.Guard``): the one place that decides what may change the server for the whole class.

Nothing happens on import: ``Lab()`` loads the shipped models and starts reading the EMNIST test images, and only
when it is called.
"""

from __future__ import annotations

from emnist_core.lab.classroom import Classroom
from emnist_core.lab.corrections import CorrectionStore
from emnist_core.lab.explainer import Explainer
from emnist_core.lab.figures import FigureCache
from emnist_core.lab.guard import Guard, Switches, TeacherKey
from emnist_core.lab.jobs import Jobs
from emnist_core.lab.live import LiveModels
from emnist_core.lab.reader import Reader
from emnist_core.lab.testsets import TestSets, load_drawn, load_emnist
from emnist_core.models import store

# What a caller may use, each by its own methods.
SERVICES = ("models", "tests", "classroom", "jobs", "reader", "explainer", "figures", "guard")


class Lab:
    """All server state (see the module doc). ``data_loader``, ``assets_dir`` and ``drawn_loader`` are where the
    data and the shipped models come from, and ``corrections`` where the class's drawings are kept; ``switches`` and
    ``teacher_key`` what the owner turned off and the teacher's key (else read from the environment); tests pass
    their own. ``own_processes=False`` runs jobs, answers and explanations in this process instead of processes of
    their own."""

    def __init__(
        self,
        data_loader=load_emnist,
        assets_dir=store.ASSETS_DIR,
        drawn_loader=load_drawn,
        corrections: CorrectionStore | None = None,
        switches: Switches | None = None,
        teacher_key: TeacherKey | None = None,
        own_processes: bool = True,
    ):
        self.switches = switches or Switches.from_env()
        self.guard = Guard(self.switches, teacher_key or TeacherKey.from_env())
        self.models = LiveModels(self.guard, assets_dir)
        self.classroom = Classroom(self.guard, corrections)
        # The class's drawings as the classroom of this moment has them (a test may give the lab another classroom).
        self.tests = TestSets(
            data_loader, drawn_loader, lambda: self.classroom.drawing_ids(), lambda: self.classroom.drawings()
        )
        self.jobs = Jobs(
            self.guard, self.models, self.tests, lambda: self.classroom.corrections(), in_process=own_processes
        )
        self.reader = Reader(in_process=not own_processes)
        self.explainer = Explainer(in_process=not own_processes)
        self.figures = FigureCache()
