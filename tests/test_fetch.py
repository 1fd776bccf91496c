from __future__ import annotations

import hashlib
import http.server
import io
import socket
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest

from geolab.data import fetch as fetch_mod
from geolab.data.fetch import (
    REGISTRY,
    ChecksumError,
    DatasetNotFoundError,
    UnsafeArchiveError,
    fetch,
    register,
    safe_extract,
    sha256sum,
)

PAYLOAD = b"beach litter test payload\n" * 100
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()


@pytest.fixture(autouse=True)
def _isolated_registry(monkeypatch):
    monkeypatch.setattr(fetch_mod, "REGISTRY", dict(REGISTRY))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def http_server(tmp_path):
    """A loopback HTTP server serving tmp_path/www."""
    www = tmp_path / "www"
    www.mkdir()
    (www / "data.bin").write_bytes(PAYLOAD)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(www), **k)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_sha256sum_matches_hashlib(tmp_path):
    f = tmp_path / "f"
    f.write_bytes(PAYLOAD)
    assert sha256sum(f, chunk=7) == DIGEST


def test_register_validates_hash_and_name():
    entry = register("x", "https://example.org/files/x.zip?download=1", "sha256:" + DIGEST.upper())
    assert entry.fname == "x.zip" and entry.sha256 == DIGEST
    assert fetch_mod.REGISTRY["x"] is entry
    with pytest.raises(ValueError, match="64 hex"):
        register("y", "https://example.org/y", "abc")
    with pytest.raises(ValueError, match="file name"):
        register("z", "https://example.org/", DIGEST)


def test_fetch_unknown_name():
    with pytest.raises(KeyError, match="not a registered file"):
        fetch("nope")


def test_fetch_returns_intact_local_file_without_network(tmp_path):
    register("local", f"http://127.0.0.1:{_closed_port()}/data.bin", DIGEST)
    (tmp_path / "data.bin").write_bytes(PAYLOAD)
    assert fetch("local", folder=tmp_path) == tmp_path / "data.bin"


def test_fetch_rejects_damaged_file(tmp_path):
    register("local", "http://127.0.0.1:1/data.bin", DIGEST)
    (tmp_path / "data.bin").write_bytes(b"something else")
    with pytest.raises(ChecksumError, match="delete it"):
        fetch("local", folder=tmp_path)


def test_missing_file_offline_says_where_to_put_it(tmp_path):
    register("offline", f"http://127.0.0.1:{_closed_port()}/data.bin", DIGEST, info="see the landing page")
    with pytest.raises(DatasetNotFoundError) as err:
        fetch("offline", folder=tmp_path)
    msg = str(err.value)
    assert str(tmp_path / "data.bin") in msg and DIGEST in msg and "download failed" in msg
    assert "see the landing page" in msg
    assert isinstance(err.value, FileNotFoundError)
    with pytest.raises(DatasetNotFoundError, match="download=False"):
        fetch("offline", folder=tmp_path, download=False)


def test_fetch_downloads_and_verifies(tmp_path, http_server):
    register("served", f"{http_server}/data.bin", DIGEST)
    dest = tmp_path / "cache"
    path = fetch("served", folder=dest)
    assert path == dest / "data.bin" and path.read_bytes() == PAYLOAD


def test_fetch_refuses_download_with_wrong_hash(tmp_path, http_server):
    register("served", f"{http_server}/data.bin", "0" * 64)
    dest = tmp_path / "cache"
    with pytest.raises(DatasetNotFoundError):
        fetch("served", folder=dest)
    assert not (dest / "data.bin").exists()


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _tar(path: Path, members: dict[str, bytes], symlink: tuple[str, str] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        if symlink:
            info = tarfile.TarInfo(symlink[0])
            info.type = tarfile.SYMTYPE
            info.linkname = symlink[1]
            tf.addfile(info)
    return path


def test_safe_extract_zip_and_tar(tmp_path):
    members = {"beachlitter/images/000008.jpg": b"jpg", "beachlitter/maskpngs/000008.png": b"png"}
    for archive in (_zip(tmp_path / "a.zip", members), _tar(tmp_path / "a.tar.gz", members)):
        dest = tmp_path / f"out-{archive.name}"
        files = safe_extract(archive, dest)
        assert sorted(files) == sorted(dest / m for m in members)
        assert (dest / "beachlitter/images/000008.jpg").read_bytes() == b"jpg"
        assert not [p for p in dest.iterdir() if p.name.startswith(".extract-")]


@pytest.mark.parametrize("bad", ["../evil.txt", "a/../../evil.txt", "/etc/evil.txt", "C:/evil.txt"])
def test_safe_extract_refuses_escaping_members(tmp_path, bad):
    for archive in (_zip(tmp_path / "bad.zip", {"ok.txt": b"ok", bad: b"x"}),
                    _tar(tmp_path / "bad.tar.gz", {"ok.txt": b"ok", bad: b"x"})):
        dest = tmp_path / "dest"
        with pytest.raises(UnsafeArchiveError, match="refusing"):
            safe_extract(archive, dest)
        # nothing was written, not even the harmless member
        assert not dest.exists() or not any(dest.iterdir())
    assert not (tmp_path / "evil.txt").exists()


def test_safe_extract_refuses_links(tmp_path):
    archive = _tar(tmp_path / "link.tar.gz", {"ok.txt": b"ok"}, symlink=("link", "/etc/passwd"))
    with pytest.raises(UnsafeArchiveError, match="link"):
        safe_extract(archive, tmp_path / "dest")


def test_safe_extract_rejects_non_archives(tmp_path):
    f = tmp_path / "plain.txt"
    f.write_text("hello")
    with pytest.raises(ValueError, match="neither a zip nor a tar"):
        safe_extract(f, tmp_path / "dest")
