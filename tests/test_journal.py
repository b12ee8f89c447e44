"""The journal: keyed by bytes + path, durable states, recovery, remote ids."""

import multiprocessing
import os
import signal
import sqlite3

import pytest

from daemon.journal import DONE, NEEDS_REVIEW, PROCESSING, PUBLISHING, QUARANTINED, REJECTED, RETRYING, WAITING, Journal


@pytest.fixture
def journal(tmp_path):
    j = Journal(tmp_path / "journal.sqlite")
    yield j
    j.close()


def test_the_same_bytes_at_the_same_path_are_one_job(journal):
    a, created_a = journal.add("aa", "/in/x.jpg", size=3, mtime_ns=1)
    b, created_b = journal.add("aa", "/in/x.jpg", size=3, mtime_ns=2)
    assert created_a and not created_b and a.id == b.id
    assert journal.get(a.id).mtime_ns == 2  # a touched copy is remembered, not redone


def test_changed_bytes_at_the_same_path_are_a_new_version(journal):
    a, _ = journal.add("aa", "/in/x.jpg")
    b, created = journal.add("bb", "/in/x.jpg")
    assert created and b.id != a.id and journal.latest("/in/x.jpg").id == b.id


def test_it_is_in_wal_mode_with_full_sync(journal):
    db = sqlite3.connect(journal.path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_states_counts_and_timings(journal):
    job, _ = journal.add("aa", "/in/x.jpg", category="default", product_key="p")
    assert journal.claim(job.id) and not journal.claim(job.id)
    journal.set_state(job.id, DONE, timings={"load": 1.5}, output="/out/x.jpg")
    got = journal.get(job.id)
    assert (got.state, got.timings, got.output) == (DONE, {"load": 1.5}, "/out/x.jpg")
    assert got.finished_at is not None
    assert journal.counts()[DONE] == 1 and journal.counts()[WAITING] == 0
    with pytest.raises(ValueError):
        journal.set_state(job.id, "nonsense")


def test_due_includes_waiting_and_retrying_whose_time_has_come(journal):
    a, _ = journal.add("a", "/a")
    b, _ = journal.add("b", "/b")
    c, _ = journal.add("c", "/c")
    journal.set_state(b.id, RETRYING, error="disk full", next_attempt_at=100.0)
    journal.set_state(c.id, RETRYING, error="disk full", next_attempt_at=10_000.0)
    assert [j.id for j in journal.due(now=200.0)] == [a.id, b.id]
    assert journal.next_retry_at() == 100.0


def test_recover_puts_in_flight_jobs_back_at_their_checkpoint(journal):
    a, _ = journal.add("a", "/a")
    b, _ = journal.add("b", "/b")
    journal.set_state(a.id, PROCESSING)
    journal.set_state(b.id, PUBLISHING, stage="publish", output="/out/b.jpg")
    assert journal.recover() == 2
    assert journal.get(a.id).state == WAITING and journal.get(a.id).stage == "load"
    assert journal.get(b.id).state == WAITING and journal.get(b.id).stage == "publish"


def test_requeue_only_the_publish_step(journal):
    job, _ = journal.add("a", "/a")
    journal.set_state(job.id, "needs_review", error="no product matched", attempts=3)
    journal.set_remote(job.id, {"product_id": "gid://shopify/Product/1"})
    assert journal.requeue(job.id, stage="publish")
    got = journal.get(job.id)
    assert (got.state, got.stage, got.attempts, got.error) == (WAITING, "publish", 0, None)
    assert got.remote == {"product_id": "gid://shopify/Product/1"}


def test_publish_progress_survives_a_reopen(tmp_path):
    j = Journal(tmp_path / "j.sqlite")
    job, _ = j.add("a", "/a")
    assert j.remote(job.id) == {}
    j.set_remote(job.id, {"media_id": "m1", "staged": "s1"})
    j.close()
    again = Journal(tmp_path / "j.sqlite")
    assert again.remote(job.id) == {"media_id": "m1", "staged": "s1"} and again.get(job.id).remote["staged"] == "s1"
    again.close()


def _put_then_die(path, job_id):
    j = Journal(path)
    j.set_remote(job_id, {"product_id": "p42"})
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_put_is_durable_even_if_the_process_is_killed_right_after(tmp_path):
    j = Journal(tmp_path / "j.sqlite")
    job, _ = j.add("a", "/a")
    proc = multiprocessing.get_context("spawn").Process(target=_put_then_die, args=(j.path, job.id))
    proc.start()
    proc.join(30)
    assert proc.exitcode == -signal.SIGKILL
    assert j.remote(job.id)["product_id"] == "p42"
    j.close()


def test_queries_for_status(journal):
    a, _ = journal.add("a", "/a", size=1, mtime_ns=5)
    b, _ = journal.add("b", "/b")
    journal.set_state(a.id, DONE)
    journal.set_state(b.id, QUARANTINED, error="truncated")
    assert journal.done_since(0) == 1
    assert [j.id for j in journal.last_failures()] == [b.id]
    assert journal.known_files()["/a"] == (1, 5)
    assert journal.oldest_waiting() is None


def test_a_duplicate_never_owns_the_output_it_points_at(journal):
    a, _ = journal.add("same", "/in/one/x.jpg")
    journal.set_state(a.id, DONE, output="/out/p/x.jpg")
    dup, _ = journal.add("same", "/in/copy/x.jpg")
    journal.set_state(dup.id, DONE, output="/out/p/x.jpg", duplicate_of=a.id)
    assert journal.output_owner("/out/p/x.jpg", other_than="/in/one/x.jpg") is None
    assert journal.output_owner("/out/p/x.jpg", other_than="/in/copy/x.jpg").id == a.id


def test_twin_finds_the_same_bytes_bound_for_the_same_place(journal):
    a, _ = journal.add("same", "/in/one/x.jpg", category="c", product_key="p", view="Front", index=1)
    b, _ = journal.add("same", "/in/two/x.jpg", category="c", product_key="p", view="Front", index=1)
    assert journal.twin("same", "c", "p", "Front", 1, other_than="/in/two/x.jpg").id == a.id
    assert journal.twin("same", "c", "p", "Back", 1, other_than="/in/two/x.jpg") is None
    assert journal.twin("same", "c", "p", "Front", 1, other_than="/in/one/x.jpg").id == b.id


def test_a_job_in_flight_is_not_requeued_under_the_worker(tmp_path):
    journal = Journal(tmp_path / "j.sqlite3")
    job, _ = journal.add("ab" * 32, tmp_path / "a.jpg")
    assert journal.claim(job.id)
    assert not journal.requeue(job.id)  # the worker's DONE would overwrite it
    journal.set_state(job.id, "done", output=str(tmp_path / "out.jpg"))
    assert journal.requeue(job.id) and journal.get(job.id).state == "waiting"
    journal.close()


def test_forget_drops_only_versions_that_left_nothing_behind(tmp_path):
    journal = Journal(tmp_path / "j.sqlite3")
    plain, _ = journal.add("aa" * 32, tmp_path / "a.jpg")
    with_output, _ = journal.add("bb" * 32, tmp_path / "b.jpg")
    journal.set_state(with_output.id, "waiting", output=str(tmp_path / "b-out.jpg"))
    quarantined, _ = journal.add("cc" * 32, tmp_path / "c.jpg")
    journal.set_state(quarantined.id, "waiting", quarantined_to=str(tmp_path / "q" / "c.jpg"))
    published, _ = journal.add("dd" * 32, tmp_path / "d.jpg")
    journal.set_remote(published.id, {"file_id": "gid://shopify/MediaImage/1"})
    assert journal.forget(plain.id) and journal.get(plain.id) is None
    for job in (with_output, quarantined, published):
        assert not journal.forget(job.id) and journal.get(job.id) is not None
    journal.close()


def test_every_state_change_is_in_the_history_with_who_and_why(journal):
    job, _ = journal.add("a", "/in/a.jpg")
    assert journal.claim(job.id)
    journal.set_state(job.id, NEEDS_REVIEW, error="white on white?", review_kind="cutout")
    assert journal.requeue(job.id, "publish", only_from=[NEEDS_REVIEW], actor="ana", note="approved", approved=1)
    steps = [(e.state, e.actor, e.note) for e in journal.history(job.id)]
    assert steps == [("waiting", None, "seen"), ("processing", None, None), ("needs_review", None, None),
                     ("waiting", "ana", "approved")]
    assert journal.get(job.id).approved


def test_a_decision_taken_twice_takes_once(journal):
    job, _ = journal.add("a", "/in/a.jpg")
    journal.set_state(job.id, NEEDS_REVIEW, error="doubtful", review_kind="cutout")
    assert journal.transition(job.id, REJECTED, only_from=[NEEDS_REVIEW], error="rejected: cut", actor="ana")
    assert not journal.transition(job.id, REJECTED, only_from=[NEEDS_REVIEW], error="again", actor="bo")
    assert not journal.requeue(job.id, "publish", only_from=[NEEDS_REVIEW])
    assert journal.get(job.id).error == "rejected: cut"


def test_a_name_that_is_not_utf8_is_kept_with_its_bytes(journal, tmp_path):
    raw = os.fsdecode(b"/in/caf\xe9.jpg")
    job, created = journal.add("aa", raw, rel=os.fsdecode(b"caf\xe9.jpg"))
    assert created and job.path == "/in/caf\\xe9.jpg" and str(job.file) == raw
    assert journal.find("aa", raw).id == job.id and journal.latest(raw).id == job.id
    assert journal.known_files()["/in/caf\\xe9.jpg"] == (None, None)


def test_notices_are_news_once_per_file_and_reason(journal):
    assert journal.notice("/in/a.cr2", root="/in", kind="format", reason="RAW", fix="export JPEG")
    assert not journal.notice("/in/a.cr2", root="/in", kind="format", reason="RAW", fix="export JPEG")
    assert journal.notice("/in/a.cr2", root="/in", kind="unreadable", reason="denied", fix="chmod")
    assert [n.reason for n in journal.notices()] == ["denied"]
    assert journal.prune_notices("/in", seen_since=0) == 0
    assert journal.prune_notices("/in", seen_since=10 ** 12) == 1 and journal.notices() == []


def test_an_old_journal_is_migrated_in_place(tmp_path):
    import sqlite3
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript("""CREATE TABLE jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, sha256 TEXT NOT NULL,
        path TEXT NOT NULL, root TEXT NOT NULL DEFAULT '', rel TEXT NOT NULL DEFAULT '', size INTEGER,
        mtime_ns INTEGER, state TEXT NOT NULL DEFAULT 'waiting', stage TEXT NOT NULL DEFAULT 'load',
        attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at REAL NOT NULL DEFAULT 0, created_at REAL NOT NULL,
        updated_at REAL NOT NULL, finished_at REAL, timings TEXT NOT NULL DEFAULT '{}', error TEXT,
        error_type TEXT, category TEXT, product_key TEXT, view TEXT, idx INTEGER,
        fields TEXT NOT NULL DEFAULT '{}', output TEXT, quarantined_to TEXT, duplicate_of INTEGER,
        remote TEXT NOT NULL DEFAULT '{}', UNIQUE (sha256, path));
        INSERT INTO jobs (sha256, path, state, created_at, updated_at, error) VALUES
            ('a', '/in/a.jpg', 'failed', 1, 1, 'disk full'), ('b', '/in/b.jpg', 'needs_review', 1, 1, 'no product');""")
    db.commit()
    db.close()
    journal = Journal(path)
    a, b = journal.jobs()
    assert (a.state, a.error) == (RETRYING, "disk full") and (b.state, b.review_kind) == (NEEDS_REVIEW, "product")
    journal.close()


def test_a_read_only_journal_reads_and_says_when_there_is_none(tmp_path):
    from daemon.journal import JournalError
    with pytest.raises(JournalError, match="no journal here yet"):
        Journal(tmp_path / "missing.sqlite3", readonly=True)
    writer = Journal(tmp_path / "j.sqlite3")
    writer.add("a", "/a")
    reader = Journal(tmp_path / "j.sqlite3", readonly=True)
    assert reader.total() == 1
    with pytest.raises(JournalError):
        reader.add("b", "/b")
    reader.close()
    writer.close()


def test_no_secret_reaches_the_journal(journal):
    from daemon.logging import register_secret
    register_secret("shpat_0123456789abcdef0123456789abcdef")
    job, _ = journal.add("a", "/a")
    journal.set_state(job.id, RETRYING, error="HTTP 400: X-Shopify-Access-Token: shpat_0123456789abcdef0123456789abcdef")
    assert "shpat_" not in journal.get(job.id).error and "[REDACTED]" in journal.get(job.id).error
