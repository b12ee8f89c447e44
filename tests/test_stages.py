"""The bounded staged executor: order of stages, bound, overlap, errors, close."""

import threading
import time

import pytest

from daemon.stages import Stage, StagePipeline


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
    time.sleep(0.3)
    assert pipe.in_flight == 3 and feeder.is_alive()
    gate.set()
    feeder.join(5)
    assert pipe.close(timeout=5)
    assert max(peak) <= 3 and len(done) == 10


def test_throughput_approaches_the_slowest_stage_not_the_sum():
    done, errors, on_done, on_error = collect()
    nap = lambda x: (time.sleep(0.05), x)[1]  # noqa: E731
    pipe = StagePipeline([Stage("a", nap), Stage("b", nap), Stage("c", nap)], 6, on_done, on_error)
    start = time.monotonic()
    for i in range(20):
        pipe.submit(i)
    assert pipe.close(timeout=10)
    elapsed = time.monotonic() - start
    assert len(done) == 20
    assert elapsed < 20 * 0.05 * 3 * 0.6  # sequential would take 3 s; overlapped ~1.1 s


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
