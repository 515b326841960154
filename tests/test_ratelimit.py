"""TokenBucket: never more than `rate` sends in any `period` window; adapts to the server; shared per key."""
from __future__ import annotations

import random
import threading
import time

import pytest

from katana_woo_sdk import ratelimit
from katana_woo_sdk.ratelimit import TokenBucket, bucket_for_key


class FakeClock:
    def __init__(self, start: float = 500.0, wall: float = 1_700_000_000.0):
        self.now = start
        self.offset = wall - start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.now + self.offset

    def sleep(self, seconds: float) -> None:
        assert seconds > 0, "acquire must never spin with a zero wait"
        self.sleeps.append(seconds)
        self.now += seconds


def bucket(rate=60, period=60.0, clock=None) -> tuple[TokenBucket, FakeClock]:
    clock = clock or FakeClock()
    return TokenBucket(rate, period, clock=clock, sleep=clock.sleep, wall_clock=clock.wall), clock


def max_in_any_window(times: list[float], period: float) -> int:
    """The most sends starting in any half-open window [t, t + period)."""
    times = sorted(times)
    best, j = 0, 0
    for i, start in enumerate(times):
        while times[j] + period <= start:
            j += 1
        best = max(best, i - j + 1)
    return best


def test_burst_then_wait():
    b, clock = bucket(3, 10.0)
    sends = [b.acquire() for _ in range(7)]
    assert sends == [500.0, 500.0, 500.0, 510.0, 510.0, 510.0, 520.0]
    assert max_in_any_window(sends, 10.0) == 3


@pytest.mark.parametrize("seed", range(40))
def test_never_exceeds_budget_in_any_window(seed):
    rng = random.Random(seed)
    rate, period = rng.randint(1, 12), rng.choice([1.0, 5.0, 60.0])
    b, clock = bucket(rate, period)
    sends = []
    for _ in range(rng.randint(20, 200)):
        pattern = rng.random()
        if pattern < 0.4:
            gap = 0.0                                # bursts
        elif pattern < 0.8:
            gap = rng.random() * period / rate       # near the limit
        else:
            gap = rng.random() * period * 2          # idle
        clock.now += gap
        if rng.random() < 0.1:
            # The server saw fewer sends left than we think, or told us to back off: only ever stricter.
            b.observe({"X-Ratelimit-Remaining": str(rng.randint(0, rate)),
                       "X-Ratelimit-Reset": str(int((clock.wall() + rng.random() * period) * 1000))})
        if rng.random() < 0.03:
            b.penalise(rng.random() * period)
        sends.append(b.acquire())
    assert sends == sorted(sends)
    assert max_in_any_window(sends, period) <= rate


def test_threads_share_the_budget():
    # Real clock, tiny period: 8 threads racing must still respect the window.
    b = TokenBucket(5, 0.1)
    sends: list[float] = []
    lock = threading.Lock()

    def worker():
        for _ in range(2):
            t = b.acquire()
            with lock:
                sends.append(t)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(sends) == 16 and max_in_any_window(sends, 0.1) <= 5
    assert time.monotonic() - started < 2.0


def test_try_acquire_and_delay():
    b, clock = bucket(2, 10.0)
    assert b.try_acquire() and b.try_acquire() and not b.try_acquire()
    assert b.delay() == pytest.approx(10.0)
    clock.now += 10
    assert b.delay() == 0 and b.try_acquire()


def test_remaining_lower_than_ours_blocks_until_reset_in_ms():
    b, clock = bucket(60, 60.0)
    b.acquire()
    reset_ms = int((clock.wall() + 20) * 1000)
    b.observe({"X-Ratelimit-Limit": "60", "X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": str(reset_ms)})
    t = b.acquire()
    assert t == pytest.approx(500.0 + 20, abs=0.01)


