"""The mount table, read once per question from ``/proc/self/mountinfo``:
which filesystem holds a path, and whether it is a network share (where
inotify only sees changes made by this machine, so folders are polled)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

MOUNTINFO = Path("/proc/self/mountinfo")
NETWORK_FILESYSTEMS = frozenset({
    "cifs", "smb3", "smbfs", "nfs", "nfs4", "ceph", "glusterfs", "fuse.glusterfs", "9p", "afs", "fuse.sshfs",
    "fuse.rclone", "davfs", "fuse.davfs2", "fuse.s3fs", "lustre", "gpfs", "ocfs2"})


@dataclass(frozen=True)
class Mount:
    mount_point: Path
    fstype: str
    source: str

    @property
    def network(self) -> bool:
        return self.fstype in NETWORK_FILESYSTEMS


def parse_mountinfo(text: str) -> list[Mount]:
    """``/proc/self/mountinfo`` -> mounts, in table order. Fields (proc(5)):
    id parent major:minor root mount-point options [optional...] - fstype source super-options."""
    mounts = []
    for line in text.splitlines():
        head, sep, tail = line.partition(" - ")
        fields, rest = head.split(), tail.split()
        if not sep or len(fields) < 5 or not rest:
            continue
        mounts.append(Mount(Path(_unescape(fields[4])), rest[0], _unescape(rest[1]) if len(rest) > 1 else ""))
    return mounts


def _unescape(field: str) -> str:
    # The kernel writes space, tab, newline and backslash as octal escapes (\040 ...).
    return field.encode("latin-1").decode("unicode_escape") if "\\" in field else field


def read_mounts() -> list[Mount]:
    try:
        return parse_mountinfo(MOUNTINFO.read_text())
    except OSError:
        return []


def mount_of(path: Path, mounts: Iterable[Mount] | None = None) -> Mount | None:
    """The mount ``path`` lives on: the longest matching mount point (the last
    one wins when a point is mounted over, as the kernel does)."""
    path = Path(path)
    try:
        path = path.resolve()
    except (OSError, RuntimeError):
        pass
    best: Mount | None = None
    for mount in read_mounts() if mounts is None else mounts:
        if path == mount.mount_point or mount.mount_point in path.parents:
            if best is None or len(mount.mount_point.parts) >= len(best.mount_point.parts):
                best = mount
    return best


def network_fs(path: Path, mounts: Iterable[Mount] | None = None) -> str | None:
    """The network filesystem type under ``path`` (cifs, nfs4, ...), or None when it is local."""
    mount = mount_of(path, mounts)
    return mount.fstype if mount is not None and mount.network else None
