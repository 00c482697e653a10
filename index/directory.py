"""The index directory a user names with `--index`: versions, the `current` link, the build lock.

Layout::

    <index dir>/
      aihub-qa-index.json     marker: this directory belongs to aihub-qa (nothing else is ever written
                              into a directory without it, except into a new or empty one)
      current -> versions/<id>   the live version; replaced in one atomic step (rename over a symlink)
      versions/<id>/          complete, immutable index versions (manifest, vectors, BM25, records)
      staging/                vectors embedded by builds that did not finish (a new build resumes them)
      .lock                   held by the one build that may write here at a time

A reader resolves `current` once and reads that version; a build writes a new version beside it,
then swaps the link, then removes versions nobody points to. A crash at any moment leaves `current`
pointing at a complete version (or at nothing, before the first build ever finished). Nothing
outside the index directory is touched.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from index.errors import IndexLocked, IndexMismatch, IndexNotFound, NotAnIndexDirectory
from index.manifest import MANIFEST, rebuild_hint

MARKER = "aihub-qa-index.json"
CURRENT = "current"
VERSIONS = "versions"
STAGING = "staging"
LOCK = ".lock"
LAYOUT = 2
# What an index of the first format (files directly in the directory) consisted of: a build may
# replace exactly these, and only in a directory whose manifest says it is such an index.
_LEGACY_FILES = ("manifest.json", "vectors.faiss", "chunks.jsonl", "documents.jsonl", "bm25")


class IndexDirectory:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    # ---- reading -------------------------------------------------------------------------
    def current_version(self) -> Path:
        """The directory of the live version; IndexNotFound / IndexMismatch when there is none."""
        link = self.path / CURRENT
        if not link.is_symlink():
            if self._is_legacy():
                raise IndexMismatch(
                    f"index at {self.path} has an older format (1) that this version no longer reads; "
                    f"{rebuild_hint(self.path)}"
                )
            raise IndexNotFound(f"no index at {self.path}; build it with: aihub-qa build --index {self.path}")
        target = self.path / os.readlink(link)
        if not (target / MANIFEST).is_file():
            raise IndexMismatch(
                f"index at {self.path} is damaged: 'current' points at {os.readlink(link)}, which is not a complete "
                f"index version; {rebuild_hint(self.path)}"
            )
        return target

    def has_index(self) -> bool:
        return (self.path / CURRENT).is_symlink()

    # ---- building ------------------------------------------------------------------------
    def claim(self) -> None:
        """Make sure the path is ours to write: new, empty, already an index, or a first-format index.

        Anything else (a file, a folder with other things in it) is refused before anything is touched.
        """
        path = self.path
        if path.exists() and not path.is_dir():
            raise NotAnIndexDirectory(f"{path} is a file, not an index directory; choose another --index")
        if path.is_dir() and not (path / MARKER).is_file():
            entries = [p.name for p in path.iterdir()]
            if entries and not self._is_legacy():
                raise NotAnIndexDirectory(
                    f"{path} is not an aihub-qa index and is not empty ({len(entries)} entries, e.g. "
                    f"'{sorted(entries)[0]}'); nothing was changed; choose a new or empty directory for --index"
                )
        path.mkdir(parents=True, exist_ok=True)
        marker = path / MARKER
        if not marker.is_file():
            _write_atomically(marker, json.dumps({"layout": LAYOUT, "created_by": "aihub-qa"}) + "\n")
        (path / VERSIONS).mkdir(exist_ok=True)
        (path / STAGING).mkdir(exist_ok=True)

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the build lock (non-blocking): a second build of the same directory fails at once."""
        fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
                holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "another process"
                raise IndexLocked(
                    f"another build is writing the index at {self.path} (pid {holder}); wait for it to finish"
                ) from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def new_version(self) -> Path:
        name = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"-{os.getpid()}-{secrets.token_hex(3)}"
        version = self.path / VERSIONS / name
        version.mkdir()
        return version

    def staging(self) -> Path:
        return self.path / STAGING

    def publish(self, version: Path) -> None:
        """Point `current` at `version` in one atomic step, then remove what nothing points to."""
        _fsync_tree(version)
        tmp = self.path / f".{CURRENT}.{os.getpid()}.{secrets.token_hex(3)}"
        os.symlink(os.path.relpath(version, self.path), tmp)
        os.replace(tmp, self.path / CURRENT)
        _fsync_dir(self.path)
        self.remove_unused()

    def remove_unused(self) -> None:
        """Versions `current` does not point at (old ones, or those of builds that crashed), stray
        temporary links, and the files of a first-format index once a new version is live. Call it
        with the lock held."""
        live = os.readlink(self.path / CURRENT) if self.has_index() else None
        versions = self.path / VERSIONS
        if versions.is_dir():
            for entry in versions.iterdir():
                if live is None or entry.resolve() != (self.path / live).resolve():
                    shutil.rmtree(entry, ignore_errors=True)
        for entry in self.path.glob(f".{CURRENT}.*"):
            entry.unlink(missing_ok=True)
        if live is not None and self._is_legacy():
            for name in _LEGACY_FILES:
                target = self.path / name
                if target.is_dir():
                    shutil.rmtree(target, ignore_errors=True)
                else:
                    target.unlink(missing_ok=True)

    def _is_legacy(self) -> bool:
        manifest = self.path / MANIFEST
        if not manifest.is_file():
            return False
        try:
            return json.loads(manifest.read_text(encoding="utf-8")).get("format_version") == 1
        except (OSError, ValueError, AttributeError):
            return False


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    """Flush a freshly written version to disk before it becomes live (a power cut must not leave
    `current` pointing at files whose blocks never reached the disk)."""
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(dirpath))
