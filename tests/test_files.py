"""File handling on hostile ground: long and non-UTF-8 names, the umask, moves
that cannot finish, roots named through links, process liveness."""

from __future__ import annotations

import errno
import os
import shutil
import stat
from pathlib import Path

import pytest

from daemon import files


def test_a_temp_name_for_a_255_byte_name_still_fits(tmp_path):
    name = "é" * 125 + ".jpg"  # 254 bytes in UTF-8
    target = tmp_path / name
    assert len(os.fsencode(files.temp_path(target).name)) <= 255
    files.write_atomic(target, b"data")
    assert target.read_bytes() == b"data"
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_companion_files_of_a_long_name_fit(tmp_path):
    photo = tmp_path / ("x" * 250 + ".jpg")
    note = files.beside(photo, ".error.json")
    assert len(os.fsencode(note.name)) <= 255 and note.name.endswith(".jpg.error.json")
    files.write_atomic(note, b"{}")
    assert files.free_path(note).name != note.name and len(os.fsencode(files.free_path(note).name)) <= 255


def test_fit_name_cuts_on_a_character_boundary_and_keeps_the_extension():
    name = files.fit_name("ü" * 200 + ".jpeg")
    assert name.endswith(".jpeg") and len(os.fsencode(name)) <= 255
    name.encode("utf-8")  # still valid UTF-8


def test_a_name_that_is_not_utf8_has_a_display_form():
    raw = os.fsdecode(b"caf\xe9.jpg")  # Latin-1 from an old share
    assert not files.is_plain_text(raw)
    assert files.display(raw) == "caf\\xe9.jpg"
    files.display(raw).encode("utf-8")


def test_written_files_follow_the_process_umask(tmp_path):
    old = os.umask(0o027)
    try:
        path = files.write_atomic(tmp_path / "out.jpg", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_a_move_across_filesystems_that_cannot_finish_leaves_no_partial_copy(tmp_path, monkeypatch):
    src = tmp_path / "in" / "a.jpg"
    src.parent.mkdir()
    src.write_bytes(b"a" * 100_000)
    dest = tmp_path / "quarantine" / "a.jpg"

    def other_filesystem(a, b):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    def full_disk(f_in, f_out, length=0):
        f_out.write(f_in.read(10_000))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "rename", other_filesystem)
    monkeypatch.setattr(shutil, "copyfileobj", full_disk)
    with pytest.raises(OSError):
        files.move(src, dest)
    assert src.read_bytes() == b"a" * 100_000
    assert [p for p in dest.parent.iterdir()] == []  # no partial copy, no temp file


def test_a_move_whose_original_cannot_be_removed_takes_its_copy_back(tmp_path, monkeypatch):
    src = tmp_path / "in" / "a.jpg"
    src.parent.mkdir()
    src.write_bytes(b"photo")
    dest = tmp_path / "quarantine" / "a.jpg"
    real_rename = os.rename

    def only_same_folder(a, b):
        if Path(a).parent != Path(b).parent:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real_rename(a, b)

    real_unlink = os.unlink

    def read_only_folder(path, *a, **kw):
        if Path(path) == src:  # the original's folder is read-only
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_unlink(path, *a, **kw)

    monkeypatch.setattr(os, "rename", only_same_folder)
    monkeypatch.setattr(os, "unlink", read_only_folder)
    with pytest.raises(PermissionError):
        files.move(src, dest)
    monkeypatch.undo()
    assert src.read_bytes() == b"photo" and not dest.exists()


def test_locate_takes_the_deepest_root_and_follows_links(tmp_path):
    outer, inner = tmp_path / "in", tmp_path / "in" / "Lenses"
    inner.mkdir(parents=True)
    link = tmp_path / "share"
    link.symlink_to(outer)
    found = files.locate(inner / "a" / "x.jpg", [outer, inner])
    assert (found.root, found.rel) == (inner, "a/x.jpg")
    through_link = files.locate(link / "b.jpg", [outer])
    assert (through_link.root, through_link.rel, through_link.path) == (outer, "b.jpg", outer / "b.jpg")
    assert files.locate(tmp_path / "elsewhere.jpg", [outer]) is None


def test_a_process_of_another_user_counts_as_alive():
    assert files.pid_alive(1)  # init: EPERM for non-root, alive either way
    assert files.pid_alive(os.getpid())
    assert not files.pid_alive(2 ** 22 + 12345) and not files.pid_alive(None) and not files.pid_alive("x")


def test_temp_files_of_dead_writers_are_swept(tmp_path):
    dead = tmp_path / ".a.jpg.999999999.1.tmp"
    dead.write_bytes(b"x")
    hashed = tmp_path / f".booth-{'0' * 16}.999999999.2.tmp"
    hashed.write_bytes(b"x")
    keep = tmp_path / ".notes.tmp"
    keep.write_bytes(b"x")
    assert files.sweep_temp_files(tmp_path) == 2 and keep.exists()


def test_write_atomic_leaves_no_temp_files(tmp_path):
    path = files.write_atomic(tmp_path / "a" / "b.jpg", b"data")
    assert path.read_bytes() == b"data" and [p.name for p in path.parent.iterdir()] == ["b.jpg"]
