"""Offline-first fetching of registered files, verified by sha256, and safe archive extraction.

The course runs without network access. A file that a chapter needs but the course
cannot ship (a licensed data set, pretrained weights) is *registered* here with its
URL and sha256. :func:`fetch` returns the local copy when it is there and intact, tries
to download it otherwise (with pooch), and when that is impossible raises
:class:`DatasetNotFoundError`, whose message says where to put the file by hand.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from geolab.runtime import data_dir

__all__ = [
    "REGISTRY",
    "ChecksumError",
    "DatasetNotFoundError",
    "RemoteFile",
    "UnsafeArchiveError",
    "fetch",
    "register",
    "safe_extract",
    "sha256sum",
]


class DatasetNotFoundError(FileNotFoundError):
    """A registered file is not on disk and could not be downloaded."""


class ChecksumError(ValueError):
    """A file on disk does not have the registered sha256."""


class UnsafeArchiveError(ValueError):
    """An archive member would land outside the extraction folder."""


@dataclass(frozen=True)
class RemoteFile:
    """A file the course can fetch.

    Attributes:
        name: Registry key, e.g. ``"beachlitter-v2022"``.
        url: Where it can be downloaded.
        sha256: Hex digest of the file.
        fname: File name inside the data folder.
        info: Where people find it by hand (landing page, licence).
    """

    name: str
    url: str
    sha256: str
    fname: str
    info: str = ""


REGISTRY: dict[str, RemoteFile] = {}


def register(name: str, url: str, sha256: str, fname: str | None = None, info: str = "") -> RemoteFile:
    """Add a file to :data:`REGISTRY` (replacing one of the same name).

    Args:
        name: Registry key.
        url: Download URL.
        sha256: 64 hex digits.
        fname: File name in the data folder (default: last part of the URL).
        info: Landing page or licence note shown in error messages.
    """
    digest = sha256.lower().removeprefix("sha256:")
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"sha256 for {name!r} must be 64 hex digits, got {sha256!r}")
    fname = fname or PurePosixPath(urlsplit(url).path).name
    if not fname or "/" in fname or fname in {".", ".."}:
        raise ValueError(f"cannot derive a file name for {name!r} from {url!r}; pass fname=")
    entry = RemoteFile(name=name, url=url, sha256=digest, fname=fname, info=info)
    REGISTRY[name] = entry
    return entry


def sha256sum(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def fetch(name: str, *, folder: str | os.PathLike[str] | None = None, download: bool = True) -> Path:
    """Return the local path of a registered file, downloading it only if needed.

    Args:
        name: Registry key (see :data:`REGISTRY`).
        folder: Where the file lives (default: :func:`geolab.runtime.data_dir`).
        download: Try the network when the file is missing.

    Raises:
        KeyError: ``name`` is not registered.
        ChecksumError: The file on disk is damaged or a different version.
        DatasetNotFoundError: The file is missing and could not be downloaded.
    """
    if name not in REGISTRY:
        raise KeyError(f"{name!r} is not a registered file; registered: {sorted(REGISTRY) or 'none'}")
    entry = REGISTRY[name]
    root = Path(folder) if folder is not None else data_dir()
    target = root / entry.fname
    if target.exists():
        actual = sha256sum(target)
        if actual != entry.sha256:
            raise ChecksumError(
                f"{target} has sha256 {actual}, but {name!r} should have {entry.sha256}. "
                f"The file is damaged or a different version: delete it and fetch again, "
                f"or download it by hand from {entry.url}"
            )
        return target
    reason = "downloading is switched off (download=False)"
    if download:
        try:
            import pooch

            root.mkdir(parents=True, exist_ok=True)
            path = pooch.retrieve(
                entry.url,
                known_hash=f"sha256:{entry.sha256}",
                fname=entry.fname,
                path=root,
                progressbar=_has_tqdm(),
            )
            return Path(path)
        except Exception as exc:  # network errors come in many types; all end the same way
            reason = f"the download failed ({type(exc).__name__}: {exc})"
    hint = f" More information: {entry.info}." if entry.info else ""
    raise DatasetNotFoundError(
        f"{name!r} is not on this machine and {reason}. Download {entry.url} by hand and "
        f"save it as {target} (sha256 {entry.sha256}); or set GEOLAB_DATA to the folder "
        f"that holds {entry.fname}.{hint}"
    )


def _has_tqdm() -> bool:
    try:
        import tqdm  # noqa: F401
    except ImportError:  # pragma: no cover
        return False
    return True


def _check_member(name: str, archive: Path) -> PurePosixPath:
    """Refuse absolute names, drive letters and ``..``; return the normalised relative path."""
    posix = PurePosixPath(name.replace("\\", "/"))
    if posix.is_absolute() or (posix.parts and ":" in posix.parts[0]):
        raise UnsafeArchiveError(f"{archive}: member {name!r} has an absolute path; refusing to extract")
    if ".." in posix.parts:
        raise UnsafeArchiveError(f"{archive}: member {name!r} climbs out with '..'; refusing to extract")
    return posix


def safe_extract(archive: str | os.PathLike[str], dest: str | os.PathLike[str]) -> list[Path]:
    """Extract a zip or tar archive into ``dest``, refusing anything that would escape it.

    Members with absolute paths or ``..`` and links pointing outside are refused *before*
    anything is written; extraction goes to a temporary folder beside ``dest`` and is moved
    into place only when complete, so a failure leaves nothing half-written.

    Args:
        archive: ``.zip``, ``.tar``, ``.tar.gz``, ``.tgz``, ``.tar.bz2`` or ``.tar.xz`` file.
        dest: Destination folder (created if missing).

    Returns:
        Paths of the extracted regular files.

    Raises:
        UnsafeArchiveError: A member would land outside ``dest``, or is a device/link.
        ValueError: The file is not a zip or tar archive.
    """
    archive = Path(archive)
    dest = Path(dest)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            for info in infos:
                _check_member(info.filename, archive)
                mode = info.external_attr >> 16
                if stat.S_ISLNK(mode):
                    raise UnsafeArchiveError(f"{archive}: member {info.filename!r} is a symbolic link; refusing")
            return _extract_via_temp(dest, lambda tmp: zf.extractall(tmp), [i.filename for i in infos if not i.is_dir()])
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            members = tf.getmembers()
            for m in members:
                _check_member(m.name, archive)
                if m.issym() or m.islnk():
                    raise UnsafeArchiveError(f"{archive}: member {m.name!r} is a link; refusing to extract")
                if not (m.isfile() or m.isdir()):
                    raise UnsafeArchiveError(f"{archive}: member {m.name!r} is not a regular file; refusing")

            def _do(tmp: Path) -> None:
                if hasattr(tarfile, "data_filter"):
                    tf.extractall(tmp, members=members, filter="data")
                else:  # pragma: no cover - Python < 3.10.12
                    tf.extractall(tmp, members=members)

            return _extract_via_temp(dest, _do, [m.name for m in members if m.isfile()])
    raise ValueError(f"{archive} is neither a zip nor a tar archive")


def _extract_via_temp(dest: Path, extract: Callable[[Path], object], files: list[str]) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest))
    try:
        extract(tmp)
        for item in sorted(tmp.iterdir()):
            target = dest / item.name
            if target.exists():
                if target.is_dir() and item.is_dir():
                    shutil.copytree(item, target, dirs_exist_ok=True)
                    continue
                if target.is_dir():
                    shutil.rmtree(target)
                else:
                    target.unlink()
            shutil.move(str(item), str(target))
        return [dest / PurePosixPath(name.replace("\\", "/")) for name in files]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
