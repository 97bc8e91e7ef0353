"""The package's public API, and a ``--help`` that never starts a deep-learning backend."""

import pkgutil
import re
import subprocess
import sys

import pytest

import emnist_core

from conftest import ROOT

HEAVY = ("keras", "tensorflow", "jax")
SUBCOMMANDS = (
    "train",
    "evaluate",
    "predict",
    "calibrate",
    "roundtrip",
    "report",
    "robustness",
    "download",
    "pack",
    "cache",
)


def imported_modules(*args):
    """Run ``python -X importtime *args``; return (its stdout, the names of the modules it imported)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
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
    script = (
        "import sys, emnist_core, emnist_core.cli; emnist_core.cli.build_parser(); "
        "emnist_core.REGISTRY; emnist_core.model_spec('seed-cnn'); emnist_core.label_map; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))"
    )
    out, _ = imported_modules("-c", script)
    assert out.strip() == "[]"


def test_train_help_lists_every_architecture_in_registry_order():
    from emnist_core.models.registry import REGISTRY

    out, _ = imported_modules("-m", "emnist_core", "train", "--help")
    choices = re.search(r"--model \{([^}]*)\}", out)
    assert choices, out
    assert choices.group(1).split(",") == list(REGISTRY)
    assert list(REGISTRY) == ["seed-mlp", "seed-cnn", "mlp-bn", "cnn-bn", "mlp-pen", "cnn-pen", "wide-resnet"]


def test_every_public_name_resolves():
    """Each public name is the very object of that name in its submodule (a function or class by its own name,
    defined in the package, never a module), and ``import *`` gives the same objects."""
    import importlib
    import inspect

    assert emnist_core.__all__ and len(set(emnist_core.__all__)) == len(emnist_core.__all__)
    namespace = {}
    exec("from emnist_core import *", namespace)
    for name in emnist_core.__all__:
        home = importlib.import_module(f"emnist_core.{emnist_core._EXPORTS[name]}")
        value = getattr(emnist_core, name)
        assert value is getattr(home, name) and namespace[name] is value, name
        assert not inspect.ismodule(value), name
        if inspect.isfunction(value) or inspect.isclass(value):  # defined in the package under this very name
            assert value.__name__ == name and value.__module__.startswith("emnist_core."), name
            assert getattr(importlib.import_module(value.__module__), name) is value, name
        assert name in dir(emnist_core)
    with pytest.raises(AttributeError):
        emnist_core.no_such_name  # noqa: B018


def test_public_names_do_not_shadow_submodules():
    # A function named like its module (preprocess.preprocess) would be replaced by the module on import.
    submodules = {m.name for m in pkgutil.iter_modules(emnist_core.__path__)}
    assert not submodules & set(emnist_core.__all__)


def test_every_architecture_has_a_builder():
    from emnist_core.models import build, registry

    for name, spec in registry.REGISTRY.items():
        assert callable(getattr(build, spec.builder)), name
    with pytest.raises(ValueError, match="unknown architecture"):
        build.build_model("no-such-net")


# The wings, lowest first: a module may import its own wing and those below it, never one above.
LAYERS = ("data", "models", "training", "serving", "lab")


def package_imports():
    """{module: [emnist_core modules it imports, at the top or inside a function]} for every module of the package."""
    import ast

    found = {}
    for path in sorted((ROOT / "emnist_core").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        names = []
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("emnist_core"):
                assert node.level == 0, f"{module}: relative import"
                names += [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names += [a.name for a in node.names if a.name.startswith("emnist_core")]
        found[module] = names
    return found


def wing(module: str):
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 2 and parts[1] in LAYERS else len(LAYERS)  # cli, __main__: top


def test_imports_run_down_the_wings_only():
    upward = [
        (module, target)
        for module, targets in package_imports().items()
        if wing(module) < len(LAYERS)
        for target in targets
        if wing(target) > wing(module)
    ]
    assert upward == []


def test_import_graph_has_no_cycles():
    modules = package_imports()

    def target_module(name):  # "emnist_core.data.files.SIDE" -> "emnist_core.data.files"
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name

    graph = {m: {target_module(t) for t in ts} - {m, "emnist_core", ""} for m, ts in modules.items()}
    done, visiting = set(), []

    def visit(m):
        assert m not in visiting, f"import cycle: {' -> '.join(visiting[visiting.index(m) :] + [m])}"
        if m in done:
            return
        visiting.append(m)
        for n in graph.get(m, ()):
            visit(n)
        visiting.pop()
        done.add(m)

    for m in graph:
        visit(m)


# ---------------------------------------------------------------- the UI and the Lab's services


def service_members() -> dict[str, set[str]]:
    """{service name: its public members}: methods and properties of its class, and what its __init__ sets."""
    import ast
    import inspect

    from emnist_core.lab import classroom, explainer, figures, guard, jobs, live, reader, state, testsets

    classes = {
        "models": live.LiveModels,
        "tests": testsets.TestSets,
        "classroom": classroom.Classroom,
        "jobs": jobs.Jobs,
        "reader": reader.Reader,
        "explainer": explainer.Explainer,
        "figures": figures.FigureCache,
        "guard": guard.Guard,
    }
    assert set(classes) == set(state.SERVICES)
    members = {}
    for name, cls in classes.items():
        found = {m for m in vars(cls) if not m.startswith("_")}
        init = ast.parse(inspect.getsource(cls))
        assigned = [node.targets for node in ast.walk(init) if isinstance(node, ast.Assign)]
        targets = [t for ts in assigned for target in ts for t in getattr(target, "elts", [target])]  # a, b = ...
        found |= {
            t.attr
            for t in targets
            if isinstance(t, ast.Attribute) and getattr(t.value, "id", None) == "self" and not t.attr.startswith("_")
        }
        members[name] = found
    return members


def lab_reaches(path) -> list[tuple[int, list[str]]]:
    """Every chain of attributes read off a name ``lab`` in the file: (line, ["lab", "classroom", "count"])."""
    import ast

    tree = ast.parse(path.read_text())
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == "lab":
            chain, at = ["lab"], node
            while isinstance(parents.get(at), ast.Attribute):
                at = parents[at]
                chain.append(at.attr)
            if len(chain) > 1:
                found.append((node.lineno, chain))
    return found


def test_the_ui_calls_each_service_by_its_own_public_members():
    """``app.py`` and ``ui/`` use the Lab as its services (``state.SERVICES``), each by what it offers: never a part
    of one (``lab.classroom._store``), never state that is not a service's (``lab.corrections``, ``lab.live``)."""
    members = service_members()
    wrong = []
    for path in [ROOT / "app.py", *sorted((ROOT / "ui").glob("*.py"))]:
        for line, chain in lab_reaches(path):
            service, *rest = chain[1:]
            if (
                service not in members
                or (rest and rest[0] not in members[service])
                or any(part.startswith("_") for part in rest)
            ):
                wrong.append(f"{path.name}:{line}: {'.'.join(chain)}")
    assert wrong == []
