"""Fetch NIST's official EMNIST archive and keep one split, every file checked against NIST's pins.

NIST publishes the gzip IDX edition as one zip (``gzip.zip``, about 560 MB, every split under
``gzip/``). We fetch it with the standard library's ``urlretrieve`` to a temporary name that is
renamed only when the transfer is complete, so a broken connection never leaves a half archive
that looks whole. The archive is kept in the cache so the next split needs no second download.
Only the requested split's ``.gz`` files are copied out, and each gets its final name only after
its size and SHA-256 match ``official-sha256-size.txt``. Files already present and correct are
not fetched again, so a run that was cut off picks up where it stopped.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import sys
import urllib.error
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from http.client import HTTPException
from importlib import resources
from pathlib import Path, PurePosixPath
from urllib.request import urlretrieve

from emnist_core.data import cache, files
from emnist_core.data.labels import SPLITS

OFFICIAL_URL = "https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip"
URL_ENV = "EMNIST_DOWNLOAD_URL"  # a mirror, or file:///path/to/gzip.zip for a copy already on disk
ARCHIVE_NAME = "gzip.zip"
PINS_FILE = "official-sha256-size.txt"
PARTS = ("train", "test")
TIMEOUT_S = 60.0  # a server that stops sending fails the download after this long instead of hanging it
COPY_CHUNK = 1 << 20


class DownloadError(OSError):
    """The archive could not be fetched; the message says what happened and what to do."""


@dataclass(frozen=True)
class Pin:
    sha256: str
    size: int


def official_pins() -> dict[str, Pin]:
    """NIST's published SHA-256 and size of each official file, by file name."""
    pins = {}
    for line in resources.files("emnist_core").joinpath(PINS_FILE).read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            sha256, size, name = line.split()
            pins[name] = Pin(sha256, int(size))
    return pins


