"""UNIPEN loader: the format rules on small files written here, then the real release when present."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from emnist_core.data import drawn, unipen, unipen_format
from emnist_core.data.labels import byclass_to_bymerge, label_map
from emnist_core.data.unipen import Sample, UnipenNotFoundError, bymerge_class
from emnist_core.data.unipen_format import UnipenFormatError, parse_file

# The shared train_r01_v07 copy (sections 1a, 1b, 1c). Each figure equals the number of
# ".SEGMENT CHARACTER" lines in that section's data files (checked below too). The data README says
# 10,428 for 1a and 91,149 in all, but its per-section figures add up to 91,165 and 1a's data files
# hold 10,429 character segments, every one of which resolves.
REAL_COUNTS = {"1a": 10_429, "1b": 24_313, "1c": 56_424}
REAL_TOTAL = 91_166


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.lstrip("\n"))
    return path


def pen(keyword: str, *points) -> str:
    return f".{keyword}\n" + "".join(" ".join(str(v) for v in p) + "\n" for p in points)


def pts(*points) -> np.ndarray:
    return np.array(points, dtype=np.float32).reshape(-1, 2)


def assert_strokes(sample: Sample, *expected) -> None:
    assert len(sample.strokes) == len(expected), sample.strokes
    for got, want in zip(sample.strokes, expected):
        assert got.dtype == np.float32 and got.shape == want.shape
        np.testing.assert_array_equal(got, want)


# A release with one data file whose pen data sits two include levels deep:
#   data/1a/con/sub/w1.dat -> con/session.doc -> con/writer.doc         (metadata)
#                          -> con/data/w1.dat  -> con/data/w1b.dat      (pen data)
# Components: 0 down, [empty PEN_UP: no component], 1 down (3 columns), 2 up with points (air),
# 3 down, 4 down (nested file), 5 down.
COMP = {
    0: pts((0, 0), (1, 1)),
    1: pts((10, 20), (11, 21), (12, 22)),
    3: pts((30, 40), (31, 41)),
    4: pts((50, 60), (51, 61), (52, 62), (53, 63)),
    5: pts((70, 80)),
}
SEGMENTS = [  # (reference, quality, label, expected strokes)
    ("0", "OK", "1", [COMP[0]]),
    ("1-3", "?", "2", [COMP[1], COMP[3]]),  # component 2 is the pen in the air: counted, not ink
    ("1:1-3", "BAD", "3", [COMP[1][1:], COMP[3]]),
    ("3-4:1", "?", "4", [COMP[3], COMP[4][:2]]),
    ("4:1-4:2", "?", "5", [COMP[4][1:3]]),
    ("0,4:3-5", "?", "6", [COMP[0], COMP[4][3:], COMP[5]]),
]


@pytest.fixture
def release(tmp_path) -> Path:
    root = tmp_path / "train_r01_v07"
    inc = root / "include"
    write(
        inc / "con/session.doc",
        """
.X_POINTS_PER_INCH 508
.Y_POINTS_PER_MM 20
.POINTS_PER_SECOND\t100
.INCLUDE con/writer.doc
""",
    )
    write(
        inc / "con/writer.doc",
        """
.WRITER_ID w1
.COMMENT free text that continues
  on the next line; .PEN_DOWN here is not a keyword
