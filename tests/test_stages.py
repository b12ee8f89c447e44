"""The bounded staged executor: order of stages, bound, overlap, errors, close."""

import threading

import pytest

from daemon.stages import Stage, StagePipeline
from tests.daemon_helpers import wait_for


def collect():
    done, errors = {}, []
    lock = threading.Lock()

    def on_done(item, result):
        with lock:
            done[item] = result

    def on_error(item, stage, exc):
        with lock:
            errors.append((item, stage, type(exc).__name__))

    return done, errors, on_done, on_error


def test_items_pass_through_every_stage_in_order():
    done, errors, on_done, on_error = collect()
    pipe = StagePipeline([Stage("a", lambda x: x + 1), Stage("b", lambda x: x * 10, workers=3)],
                         capacity=4, on_done=on_done, on_error=on_error)
    for i in range(20):
        pipe.submit(i)
    assert pipe.close(timeout=5)
    assert done == {i: (i + 1) * 10 for i in range(20)}
    assert errors == []


def test_an_error_reports_the_item_and_stage_and_the_pipeline_keeps_running():
    done, errors, on_done, on_error = collect()

    def picky(x):
        if x == 3:
            raise ValueError("three")
        return x

    pipe = StagePipeline([Stage("load", lambda x: x), Stage("segment", picky)], 2, on_done, on_error)
    for i in range(6):
        pipe.submit(i)
    assert pipe.close(timeout=5)
    assert errors == [(3, "segment", "ValueError")]
    assert sorted(done) == [0, 1, 2, 4, 5]


def test_submit_blocks_while_capacity_items_are_in_flight():
    gate = threading.Event()
    peak = []
    done, errors, on_done, on_error = collect()
    pipe = StagePipeline([Stage("slow", lambda x: gate.wait(5) and x, workers=8)], 3, on_done, on_error)

    def feed():
        for i in range(10):
            pipe.submit(i)
            peak.append(pipe.in_flight)

    feeder = threading.Thread(target=feed)
    feeder.start()
    wait_for(lambda: pipe.in_flight == 3, 5)
    # Nothing can leave the stage while the gate is shut, so a fourth submit cannot return.
    assert not pipe.wait_idle(timeout=0.05) and len(peak) == 3 and feeder.is_alive()
    gate.set()
    feeder.join(5)
    assert pipe.close(timeout=5)
    assert max(peak) <= 3 and len(done) == 10


def test_stages_overlap_one_item_is_in_a_later_stage_while_the_next_is_in_an_earlier_one():
    # Item 0 waits in stage b until item 1 has entered stage a: only overlapping
    # stages can get there (a sequential run would stop at the first wait).
    done, errors, on_done, on_error = collect()
    second_in_a = threading.Event()

    def a(x):
        if x == 1:
            second_in_a.set()
        return x

    def b(x):
        if x == 0:
            assert second_in_a.wait(5), "stage a never saw item 1 while item 0 was in stage b"
        return x

    pipe = StagePipeline([Stage("a", a), Stage("b", b)], 4, on_done, on_error)
    pipe.submit(0)
    pipe.submit(1)
    assert pipe.close(timeout=10)
    assert sorted(done) == [0, 1] and errors == []


def test_close_reports_false_when_items_do_not_drain_in_time():
    gate = threading.Event()
    done, errors, on_done, on_error = collect()
    pipe = StagePipeline([Stage("stuck", lambda x: gate.wait(5))], 2, on_done, on_error)
    pipe.submit(1)
    assert pipe.close(timeout=0.2) is False
    gate.set()
    with pytest.raises(RuntimeError):
        pipe.submit(2)


def test_a_raising_callback_does_not_kill_the_worker():
    done = []

    def on_done(item, result):
        if item == 0:
            raise RuntimeError("callback bug")
        done.append(item)

    pipe = StagePipeline([Stage("a", lambda x: x)], 1, on_done, lambda *a: None)
    for i in range(3):
        pipe.submit(i)
    assert pipe.close(timeout=5)
    assert done == [1, 2]
