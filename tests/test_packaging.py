"""The package installs as declared: the wheel that ``pyproject.toml`` builds holds every module and every data file
the code reads, and its requirements name each package the code imports itself."""

import ast
import shutil
import subprocess
import sys
import zipfile

import pytest

from conftest import ROOT

PACKAGES = ("emnist_core", "ui")


def tracked(*paths) -> list[str]:
    out = subprocess.run(["git", "ls-files", *paths], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return out.split()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    """The wheel built from a copy of the committed sources (setuptools writes build/ beside what it builds)."""
    if not shutil.which("git") or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the files to package are the tracked ones")
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("wheel")
    for name in tracked(*PACKAGES, "app.py", "pyproject.toml", "README.md", "requirements.in"):
        if not (ROOT / name).exists():  # removed in the working tree, not yet committed
            continue
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (built,) = out.glob("*.whl")
    return zipfile.ZipFile(built)


def test_the_wheel_holds_every_module_and_data_file(wheel):
    inside = set(wheel.namelist())
    missing = [name for name in tracked(*PACKAGES) if (ROOT / name).exists() and name not in inside]
    assert missing == []
    data = [name for name in tracked("emnist_core") if not name.endswith(".py")]
    assert any("mappings/" in name for name in data) and "emnist_core/official-sha256-size.txt" in data


def imported_top_level(paths) -> set[str]:
    names = set()
    for path in paths:
        for node in ast.walk(ast.parse((ROOT / path).read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
    return names


# The import name of each distribution that requirements.in names, where the two differ.
IMPORT_NAMES = {
    "tensorflow-cpu": "tensorflow",
    "ai-edge-litert": "ai_edge_litert",
    "pillow": "PIL",
    "scikit-learn": "sklearn",
    "huggingface-hub": "huggingface_hub",
}


def test_the_wheel_requires_every_package_the_code_imports(wheel):
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    (metadata,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    required = {
        canonicalize_name(Requirement(line.split(":", 1)[1]).name)
        for line in wheel.read(metadata).decode().splitlines()
        if line.startswith("Requires-Dist:")
    }
    names = {IMPORT_NAMES.get(name, name) for name in required}
    code = [p for p in tracked(*PACKAGES, "app.py") if p.endswith(".py") and (ROOT / p).exists()]
    ours = {*PACKAGES, "app"}
    third_party = {n for n in imported_top_level(code) - ours if n not in sys.stdlib_module_names}
    assert sorted(third_party - names) == []
