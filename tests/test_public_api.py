"""The package's public API, and a ``--help`` that never starts a deep-learning backend."""

import pkgutil
import re
import subprocess
import sys

import pytest

from conftest import ROOT

import emnist_core

HEAVY = ("keras", "tensorflow", "jax")
SUBCOMMANDS = ("train", "evaluate", "predict", "calibrate", "roundtrip", "report", "download")


def imported_modules(*args):
    """Run ``python -X importtime *args``; return (its stdout, the names of the modules it imported)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    modules = [line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")]
    assert "emnist_core" in modules  # the importtime lines were read
    return proc.stdout, modules


def heavy(modules):
    return sorted({m for m in modules if m.split(".")[0] in HEAVY})


@pytest.mark.parametrize("command", [(), *((c,) for c in SUBCOMMANDS)], ids=lambda c: " ".join(c) or "top")
def test_help_imports_no_deep_learning_backend(command):
    out, modules = imported_modules("-m", "emnist_core", *command, "--help")
    assert "usage: python -m emnist_core" in out
    assert heavy(modules) == []


def test_package_and_parser_import_light():
    script = ("import sys, emnist_core, emnist_core.cli; emnist_core.cli.build_parser(); "
              "emnist_core.REGISTRY; emnist_core.model_spec('seed-cnn'); emnist_core.label_map; "
              f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))")
    out, _ = imported_modules("-c", script)
    assert out.strip() == "[]"


def test_train_help_lists_every_architecture_in_registry_order():
    from emnist_core.registry import REGISTRY

    out, _ = imported_modules("-m", "emnist_core", "train", "--help")
    choices = re.search(r"--model \{([^}]*)\}", out)
    assert choices, out
    assert choices.group(1).split(",") == list(REGISTRY)
    assert list(REGISTRY) == ["seed-mlp", "seed-cnn", "mlp-bn", "cnn-bn", "mlp-pen", "cnn-pen", "wide-resnet"]


def test_every_public_name_resolves():
    assert emnist_core.__all__ and len(set(emnist_core.__all__)) == len(emnist_core.__all__)
    for name in emnist_core.__all__:
        value = getattr(emnist_core, name)
        assert value is not None, name
        assert name in dir(emnist_core)
    namespace = {}
    exec("from emnist_core import *", namespace)
    assert set(emnist_core.__all__) <= set(namespace)
    with pytest.raises(AttributeError):
        emnist_core.no_such_name  # noqa: B018


def test_public_names_do_not_shadow_submodules():
    # A function named like its module (preprocess.preprocess) would be replaced by the module on import.
    submodules = {m.name for m in pkgutil.iter_modules(emnist_core.__path__)}
    assert not submodules & set(emnist_core.__all__)


def test_models_keeps_the_registry_and_every_builder():
    from emnist_core import augment, models, registry

    assert models.REGISTRY is registry.REGISTRY and models.model_spec is registry.model_spec
    assert augment.HARD_INK_RATE == registry.HARD_INK_RATE
    for name, spec in registry.REGISTRY.items():
        assert callable(getattr(models, spec.builder)), name
    with pytest.raises(ValueError, match="unknown architecture"):
        models.build_model("no-such-net")
