"""The service in-process: READY and health, and intake that does not depend on events."""

from __future__ import annotations

import time

from daemon import events as ev
from daemon import service as service_module
from daemon.config import parse_config
from daemon.watch import Watcher
from daemon.service import Service
from tests.daemon_helpers import photo_bytes, wait_for, write


class DeafWatcher(Watcher):
    """A watcher whose events are all lost (as on inotify queue overflow)."""

    def _schedule(self, root):
        root.watch, root.observer = None, "deaf"

    def _emitter_alive(self, root):
        return True


def make_config(tmp_path, **watch):
    return parse_config({"watch": {"paths": ["inbox"], "settle_seconds": 0.2, **watch}, "review": {"enabled": False},
                         "categories": {"default": {"compose": {"width": 128, "height": 128},
                                                    "review": {"mode": "never"}}}}, base=tmp_path)


def test_ready_comes_after_start_and_health_reports_the_parts(tmp_path):
    service = Service(make_config(tmp_path))
    ready = []
    service.events.subscribe(ev.READY, lambda **f: ready.append(f))
    service.start()
    try:
        assert ready and ready[0]["watched"] == [str(tmp_path / "inbox")]
        health = service.health()
        assert health.observer_alive and health.workers_alive and health.idle and health.queue_depth == 0
        write(tmp_path / "inbox" / "a.jpg", photo_bytes(seed=1))
        wait_for(lambda: service.health().last_done, 20, "a finished job")
        assert service.health().last_done.endswith("a.jpg")
    finally:
        assert service.stop()
    assert not service.health().workers_alive


def test_a_file_whose_events_were_lost_is_found_by_the_periodic_rescan(tmp_path, monkeypatch):
    monkeypatch.setattr(service_module, "Watcher", DeafWatcher)
    service = Service(make_config(tmp_path, rescan_seconds=0.5))
    service.start()
    try:
        time.sleep(0.3)
        write(tmp_path / "inbox" / "sub" / "missed.jpg", photo_bytes(seed=2))
        wait_for(lambda: service.journal.counts()["done"] == 1, 20, "the missed file processed")
    finally:
        service.stop()


def test_a_second_service_on_the_same_state_dir_refuses_to_start(tmp_path):
    import pytest

    from daemon.service import AlreadyRunning

    first = Service(make_config(tmp_path))
    first.start()
    try:
        with pytest.raises(AlreadyRunning):
            Service(make_config(tmp_path)).start()
    finally:
        first.stop()
    again = Service(make_config(tmp_path))
    again.start()
    again.stop()


def test_a_reload_names_the_settings_that_wait_for_a_restart(tmp_path):
    old = make_config(tmp_path)
    new = parse_config({"watch": {"paths": ["inbox"], "settle_seconds": 0.2},
                        "workers": {"max_in_memory": 12, "max_attempts": 9},
                        "metrics": {"enabled": True}, "review": {"enabled": False},
                        "categories": {"default": {"compose": {"width": 256, "height": 256}}}}, base=tmp_path)
    # max_attempts and the category apply to the next job; the memory bound and the
    # metrics endpoint are set up at start.
    assert service_module.restart_only_changes(old, new) == ["workers.max_in_memory", "metrics"]
    assert service_module.restart_only_changes(old, old) == []