def split_files(split: str, part: str = "both") -> list[str]:
    """Names of the gzip IDX files of ``split`` ("bymerge" ...) and ``part`` ("train", "test", "both")."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    if part not in (*PARTS, "both"):
        raise ValueError(f"part must be 'train', 'test' or 'both', not {part!r}")
    parts = PARTS if part == "both" else (part,)
    return [f"emnist-{split}-{p}-{kind}-ubyte.gz" for p in parts for kind in ("images-idx3", "labels-idx1")]


def default_data_dir() -> Path:
    """Where downloaded splits go; the last folder ``datasets`` searches."""
    return cache.cache_dir() / "data"


def default_url() -> str:
    return os.environ.get(URL_ENV) or OFFICIAL_URL


def download(
    split: str,
    part: str = "both",
    data_dir=None,
    url: str | None = None,
    pins=None,
    archive_dir=None,
    timeout: float = TIMEOUT_S,
    log=None,
) -> list[Path]:
    """Make ``split``/``part``'s verified ``.gz`` files present in ``data_dir``; return their paths.

    ``pins`` (name -> ``Pin``) defaults to NIST's official ones; tests pass their own. ``log``
    receives one line per step (default: standard error).
    """
    log = log or _stderr
    pins = official_pins() if pins is None else pins
    names = split_files(split, part)
    dest = Path(data_dir).expanduser() if data_dir else default_data_dir()
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"cannot create {dest} ({exc.strerror}); choose another --data-dir") from None

    todo = []
    for name in names:
        target = dest / name
        if target.is_file() and _matches(target, pins[name]):
            log(f"{name}: already present and verified")
            continue
        if target.exists():
            log(f"{name}: present but not NIST's file; replacing it")
            target.unlink()
        todo.append(name)
    if todo:
        archive = fetch_archive(url or default_url(), archive_dir, timeout, log)
        extract(archive, todo, dest, pins, log)
        log(
            f"kept {archive} ({archive.stat().st_size / 1e6:.0f} MB) so other splits need no download; "
            "delete it to free the space"
        )
    return [dest / name for name in names]


def fetch_archive(url: str, archive_dir=None, timeout: float = TIMEOUT_S, log=None) -> Path:
    """The archive at ``url``, downloaded once into ``archive_dir`` (default: the cache's downloads/)."""
    from tqdm import tqdm

    log = log or _stderr
    folder = Path(archive_dir) if archive_dir else cache.cache_dir() / "downloads"
    target = folder / ARCHIVE_NAME
    if target.is_file():
        log(f"using the archive downloaded earlier: {target}")
        return target
    folder.mkdir(parents=True, exist_ok=True)
    log(f"downloading {url}")
    retry = "Nothing was kept; run the same command again to restart the download."
    with tqdm(
        desc=ARCHIVE_NAME, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr, disable=None, leave=False
    ) as bar:

        def report(blocks, block_size, total):
            bar.total = total if total > 0 else None
            bar.update(blocks * block_size - bar.n)

        try:
            with _socket_timeout(timeout):
                cache.atomic_write(target, lambda tmp: urlretrieve(url, tmp, report))
        except urllib.error.ContentTooShortError as exc:
            raise DownloadError(f"the connection broke ({exc.reason}). {retry}") from None
        except urllib.error.HTTPError as exc:
            raise DownloadError(
                f"{url} answered {exc.code} {exc.reason}; check the address (--url or {URL_ENV})"
            ) from None
        except urllib.error.URLError as exc:
            raise DownloadError(
                f"cannot reach {url} ({exc.reason}); check the connection or the address (--url or {URL_ENV})"
            ) from None
        except (OSError, HTTPException) as exc:
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise DownloadError(f"the download from {url} failed ({reason}). {retry}") from None
        except ValueError as exc:  # urlretrieve's word for an address it cannot parse
            raise DownloadError(f"{url!r} is not a download address ({exc})") from None
    return target


def extract(archive: Path, names, dest: Path, pins, log=None) -> None:
    """Copy ``names`` out of ``archive`` into ``dest``, each renamed into place only once verified."""
    log = log or _stderr
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        archive.unlink(missing_ok=True)
        raise files.DataFileError(
            archive,
            f"is not a readable zip archive ({exc}); it was deleted. Run the same command again to download it afresh.",
        ) from None
    with zf:
        members = {PurePosixPath(info.filename).name: info for info in zf.infolist() if not info.is_dir()}
        for name in names:
            info, pin, target = members.get(name), pins[name], dest / name
            if info is None:
                raise files.DataFileError(
                    archive,
                    f"holds no {name}; is it NIST's EMNIST gzip.zip? Delete it "
                    f"and check the address (--url or {URL_ENV})",
                )
            if info.file_size != pin.size:  # refuse before writing anything
                _reject(archive, target, info.file_size, "?", pin)
            try:
                cache.atomic_write(
                    target,
                    lambda tmp, info=info, target=target, pin=pin: _copy_verified(zf, info, tmp, archive, target, pin),
                )
            except (zipfile.BadZipFile, zlib.error, EOFError) as exc:  # bad CRC or deflate data: a damaged archive
                archive.unlink(missing_ok=True)
                raise files.DataFileError(
                    archive, f"is corrupt ({exc}); it was deleted. Run the same command again to download it afresh."
                ) from None
            except OSError as exc:
                raise files.DataFileError(
                    target, f"cannot be written ({exc.strerror}); free some space or choose another --data-dir"
                ) from None
            log(f"{name}: extracted and verified ({pin.size:,} bytes, SHA-256 {pin.sha256[:12]}...)")


def _copy_verified(zf, info, tmp, archive, target, pin) -> None:
    with zf.open(info) as src, open(tmp, "wb") as out:
        shutil.copyfileobj(src, out, COPY_CHUNK)
    size, digest = _digest(tmp)
    if (size, digest) != (pin.size, pin.sha256):
        _reject(archive, target, size, digest, pin)


def _reject(archive: Path, target: Path, size: int, digest: str, pin: Pin):
    # The archive produced a wrong file, so it is damaged or not NIST's: keep neither.
    archive.unlink(missing_ok=True)
    raise files.DataFileError(
        target,
        f"does not match NIST's published file ({size:,} bytes, SHA-256 {digest[:12]}...; expected "
        f"{pin.size:,} bytes, {pin.sha256[:12]}...). It and the archive were deleted; run the command again, "
        f"and if this repeats check the address (--url or {URL_ENV})",
    )


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _digest(path: Path) -> tuple[int, str]:
    with open(path, "rb") as f:
        return os.fstat(f.fileno()).st_size, hashlib.file_digest(f, "sha256").hexdigest()


def _matches(path: Path, pin: Pin) -> bool:
    # Size first: a wrong file is usually the wrong size, and that costs no hashing.
    return path.stat().st_size == pin.size and _digest(path) == (pin.size, pin.sha256)


@contextmanager
def _socket_timeout(seconds: float):
    # urlretrieve takes no timeout argument, and without one a stalled server hangs it forever.
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)