.SOME_FUTURE_KEYWORD 1 2 3
""",
    )
    write(
        inc / "con/data/w1.dat",
        pen("PEN_DOWN", (0, 0), (1, 1))
        + ".PEN_UP\n"
        + pen("PEN_DOWN", (10, 20, 5), (11, 21, 6), (12, 22, 7))
        + pen("PEN_UP", (13, 23), (14, 24))
        + pen("PEN_DOWN", (30, 40), (31, 41))
        + ".PEN_UP\n\n.INCLUDE con/data/w1b.dat\n",
    )
    write(
        inc / "con/data/w1b.dat",
        pen("PEN_DOWN", (50, 60), (51, 61), (52, 62), (53, 63)) + ".PEN_UP\n" + pen("PEN_DOWN", (70, 80)) + ".PEN_UP\n",
    )
    write(
        root / "data/1a/con/sub/w1.dat",
        ".VERSION 1.0\n.INCLUDE con/session.doc\n.INCLUDE con/data/w1.dat\n"
        + "".join(f'.SEGMENT CHARACTER {ref} {q} "{label}"\n' for ref, q, label, _ in SEGMENTS)
        + '.SEGMENT WORD 0-5 ? "hello"\n',
    )
    return root


def test_references_nested_includes_and_component_numbering(release):
    samples = parse_file(
        release / "data/1a/con/sub/w1.dat", release / "include", section="1a", contributor="con", root=release
    )
    assert [s.label for s in samples] == [label for _, _, label, _ in SEGMENTS]  # the WORD segment is ignored
    for sample, (_, quality, _, strokes) in zip(samples, SEGMENTS):
        assert_strokes(sample, *strokes)
        assert sample.quality == quality
        assert (sample.section, sample.contributor, sample.writer) == ("1a", "con", "con/w1")
    assert [s.source for s in samples] == [f"data/1a/con/sub/w1.dat:{line}" for line in range(4, 10)]
    first = samples[0]
    assert (first.x_points_per_inch, first.y_points_per_inch, first.points_per_second) == (508, 20 * 25.4, 100)


def test_strokes_keep_file_coordinates_with_y_up(release):
    """No flip, no scaling: a renderer flips y (tablet y points up; documented on Sample)."""
    (sample,) = [s for s in unipen.iter_samples(release, sections=("1a",)) if s.label == "1"]
    np.testing.assert_array_equal(sample.strokes[0], [[0, 0], [1, 1]])  # y grows upwards, as written
    assert "y pointing up" in " ".join(Sample.__doc__.split()) and "y axis points up" in unipen.__doc__
    with pytest.raises(ValueError):  # shared with neighbours' strokes: read-only
        sample.strokes[0][0, 0] = 5


def test_empty_pen_up_separates_but_pen_up_with_points_is_a_component(tmp_path):
    write(
        tmp_path / "include/c/x.dat",
        pen("PEN_DOWN", (1, 1))
        + ".PEN_UP\n"
        + pen("PEN_DOWN", (2, 2))
        + pen("PEN_UP", (9, 9))
        + pen("PEN_DOWN", (3, 3), (4, 4))
        + pen("PEN_UP"),
    )
    data = write(
        tmp_path / "data/1c/c/x.dat",
        '.INCLUDE c/x.dat\n.SEGMENT CHARACTER 1 ? "a"\n.SEGMENT CHARACTER 3 ? "b"\n.SEGMENT CHARACTER 1-3 ? "c"\n',
    )
    a, b, c = parse_file(data, tmp_path / "include", section="1c", contributor="c")
    assert_strokes(a, pts((2, 2)))
    assert_strokes(b, pts((3, 3), (4, 4)))
    assert_strokes(c, pts((2, 2)), pts((3, 3), (4, 4)))
    write(data, '.INCLUDE c/x.dat\n.SEGMENT CHARACTER 4 ? "a"\n')  # 4 components: 0-3
    with pytest.raises(UnipenFormatError, match="component 4 does not exist"):
        parse_file(data, tmp_path / "include", section="1c", contributor="c")


def test_iter_samples_walks_sections_in_sorted_order(release):
    write(release / "data/1b/con/b.dat", '.INCLUDE con/data/w1.dat\n.SEGMENT CHARACTER 0 ? "A"\n')
    write(release / "data/1a/con/a.dat", '.INCLUDE con/data/w1.dat\n.SEGMENT CHARACTER 1 ? "9"\n')
    write(release / "data/1a/README", "not a data file\n")
    with pytest.raises(UnipenNotFoundError, match="1c"):  # a section asked for must be there
        list(unipen.iter_samples(release))
    (release / "data/1c").mkdir()
    sources = [s.source for s in unipen.iter_samples(release)]
    assert sources == [
        "data/1a/con/a.dat:2",
        *(f"data/1a/con/sub/w1.dat:{line}" for line in range(4, 10)),
        "data/1b/con/b.dat:2",
    ]
    assert [s.label for s in unipen.iter_samples(release, sections=("1b",))] == ["A"]


def test_writer_keys(tmp_path):
    inc = tmp_path / "include"
    write(
        inc / "p/two.dat",
        ".WRITER_ID anna\n" + pen("PEN_DOWN", (1, 1)) + ".WRITER_ID bob\n" + pen("PEN_DOWN", (2, 2)) + ".PEN_UP\n",
    )
    write(inc / "p/anon.dat", pen("PEN_DOWN", (1, 1)) + ".PEN_UP\n")
    two = write(
        tmp_path / "data/1a/p/s1/two.dat",
        ".INCLUDE p/two.dat\n" + "".join(f'.SEGMENT CHARACTER {ref} ? "1"\n' for ref in ("0", "1", "0-1")),
    )
    anon1 = write(tmp_path / "data/1a/p/s1/anon.dat", '.INCLUDE p/anon.dat\n.SEGMENT CHARACTER 0 ? "1"\n')
    anon2 = write(tmp_path / "data/1a/p/s2/anon.dat", '.INCLUDE p/anon.dat\n.SEGMENT CHARACTER 0 ? "1"\n')
    # the writer in force when the sample's first component was recorded
    writers = [s.writer for s in parse_file(two, inc, section="1a", contributor="p")]
    assert writers == ["p/anna", "p/bob", "p/anna"]
    # no .WRITER_ID: one anonymous writer per data file, never merged across files
    assert [s.writer for s in unipen.iter_samples(tmp_path, sections=("1a",)) if "file:" in s.writer] == [
        "p/file:s1/anon.dat",
        "p/file:s2/anon.dat",
    ]
    for path in (anon1, anon2):  # without root the key comes from the <section>/<contributor> folders
        (sample,) = parse_file(path, inc, section="1a", contributor="p")
        assert sample.writer == f"p/file:{path.parent.name}/anon.dat" and sample.source == f"{path}:2"


# (what is wrong, pen data of the included file, its bad line; or a line added to the data file)
BAD_PEN_DATA = [
    ("non-numeric point", pen("PEN_DOWN", (1, 1)) + "12 abc\n.PEN_UP\n", 3),
    ("one number", pen("PEN_DOWN", (1, 1), (2,)) + ".PEN_UP\n", 3),
    ("nan point", pen("PEN_UP", (1, 1)) + pen("PEN_DOWN", (3, 4), (1, "nan")), 5),
]
BAD_DATA_LINES = [
    *(f'.SEGMENT CHARACTER {ref} ? "a"' for ref in ("3-x", "1-0", "0:2-0:1", "", "1--2", "0;1")),
    '.SEGMENT CHARACTER 0-1 ? "a"',  # component 1 does not exist
    '.SEGMENT CHARACTER 0:2 ? "a"',  # component 0 has points 0 and 1
    ".SEGMENT CHARACTER 0 ? a",
    '.SEGMENT CHARACTER 0 ? "a',
    '.SEGMENT CHARACTER 0 GOOD "a"',
    '.SEGMENT CHARACTER 0 "a"',
    ".X_POINTS_PER_INCH many",
]


@pytest.mark.parametrize("problem, text, line", BAD_PEN_DATA, ids=[c[0] for c in BAD_PEN_DATA])
def test_malformed_pen_data_names_the_included_file_and_line(tmp_path, problem, text, line):
    bad = write(tmp_path / "include/m/bad.dat", text)
    data = write(tmp_path / "data/1a/m/x.dat", '.INCLUDE m/bad.dat\n.SEGMENT CHARACTER 0 ? "a"\n')
    with pytest.raises(UnipenFormatError, match=rf"^{re.escape(str(bad))}:{line}: expected a point") as info:
        parse_file(data, tmp_path / "include", section="1a", contributor="m")
    assert (info.value.path, info.value.line) == (str(bad), line)


@pytest.mark.parametrize("text", BAD_DATA_LINES)
def test_malformed_data_line_names_the_file_and_line(tmp_path, text):
    write(tmp_path / "include/m/good.dat", pen("PEN_DOWN", (1, 1), (2, 2)) + ".PEN_UP\n")
    data = write(tmp_path / "data/1a/m/x.dat", f".INCLUDE m/good.dat\n{text}\n")
    with pytest.raises(UnipenFormatError, match=rf"^{re.escape(str(data))}:2: \S"):
        parse_file(data, tmp_path / "include", section="1a", contributor="m")


def test_missing_include_and_include_cycle(tmp_path):
    inc = tmp_path / "include"
    data = write(tmp_path / "data/1a/c/x.dat", ".VERSION 1.0\n.INCLUDE c/nowhere.doc\n")
    with pytest.raises(UnipenFormatError, match=rf"^{re.escape(str(data))}:2: included file .*nowhere.doc not found"):
        parse_file(data, inc, section="1a", contributor="c")
    a = write(inc / "c/a.doc", ".COMMENT a\n.INCLUDE c/b.doc\n")
    b = write(inc / "c/b.doc", ".INCLUDE c/a.doc\n")
    write(data, ".INCLUDE c/a.doc\n")
    cycle = rf"^{re.escape(str(b))}:1: include cycle: {re.escape(str(a.resolve()))} -> .*b.doc -> .*a.doc$"
    with pytest.raises(UnipenFormatError, match=cycle):
        parse_file(data, inc, section="1a", contributor="c")


def test_bymerge_class_uses_the_project_merge_rule():
    bymerge = label_map("bymerge")
    assert bymerge_class("7") == 7
    assert bymerge_class("A") == bymerge.index_of("A")
    assert bymerge_class("a") == bymerge.index_of("a") != bymerge_class("A")  # a keeps its own class
    assert bymerge_class("o") == bymerge_class("O") == bymerge.index_of("O")  # o folds into O
    assert bymerge_class("?") is None and bymerge_class("ab") is None and bymerge_class("") is None
    byclass = label_map("byclass")  # the same answer as the EMNIST ByClass -> ByMerge table
    assert [bymerge_class(n) for n in byclass.names] == byclass_to_bymerge(list(byclass.indices)).tolist()


def make_release(folder: Path) -> Path:
    (folder / "data").mkdir(parents=True)
    (folder / "include").mkdir()
    return folder


def test_find_unipen_dir_search_order(tmp_path, monkeypatch):
    monkeypatch.setattr(unipen, "PROJECT_ROOT", tmp_path / "project")
    monkeypatch.delenv("UNIPEN_DATA_DIR", raising=False)
    with pytest.raises(UnipenNotFoundError) as info:
        unipen.find_unipen_dir()
    message = str(info.value)
    for hint in (
        "github.com/GreenCappuccino/train_r01_v07",
        "10.5281/zenodo.1195803",
        "--unipen-dir",
        "UNIPEN_DATA_DIR",
        str(tmp_path / "shared/unipen/train_r01_v07"),
    ):
        assert hint in message

    beside = make_release(tmp_path / "shared/unipen/train_r01_v07")
    assert unipen.find_unipen_dir() == beside
    env = make_release(tmp_path / "env/train_r01_v07")
    monkeypatch.setenv("UNIPEN_DATA_DIR", str(env.parent))  # the folder above the release is fine too
    assert unipen.find_unipen_dir() == env
    arg = make_release(tmp_path / "arg")
    assert unipen.find_unipen_dir(arg) == arg and unipen.find_unipen_dir(str(arg)) == arg
    monkeypatch.setenv("UNIPEN_DATA_DIR", str(tmp_path / "no-such-folder"))  # skipped when absent
    assert unipen.find_unipen_dir() == beside
    with pytest.raises(UnipenNotFoundError, match="does not exist"):  # an explicit folder must exist
        unipen.find_unipen_dir(tmp_path / "missing")
    (tmp_path / "plain").mkdir()
    with pytest.raises(UnipenNotFoundError, match="not a UNIPEN folder"):  # ... and be one
        unipen.find_unipen_dir(tmp_path / "plain")
    assert isinstance(info.value, FileNotFoundError)


@pytest.fixture(scope="module")
def real_release():
    """The UNIPEN release in ``../shared`` (or ``UNIPEN_DATA_DIR``), parsed once: (its folder, every sample)."""
    try:
        root = unipen.find_unipen_dir()
    except UnipenNotFoundError as exc:
        pytest.skip(f"UNIPEN data not found: {exc}")
    return root, list(unipen.iter_samples(root))


def test_real_release_counts(real_release):
    root, samples = real_release
    counts = dict.fromkeys(unipen.SECTIONS, 0)
    qualities, unmapped = set(), 0
    for sample in samples:
        counts[sample.section] += 1
        qualities.add(sample.quality)
        unmapped += bymerge_class(sample.label) is None
        assert sample.strokes and sample.writer.startswith(sample.contributor + "/")
    segment_lines = {
        section: sum(
            line.startswith(".SEGMENT CHARACTER ")
            for path in (root / "data" / section).rglob("*")
            if path.is_file()
            for line in path.read_text(errors="replace").splitlines()
        )
        for section in unipen.SECTIONS
    }
    assert counts == segment_lines == REAL_COUNTS
    assert sum(counts.values()) == REAL_TOTAL
    assert qualities <= set(unipen_format.QUALITIES) and unmapped == 0


def test_real_unipen_partition(real_release):
    """The release's characters, partitioned (not drawn, which takes a minute: the renderer has its own tests):
    writer groups on one side each, every class learnable, and the test part the very characters, in order, that
    the demo data pack holds drawn."""
    from emnist_core.data import pack

    _, seeds, meta = drawn.unipen_index(real_release[1])
    assert len(seeds) == len(meta) > 85_000
    groups_in = [set(meta[meta[:, 2] == part, 3]) for part in range(3)]
    assert not (groups_in[0] & groups_in[1] or groups_in[0] & groups_in[2] or groups_in[1] & groups_in[2])
    counts = np.bincount(meta[:, 2], minlength=3) / len(meta)
    assert counts[0] > 0.6 and counts[1] > 0.05 and counts[2] > 0.05
    assert (np.bincount(meta[meta[:, 2] == 0, 0], minlength=47) > 100).all()  # every class learnable
    assert set(meta[:, 1]) == {0, 1, 2}
    packed = pack.load("unipen")[0]["meta"]
    np.testing.assert_array_equal(packed[packed[:, 2] == 2], meta[meta[:, 2] == 2])
