"""`download`: fetch, verify, filter, cache and fail cleanly, against a local HTTP server.

No machine here reaches NIST, so each test builds a small archive in NIST's layout (``gzip/`` with
tiny gzip IDX files of two splits) and serves it from 127.0.0.1.
"""

import gzip
import hashlib
import io
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from emnist_core import cli
from emnist_core.data import datasets
from emnist_core.data import download as dl
from emnist_core.data.files import IMAGE_MAGIC, LABEL_MAGIC, DataFileError

from conftest import idx_bytes

SPLIT, OTHER_SPLIT = "mnist", "digits"
IMAGES_PER_FILE = 6


def _idx_gz(array: np.ndarray, magic: int) -> bytes:
    return gzip.compress(idx_bytes(array, magic), mtime=0)


def _split_members(split: str, seed: int) -> dict[str, bytes]:
    rng = np.random.default_rng(seed)
    out = {}
    for part in dl.PARTS:
        images = rng.integers(0, 256, (IMAGES_PER_FILE, 28, 28))
        labels = rng.integers(0, 10, IMAGES_PER_FILE)
        out[f"emnist-{split}-{part}-images-idx3-ubyte.gz"] = _idx_gz(images, IMAGE_MAGIC)
        out[f"emnist-{split}-{part}-labels-idx1-ubyte.gz"] = _idx_gz(labels, LABEL_MAGIC)
    return out


@pytest.fixture(scope="module")
def archive():
    """(zip bytes, {name: member bytes}, pins for every member) in the layout of NIST's gzip.zip."""
    members = {**_split_members(SPLIT, 1), **_split_members(OTHER_SPLIT, 2)}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("gzip/", b"")
        for name, data in members.items():
            zf.writestr(f"gzip/{name}", data)
        zf.writestr("gzip/emnist-mnist-mapping.txt", b"0 48\r\n")
    pins = {name: dl.Pin(hashlib.sha256(data).hexdigest(), len(data)) for name, data in members.items()}
    return SimpleNamespace(data=buf.getvalue(), members=members, pins=pins)


