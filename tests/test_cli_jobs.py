"""booth retry / reprocess against a real journal and real folders, as an operator
runs them beside the daemon (here with no daemon running: the end state is the
journal and the files)."""

from __future__ import annotations

import hashlib
import os

import pytest
import yaml

from daemon.cli import main
from daemon.journal import Journal
from tests.daemon_helpers import photo_bytes


@pytest.fixture
def site(tmp_path):
    real = tmp_path / "real-inbox"
    real.mkdir()
    (tmp_path / "inbox").symlink_to(real)  # the watched folder is a link, as mounts often are
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({
        "watch": {"paths": ["inbox"]}, "state_dir": "state", "quarantine_dir": "quarantine"}))
    return tmp_path


def booth(site, *args) -> int:
    return main([*args, "--config", str(site / "config.yaml")])


def journal(site) -> Journal:
    return Journal(site / "state" / "journal.sqlite3")


def test_retry_refuses_to_overwrite_a_newer_file_at_the_original_path(site, capsys):
    original = site / "inbox" / "a.jpg"
    kept = site / "quarantine" / "a.jpg"
    kept.parent.mkdir()
    old = photo_bytes(seed=1)
    kept.write_bytes(old)
    j = journal(site)
    job, _ = j.add(hashlib.sha256(old).hexdigest(), original, root=site / "inbox", rel="a.jpg")
    j.set_state(job.id, "quarantined", error="NotAnImage: x", quarantined_to=str(kept))
    j.close()
    original.write_bytes(photo_bytes(seed=2))  # a reshoot saved since

    assert booth(site, "retry", "--quarantined") == 1
    assert "another file is now at" in capsys.readouterr().err
    j = journal(site)
    assert j.get(job.id).state == "quarantined"  # nothing changed
    j.close()
    assert kept.read_bytes() == old and original.read_bytes() == photo_bytes(seed=2)

    original.unlink()
    assert booth(site, "retry", "--quarantined") == 0
    assert original.read_bytes() == old and not kept.exists()
    j = journal(site)
    assert j.get(job.id).state == "waiting"
    j.close()


def test_reprocess_a_folder_takes_photos_only_and_finds_jobs_through_a_link(site, capsys):
    inbox = site / "inbox"
    data = photo_bytes(seed=3)
    (inbox / "p").mkdir()
    (inbox / "p" / "a.jpg").write_bytes(data)
    for junk in (".a.jpg.part", "Thumbs.db", "a.jpg.xmp", "notes.txt"):
        (inbox / "p" / junk).write_bytes(b"x")
    j = journal(site)
    job, _ = j.add(hashlib.sha256(data).hexdigest(), inbox / "p" / "a.jpg", root=inbox, rel="p/a.jpg")
    j.set_state(job.id, "done", output=str(site / "out.jpg"))
    j.close()

    # Named through the link's target, the file is still the daemon's inbox/p/a.jpg.
    assert booth(site, "reprocess", str(site / "real-inbox" / "p")) == 0
    j = journal(site)
    jobs = j.jobs()
    j.close()
    assert [(x.id, x.path, x.state) for x in jobs] == [(job.id, str(inbox / "p" / "a.jpg"), "waiting")]
    assert f"job {job.id} queued" in capsys.readouterr().out


def test_reprocess_does_not_requeue_a_job_in_flight(site, capsys):
    path = site / "inbox" / "b.jpg"
    path.write_bytes(photo_bytes(seed=4))
    j = journal(site)
    job, _ = j.add(hashlib.sha256(path.read_bytes()).hexdigest(), path, root=site / "inbox", rel="b.jpg")
    assert j.claim(job.id)
    j.close()
    assert booth(site, "reprocess", os.path.relpath(path)) == 1
    assert "being worked on right now" in capsys.readouterr().err
    j = journal(site)
    assert j.get(job.id).state == "processing"
    j.close()
