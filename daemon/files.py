"""File handling the daemon and the commands share: atomic writes, safe moves,
names that fit, hashing, watched roots, process liveness.

Everything here works on real folders that may be hostile: names that are not
UTF-8, names near the 255-byte limit, read-only folders, full disks, another
filesystem on the far side of a move. A failure is an ``OSError`` with the
path in it; nothing is ever left half-written or half-moved.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

NAME_MAX = 255  # bytes in one path component (ext4, xfs, btrfs, smb)

_UNSAFE = re.compile(r'[\x00-\x1f/\\:*?"<>|]+')


# ----------------------------------------------------------------------- names

def display(path: str | os.PathLike) -> str:
    """``path`` as text for the journal, logs and screens. A name that is not
    UTF-8 (Linux names are bytes) shows its odd bytes as ``\\xNN``."""
    raw = os.fsencode(path)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("utf-8", "backslashreplace")


def is_plain_text(path: str | os.PathLike) -> bool:
    """Whether ``path`` is valid UTF-8 (and so is its own display form)."""
    try:
        os.fsencode(path).decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def fit_name(name: str, limit: int = NAME_MAX) -> str:
    """``name`` shortened (before its extension, on a character boundary) so
    that its UTF-8 form fits ``limit`` bytes."""
    if len(os.fsencode(name)) <= limit:
        return name
    dot = name.rfind(".")
    stem, suffix = (name[:dot], name[dot:]) if 0 < dot and len(name) - dot <= 16 and limit > 32 else (name, "")
    room = limit - len(os.fsencode(suffix))
    cut = os.fsencode(stem)[:max(1, room)]
    return cut.decode("utf-8", "ignore").rstrip(" .") + suffix


def safe_name(text: str, limit: int = 120) -> str:
    """A product key or category as one folder name: no separators or characters Windows shares refuse."""
    name = _UNSAFE.sub("_", display(text)).strip(" .")
    return fit_name(name[:limit].rstrip(" ."), NAME_MAX) or "_"


def free_path(path: Path) -> Path:
    """``path``, or ``name-2.ext``, ``name-3.ext``... whichever does not exist yet (every name fits)."""
    candidate, n = path.with_name(fit_name(path.name)), 1
    while candidate.exists() or candidate.is_symlink():
        n += 1
        tail = f"-{n}{path.suffix}"
        candidate = path.with_name(fit_name(path.stem, NAME_MAX - len(os.fsencode(tail))) + tail)
    return candidate


def beside(path: Path, suffix: str) -> Path:
    """A companion file next to ``path`` (``photo.jpg`` -> ``photo.jpg.error.json``), shortened to fit."""
    name = path.name + suffix
    if len(os.fsencode(name)) > NAME_MAX:
        name = fit_name(path.stem, NAME_MAX - len(os.fsencode(path.suffix + suffix))) + path.suffix + suffix
    return path.with_name(name)


# ----------------------------------------------------------------------- writing

_TEMP = re.compile(r"^\.(?:.+|booth-[0-9a-f]{16})\.(\d+)\.\d+\.tmp$")


def temp_path(path: Path) -> Path:
    """Where ``write_atomic`` stages ``path``: hidden, and tagged with the pid so
    a later process can tell a dead writer's leftovers from a live one's. A
    name too long to carry the tags is replaced by its hash."""
    tags = f".{os.getpid()}.{threading.get_ident()}.tmp"
    name = f".{path.name}{tags}"
    if len(os.fsencode(name)) > NAME_MAX:
        name = f".booth-{hashlib.sha1(os.fsencode(path.name)).hexdigest()[:16]}{tags}"
    return path.with_name(name)


def write_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` so that readers see either nothing (or the old file) or
    the whole new file: a temp file in the same folder, fsync, rename, fsync
    the folder. The file gets the process umask's permissions (systemd's
    ``UMask=`` is honoured), like any file the process creates."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return path


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable; best effort (some filesystems refuse)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def sweep_temp_files(folder: Path) -> int:
    """Remove half-written temp files that a killed process of ours left behind."""
    removed = 0
    for path in Path(folder).rglob(".*.tmp") if Path(folder).is_dir() else ():
        m = _TEMP.match(path.name)
        if m and dead_writer(int(m.group(1))):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def move(src: Path, dest: Path) -> Path:
    """Move ``src`` to a free name at ``dest``; returns where it went.

    All or nothing: on one filesystem a rename; across filesystems a copy to a
    hidden temp name, fsync, rename into place, then the original is removed.
    When the original cannot be removed (a read-only folder) or the copy
    cannot be finished (a full disk), the copy is taken back and the original
    stays where it was: never two copies, never a partial one."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest = free_path(dest)
    try:
        os.rename(src, dest)
        fsync_dir(dest.parent)
        return dest
    except OSError as exc:
        if exc.errno != 18:  # EXDEV: another filesystem
            raise
    tmp = temp_path(dest)
    try:
        with open(src, "rb") as f_in, open(tmp, "xb") as f_out:
            shutil.copyfileobj(f_in, f_out, 1 << 20)
            f_out.flush()
            os.fsync(f_out.fileno())
        shutil.copystat(src, tmp)
        os.rename(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:
        os.unlink(src)
    except OSError:
        dest.unlink(missing_ok=True)
        raise
    fsync_dir(dest.parent)
    return dest


# ----------------------------------------------------------------------- reading

def sha256_file(path: str | Path) -> str:
    """The file's sha256, read in blocks (never whole into memory)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


# ----------------------------------------------------------------------- roots

@dataclass(frozen=True)
class Located:
    root: Path   # the watched folder holding the file, as the config names it
    path: Path   # the file, spelled below that root
    rel: str     # the path below the root, with '/'


def locate(path: Path, roots: Iterable[Path]) -> Located | None:
    """Which watched root holds ``path`` (the deepest, when roots nest), also
    when ``path`` or a root is named through a symlink or ``..``; None when
    no root holds it."""
    ordered = sorted((Path(r) for r in roots), key=lambda r: -len(r.parts))
    for root in ordered:
        if path.is_relative_to(root):
            rel = path.relative_to(root)
            return Located(root, root / rel, rel.as_posix())
    resolved = _resolve(path)
    for root in ordered:
        real_root = _resolve(root)
        if resolved.is_relative_to(real_root):
            rel = resolved.relative_to(real_root)
            return Located(root, root / rel, rel.as_posix())
    return None


def _resolve(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return Path(os.path.abspath(path))


# ----------------------------------------------------------------------- processes

def pid_alive(pid: int | str | None) -> bool:
    """Whether a process with ``pid`` exists. EPERM means it does (it belongs to
    another user, e.g. the service user seen by an operator)."""
    try:
        pid = int(pid)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def dead_writer(pid: int) -> bool:
    """A temp file's writer is gone. Our own pid is a previous life (containers reuse low pids)."""
    return pid == os.getpid() or not pid_alive(pid)


def still_the_same(path: Path, *, size: int | None, mtime_ns: int | None, sha256: str) -> bool:
    """Whether ``path`` still holds these bytes (size and mtime first, the hash
    when they differ). A booth that saves a reshoot under the same name must
    not see the new version archived, deleted or quarantined in place of the old."""
    try:
        st = path.stat()
        if size is not None and mtime_ns is not None and (st.st_size, st.st_mtime_ns) == (size, mtime_ns):
            return True
        return sha256_file(path) == sha256
    except OSError:
        return False
