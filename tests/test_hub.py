"""Pushing the corrections to the Hugging Face Hub (emnist_core.lab.hub), up to the network call: CommitScheduler is
replaced by a fake that records what it was given. The push itself cannot be tested here (no network, no token)."""

from __future__ import annotations

import logging
import runpy
import typing
from types import SimpleNamespace

import pytest
from huggingface_hub.utils import filter_repo_objects

from emnist_core.data.cache import temp_path
from emnist_core.lab import hub
from emnist_core.lab.corrections import CorrectionStore

from conftest import ROOT, l_shapes

BOTH = {hub.REPO_ENV: "a-school/sketch-lab-corrections", hub.TOKEN_ENV: "hf_not_a_real_token"}


class FakeScheduler:
    """Records its arguments instead of creating a repository and pushing."""

    made: typing.ClassVar[list[dict]] = []

    def __init__(self, **kwargs):
        FakeScheduler.made.append(kwargs)


class Unreachable:
    def __init__(self, **kwargs):
        raise OSError("Network is unreachable")


@pytest.fixture(autouse=True)
def _no_schedulers_yet():
    FakeScheduler.made = []


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {hub.REPO_ENV: BOTH[hub.REPO_ENV]},
        {hub.TOKEN_ENV: "hf_x"},
        {**BOTH, hub.REPO_ENV: " "},
        {**BOTH, hub.TOKEN_ENV: ""},
    ],
)
def test_nothing_is_pushed_unless_both_variables_are_set(tmp_path, environ):
    assert hub.HubPush.from_env(tmp_path, environ) is None
    assert hub.push_corrections(tmp_path, environ, FakeScheduler) is None
    assert FakeScheduler.made == []


def test_the_corrections_folder_goes_to_the_dataset_repository(tmp_path):
    scheduler = hub.push_corrections(tmp_path / "corrections", BOTH, FakeScheduler)
    assert isinstance(scheduler, FakeScheduler)
    assert FakeScheduler.made == [
        {
            "repo_id": "a-school/sketch-lab-corrections",
            "repo_type": "dataset",
            "folder_path": tmp_path / "corrections",
            "path_in_repo": hub.PATH_IN_REPO,
            "every": hub.PUSH_EVERY_MINUTES,
            "private": True,
            "ignore_patterns": hub.HIDDEN,
        }
    ]
    assert "hf_not_a_real_token" not in repr(FakeScheduler.made)  # huggingface_hub reads HF_TOKEN itself


def test_what_is_pushed_is_the_corrections_never_a_write_in_progress(tmp_path):
    """The files CommitScheduler would upload, chosen by huggingface_hub's own filter with the patterns given."""
    store = CorrectionStore(tmp_path)
    store.add(l_shapes(1)[0], "L")
    kept = next(tmp_path.glob("*.json"))
    half_written = temp_path(tmp_path / "next.json")
    half_written.write_text("{")
    (tmp_path / "scores").mkdir()
    hidden_in_subfolder = temp_path(tmp_path / "scores" / "scores.json")
    hidden_in_subfolder.write_text("{")
    names = [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()]
    pushed = list(filter_repo_objects(names, ignore_patterns=hub.HIDDEN))
    assert pushed == [kept.name]


@pytest.mark.parametrize("repo", ["not a repo name", "owner/name/extra", "a" * 200])
def test_a_wrong_repository_name_is_said_and_the_app_serves_on(tmp_path, repo, caplog):
    with pytest.raises(ValueError, match=hub.REPO_ENV):
        hub.HubPush.from_env(tmp_path, {**BOTH, hub.REPO_ENV: repo})
    with caplog.at_level(logging.WARNING, logger=hub.__name__):
        assert hub.push_corrections(tmp_path, {**BOTH, hub.REPO_ENV: repo}, FakeScheduler) is None
    assert FakeScheduler.made == [] and "owner/name" in caplog.text


def test_no_network_is_said_and_the_app_serves_on(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger=hub.__name__):
        assert hub.push_corrections(tmp_path, BOTH, Unreachable) is None
    assert "not pushed" in caplog.text and "Network is unreachable" in caplog.text


def test_the_real_scheduler_is_huggingface_hubs(tmp_path, monkeypatch):
    """Without a scheduler class, push_corrections makes huggingface_hub's CommitScheduler, with arguments it takes:
    the corrections folder, to the private dataset repository named, every few minutes, never a hidden file."""
    import inspect

    import huggingface_hub

    takes = inspect.signature(huggingface_hub.CommitScheduler).parameters
    monkeypatch.setattr(huggingface_hub, "CommitScheduler", FakeScheduler)
    scheduler = hub.push_corrections(tmp_path / "corrections", BOTH)
    assert isinstance(scheduler, FakeScheduler)
    assert FakeScheduler.made == [
        {
            "repo_id": "a-school/sketch-lab-corrections",
            "repo_type": "dataset",
            "folder_path": tmp_path / "corrections",
            "path_in_repo": "corrections",
            "every": takes["every"].default,  # CommitScheduler's own default (5 minutes)
            "private": True,
            "ignore_patterns": [".*", "*/.*"],
        }
    ]
    assert set(FakeScheduler.made[0]) <= set(takes)  # a keyword CommitScheduler does not know would fail on a Space
    assert "hf_not_a_real_token" not in repr(FakeScheduler.made)


def test_python_app_py_pushes_the_labs_corrections_folder(tmp_path, monkeypatch):
    """``python app.py`` (as a Space runs it) starts the push on the Lab's own corrections folder, before serving."""
    import huggingface_hub

    import emnist_core
    from emnist_core.lab import state

    class Served(Exception):
        """Raised where app.py would go on to build and serve the page."""

    class FakeLab:
        def __init__(self):
            self.classroom = SimpleNamespace(folder=CorrectionStore(tmp_path / "kept").folder)

    real_push = hub.push_corrections

    def push_then_stop(folder, *args, **kwargs):
        real_push(folder, *args, **kwargs)
        raise Served

    for name, value in BOTH.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(huggingface_hub, "CommitScheduler", FakeScheduler)
    # app.py's way in: emnist_core.Lab. Replaced first: reading it resolves (and keeps) state.Lab, which must still
    # be the real one then, or the fake would be what is put back afterwards, for every later test in this process.
    monkeypatch.setattr(emnist_core, "Lab", FakeLab, raising=False)
    monkeypatch.setattr(state, "Lab", FakeLab)
    monkeypatch.setattr(hub, "push_corrections", push_then_stop)
    with pytest.raises(Served):
        runpy.run_path(str(ROOT / "app.py"), run_name="__main__")
    assert [made["folder_path"] for made in FakeScheduler.made] == [tmp_path / "kept"]