@pytest.fixture
def server():
    """An HTTP server on 127.0.0.1; ``routes[path] = (mode, body)`` with mode ok, cut or stall."""
    routes, hits, release = {}, [], threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            if self.path not in routes:
                self.send_error(404)
                return
            mode, body = routes[self.path]
            self.send_response(200)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if mode == "ok":
                self.wfile.write(body)
            elif mode == "cut":  # the connection drops halfway
                self.wfile.write(body[: len(body) // 2])
                self.close_connection = True
            elif mode == "stall":  # the server stops sending but keeps the connection open
                self.wfile.write(body[:100])
                self.wfile.flush()
                release.wait(10)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield SimpleNamespace(url=lambda path="/gzip.zip": base + path, routes=routes, hits=hits)
    release.set()
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    """Data and archive folders in tmp; the cache too, so nothing lands in the real home."""
    monkeypatch.setenv("EMNIST_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv(dl.URL_ENV, raising=False)
    return SimpleNamespace(data=tmp_path / "data", archives=tmp_path / "archives")


def _fetch(server, archive, dirs, split=SPLIT, part="both", pins=None, **kw):
    lines = []
    paths = dl.download(
        split,
        part,
        data_dir=dirs.data,
        url=server.url(),
        pins=pins or archive.pins,
        archive_dir=dirs.archives,
        log=lines.append,
        **kw,
    )
    return paths, lines


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_extracts_only_the_requested_split_byte_for_byte(server, archive, dirs):
    server.routes["/gzip.zip"] = ("ok", archive.data)
    paths, lines = _fetch(server, archive, dirs)
    wanted = dl.split_files(SPLIT)
    assert [p.name for p in paths] == wanted
    assert _leftovers(dirs.data) == sorted(wanted)  # no digits files, no mapping file, no temporaries
    for p in paths:
        assert p.read_bytes() == archive.members[p.name]
    assert any("extracted and verified" in line for line in lines)
    assert _leftovers(dirs.archives) == [dl.ARCHIVE_NAME]  # kept for the next split
    x, y = datasets.load_split(SPLIT, "test", data_dir=dirs.data)
    assert x.shape == (IMAGES_PER_FILE, 28, 28) and len(y) == IMAGES_PER_FILE


def test_part_test_extracts_only_the_test_files(server, archive, dirs):
    server.routes["/gzip.zip"] = ("ok", archive.data)
    paths, _ = _fetch(server, archive, dirs, part="test")
    assert _leftovers(dirs.data) == sorted(p.name for p in paths)
    assert all("-test-" in p.name for p in paths) and len(paths) == 2


def test_verified_files_are_not_fetched_again_and_the_archive_serves_the_next_split(server, archive, dirs):
    server.routes["/gzip.zip"] = ("ok", archive.data)
    _fetch(server, archive, dirs)
    _, lines = _fetch(server, archive, dirs)
    assert len(server.hits) == 1
    assert len([line for line in lines if "already present and verified" in line]) == 4
    _, lines = _fetch(server, archive, dirs, split=OTHER_SPLIT)
    assert len(server.hits) == 1  # the cached archive, no second transfer
    assert any("downloaded earlier" in line for line in lines)
    assert len(_leftovers(dirs.data)) == 8


def test_a_wrong_file_already_present_is_replaced(server, archive, dirs):
    server.routes["/gzip.zip"] = ("ok", archive.data)
    name = dl.split_files(SPLIT)[0]
    dirs.data.mkdir(parents=True)
    (dirs.data / name).write_bytes(b"half a file")
    _, lines = _fetch(server, archive, dirs)
    assert (dirs.data / name).read_bytes() == archive.members[name]
    assert any("replacing" in line for line in lines)


@pytest.mark.parametrize("spoil", ["sha256", "size"])
def test_checksum_mismatch_names_the_file_and_keeps_nothing(server, archive, dirs, spoil):
    server.routes["/gzip.zip"] = ("ok", archive.data)
    bad = dl.split_files(SPLIT)[1]
    pin = archive.pins[bad]
    pins = dict(archive.pins)
    pins[bad] = dl.Pin("0" * 64, pin.size) if spoil == "sha256" else dl.Pin(pin.sha256, pin.size + 1)
    with pytest.raises(DataFileError) as err:
        _fetch(server, archive, dirs, pins=pins)
    message = str(err.value)
    assert bad in message and "does not match NIST's published file" in message and "run the command again" in message
    assert not (dirs.data / bad).exists()
    assert _leftovers(dirs.archives) == []  # the archive that produced it is gone too
    assert [n for n in _leftovers(dirs.data) if n.startswith(".")] == []


def test_broken_connection_reports_cleanly_keeps_nothing_and_a_rerun_restarts(server, archive, dirs):
    server.routes["/gzip.zip"] = ("cut", archive.data)
    with pytest.raises(dl.DownloadError) as err:
        _fetch(server, archive, dirs)
    message = str(err.value)
    assert "connection broke" in message and "run the same command again" in message
    assert _leftovers(dirs.archives) == [] and _leftovers(dirs.data) == []
    server.routes["/gzip.zip"] = ("ok", archive.data)
    paths, _ = _fetch(server, archive, dirs)
    assert all(p.read_bytes() == archive.members[p.name] for p in paths)


def test_stalled_server_times_out_cleanly(server, archive, dirs):
    server.routes["/gzip.zip"] = ("stall", archive.data)
    with pytest.raises(dl.DownloadError, match="timed out"):
        _fetch(server, archive, dirs, timeout=0.5)
    assert _leftovers(dirs.archives) == []


def test_http_error_names_the_status_and_the_setting(server, archive, dirs):
    with pytest.raises(dl.DownloadError) as err:
        _fetch(server, archive, dirs)  # nothing routed: 404
    assert "404" in str(err.value) and dl.URL_ENV in str(err.value)


def test_unreachable_server_reports_cleanly(archive, dirs):
    with pytest.raises(dl.DownloadError, match="cannot reach"):
        dl.download(
            SPLIT,
            data_dir=dirs.data,
            url="http://127.0.0.1:9/gzip.zip",
            pins=archive.pins,
            archive_dir=dirs.archives,
            log=lambda line: None,
        )


def test_a_page_that_is_not_a_zip_is_deleted(server, archive, dirs):
    server.routes["/gzip.zip"] = ("ok", b"<html>maintenance</html>")
    with pytest.raises(DataFileError, match="not a readable zip archive"):
        _fetch(server, archive, dirs)
    assert _leftovers(dirs.archives) == []


def test_an_archive_without_the_split_says_so(server, archive, dirs):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("gzip/readme.txt", b"nothing here")
    server.routes["/gzip.zip"] = ("ok", buf.getvalue())
    with pytest.raises(DataFileError, match=f"holds no emnist-{SPLIT}-train-images"):
        _fetch(server, archive, dirs)


def test_url_comes_from_the_environment(server, archive, dirs, monkeypatch):
    server.routes["/mirror/gzip.zip"] = ("ok", archive.data)
    monkeypatch.setenv(dl.URL_ENV, server.url("/mirror/gzip.zip"))
    dl.download(SPLIT, "test", data_dir=dirs.data, pins=archive.pins, archive_dir=dirs.archives, log=lambda line: None)
    assert server.hits == ["/mirror/gzip.zip"]


def test_official_pins_cover_every_split_and_part():
    pins = dl.official_pins()
    assert len(pins) == 30
    for split in datasets.SPLITS:
        for name in dl.split_files(split):
            assert len(pins[name].sha256) == 64 and pins[name].size > 0


def test_official_pins_match_the_shared_copy():
    shared = datasets.PROJECT_ROOT.parent / "shared" / "emnist" / "OFFICIAL-SHA256-SIZE.txt"
    if not shared.exists():
        pytest.skip(f"{shared} is not on this machine")
    expected = {name: dl.Pin(sha, int(size)) for sha, size, name in map(str.split, shared.read_text().splitlines())}
    assert dl.official_pins() == expected


def test_the_shared_real_files_pass_their_pins():
    pins, checked = dl.official_pins(), 0
    for folder in datasets.candidate_dirs():
        for name in ("emnist-mnist-test-labels-idx1-ubyte.gz", "emnist-bymerge-test-labels-idx1-ubyte.gz"):
            if (folder / name).is_file():
                assert dl._matches(folder / name, pins[name]), folder / name
                checked += 1
    if not checked:
        pytest.skip("no official EMNIST files on this machine")


def test_cli_uses_the_official_pins_and_exits_2_with_a_message(server, archive, dirs, capsys):
    server.routes["/gzip.zip"] = ("ok", archive.data)  # the test archive cannot match NIST's pins
    code = cli.main(
        ["download", "--split", SPLIT, "--part", "test", "--data-dir", str(dirs.data), "--url", server.url()]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "error:" in err and "does not match NIST's published file" in err and "Traceback" not in err
    assert [n for n in _leftovers(dirs.data) if n.endswith(".gz")] == []


def test_cli_broken_connection_exits_2_with_a_message(server, dirs, capsys, archive):
    server.routes["/gzip.zip"] = ("cut", archive.data)
    code = cli.main(["download", "--split", SPLIT, "--data-dir", str(dirs.data), "--url", server.url()])
    err = capsys.readouterr().err
    assert code == 2 and "connection broke" in err and "Traceback" not in err
