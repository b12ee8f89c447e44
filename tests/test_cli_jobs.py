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


def test_json_piped_into_head_ends_quietly(site):
    import subprocess
    import sys

    j = journal(site)
    for i in range(1500):  # more than a pipe holds
        j.add(f"{i:064x}", site / "inbox" / f"p{i}.jpg", category="default", product_key=f"p{i}")
    j.close()
    shell = (f"{sys.executable} -m daemon.cli jobs --json --limit 2000 --config {site / 'config.yaml'} | head -c 100")
    done = subprocess.run(shell, shell=True, capture_output=True, text=True, timeout=60,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert done.stdout.startswith("[") and done.stderr == ""


def test_jobs_says_no_jobs_and_filters_by_path_and_product(site, capsys):
    j = journal(site)
    a, _ = j.add("a" * 64, site / "inbox" / "Canon r5 #816" / "front.jpg", product_key="Canon r5 #816")
    j.add("b" * 64, site / "inbox" / "Sony #2" / "front.jpg", product_key="Sony #2")
    j.close()
    assert booth(site, "jobs", "--state", "rejected") == 0
    assert capsys.readouterr().out.strip() == "no jobs with state rejected"
    assert booth(site, "jobs", "--product", "canon") == 0
    out = capsys.readouterr().out
    assert "Canon r5 #816" in out and "Sony" not in out
    assert booth(site, "jobs", "--path", "Sony #2/") == 0
    assert "Sony #2" in capsys.readouterr().out
    assert booth(site, "job", str(a.id)) == 0
    story = capsys.readouterr().out
    assert f"job {a.id}: waiting" in story and "history:" in story and "seen" in story


def test_retry_does_not_requeue_a_done_job(site, capsys):
    j = journal(site)
    job, _ = j.add("c" * 64, site / "inbox" / "c.jpg")
    j.set_state(job.id, "done", output=str(site / "out.jpg"))
    j.close()
    assert booth(site, "retry", str(job.id)) == 1
    assert "it is done; to run it again use: booth reprocess" in capsys.readouterr().err
    j = journal(site)
    assert j.get(job.id).state == "done"
    j.close()


def test_restore_puts_back_the_image_a_reprocess_replaced_and_can_be_undone(site, capsys):
    out = site / "outbox" / "p" / "x.jpg"
    out.parent.mkdir(parents=True)
    out.write_bytes(b"second rendering")
    kept = site / "state" / "history" / "1" / "x.jpg"
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"first rendering")
    j = journal(site)
    job, _ = j.add("d" * 64, site / "inbox" / "x.jpg")
    j.set_state(job.id, "processing", note="previous output kept", detail={"kept": str(kept), "output": str(out)})
    j.set_state(job.id, "done", output=str(out))
    j.close()
    assert booth(site, "restore", str(job.id)) == 0
    assert out.read_bytes() == b"first rendering"
    assert booth(site, "restore", str(job.id)) == 0  # the restore kept what it replaced: undo it
    assert out.read_bytes() == b"second rendering"
    assert "restored" in capsys.readouterr().out


def test_jobs_before_the_daemon_ever_ran_says_so_and_how_to_start_it(site, capsys):
    assert booth(site, "jobs") == 1
    err = capsys.readouterr().err
    assert "no journal here yet" in err and "start the daemon" in err and "readable" not in err
    assert not (site / "state").exists()  # a read-only command creates nothing