def test_reset_in_seconds_is_understood():
    b, clock = bucket(60, 60.0)
    b.observe({"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(clock.wall()) + 15)})
    assert b.acquire() == pytest.approx(515.0, abs=1)


def test_remaining_books_other_senders_until_reset():
    b, clock = bucket(10, 60.0)
    # Someone else spent 7 of 10; the window resets in 30 s.
    b.observe({"X-Ratelimit-Remaining": "3", "X-Ratelimit-Reset": str(int((clock.wall() + 30) * 1000))})
    sends = [b.acquire() for _ in range(4)]
    assert sends[:3] == [500.0] * 3
    assert sends[3] == pytest.approx(530.0)


def test_remaining_higher_than_ours_changes_nothing():
    b, clock = bucket(3, 10.0)
    b.acquire()
    b.observe({"X-Ratelimit-Remaining": "50"})
    assert b.acquire() == 500.0 and b.acquire() == 500.0
    assert b.delay() == pytest.approx(10.0)


def test_absurd_reset_never_freezes_longer_than_a_period():
    b, clock = bucket(5, 60.0)
    b.observe({"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": str(int((clock.wall() + 86400) * 1000))})
    assert b.delay() <= 60.0
    b2, clock2 = bucket(5, 60.0)
    b2.observe({"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": "1640995199"})  # the docs' example, long past
    assert b2.delay() == 0


def test_lower_limit_is_adopted_higher_ignored():
    b, clock = bucket(60, 60.0)
    b.observe({"X-Ratelimit-Limit": "30"})
    assert b.rate == 30
    b.observe({"X-Ratelimit-Limit": "100"})
    assert b.rate == 30
    sends = [b.acquire() for _ in range(31)]
    assert max_in_any_window(sends, 60.0) == 30


def test_penalise():
    b, clock = bucket(60, 60.0)
    b.penalise(7.5)
    assert b.acquire() == pytest.approx(507.5)
    b.penalise(None)
    assert b.acquire() == pytest.approx(567.5)


def test_garbage_headers_are_ignored():
    b, clock = bucket(5, 10.0)
    b.observe({"X-Ratelimit-Remaining": "lots", "X-Ratelimit-Limit": "", "X-Ratelimit-Reset": "soon"})
    assert b.rate == 5 and b.delay() == 0


def test_bucket_for_key_is_shared_and_never_holds_the_key():
    ratelimit._clear_registry()
    a = bucket_for_key("secret-key-1")
    assert bucket_for_key("secret-key-1") is a
    assert bucket_for_key("secret-key-2") is not a
    assert all("secret-key" not in k for k in ratelimit._REGISTRY)
    assert "secret" not in repr(a)
    ratelimit._clear_registry()


def test_invalid_arguments():
    with pytest.raises(ValueError):
        TokenBucket(0, 1.0)
    with pytest.raises(ValueError):
        TokenBucket(1, 0)


def test_a_long_wait_is_said_at_info_and_counted_down_when_interactive(capsys, caplog):
    """Minutes of silence at the limit look like a hang: a wait of a window is logged at INFO and,
    where output is interactive, drawn as a countdown in steps of a second (the same total sleep)."""
    b, clock = bucket(2, 10.0)
    b.show_waits = True
    b.acquire(), b.acquire()
    with caplog.at_level("DEBUG", logger="katana_woo_sdk.ratelimit"):
        assert b.acquire() == 510.0
    assert clock.sleeps == [1.0] * 10                      # ten steps of the bar, ten seconds in all
    assert "Katana rate limit" in capsys.readouterr().err
    assert [r.levelname for r in caplog.records] == ["INFO"] and "waiting 10.00s" in caplog.text


def test_the_limits_normal_pace_and_a_quiet_output_draw_nothing(capsys, caplog):
    """A one-second wait (60 a minute) is one plain sleep at DEBUG; not interactive: no bar at all."""
    b, clock = bucket(1, 1.0)
    b.show_waits = True
    b.acquire()
    with caplog.at_level("DEBUG", logger="katana_woo_sdk.ratelimit"):
        b.acquire()
    assert clock.sleeps == [1.0] and [r.levelname for r in caplog.records] == ["DEBUG"]
    quiet, clock2 = bucket(1, 30.0)                        # show_waits None: pytest's stderr is no tty
    quiet.acquire(), quiet.acquire()
    assert clock2.sleeps == [30.0]
    assert capsys.readouterr().err == ""
