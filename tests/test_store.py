"""The store behaves the same on its SQLite file and on Redis, and one-time values stay
one-time when many threads take them at once."""

from __future__ import annotations

import time
import uuid

import pytest

from idp.store import RedisStore, SqliteStore
from tests.conftest import REDIS_URL
from tests.races import at_once


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture(params=["sqlite", "redis"])
def kv(request, tmp_path):
    if request.param == "redis":
        if not REDIS_URL:
            pytest.skip("Redis runs in the PostgreSQL + Redis pass")
        redis_store = RedisStore(REDIS_URL, f"idp-test:{uuid.uuid4().hex}:")
        yield redis_store
        redis_store.clear_prefix()
    else:
        yield SqliteStore(str(tmp_path / "store.sqlite3"))


def test_set_get_delete(kv):
    kv.set("a", "1", 60)
    assert kv.get("a") == "1"
    kv.set("a", "2", 60)
    assert kv.get("a") == "2"
    kv.delete("a")
    assert kv.get("a") is None


def test_pop_gives_a_value_once(kv):
    kv.set("code", "xyz", 60)
    assert kv.pop("code") == "xyz"
    assert kv.pop("code") is None


def test_incr_counts_and_sets_expiry(kv):
    assert kv.incr("n", 60) == 1
    assert kv.incr("n", 60) == 2
    assert 0 < kv.ttl("n") <= 60
    assert kv.ttl("missing") is None


def test_members(kv):
    kv.add_member("s", "x", 60)
    kv.add_member("s", "y", 60)
    kv.remove_member("s", "x")
    assert kv.members("s") == {"y"}
    assert kv.members("none") == set()


def test_values_expire(kv):
    kv.set("short", "v", 1)
    kv.add_member("set", "m", 1)
    time.sleep(1.1)
    assert kv.get("short") is None
    assert kv.pop("short") is None
    assert kv.members("set") == set()


def test_simultaneous_pops_give_the_value_to_one_thread(kv):
    for round_number in range(20):
        kv.set(f"code{round_number}", "secret", 60)
        taken = at_once([lambda key=f"code{round_number}": kv.pop(key)] * 8)
        assert [value for value in taken if value is not None] == ["secret"]


def test_simultaneous_increments_are_all_counted(kv):
    def count():
        for _ in range(25):
            kv.incr("failures", 60)

    assert at_once([count] * 6) == [None] * 6  # no thread raised
    assert kv.incr("failures", 60) == 151


def test_two_stores_on_one_file_share_their_values(tmp_path):
    path = str(tmp_path / "store.sqlite3")
    first, second = SqliteStore(path), SqliteStore(path)  # two workers of one machine
    first.set("session", "data", 60)
    first.add_member("sessions-of-42", "abc", 60)
    assert second.get("session") == "data"
    assert second.members("sessions-of-42") == {"abc"}
    assert second.pop("session") == "data"
    assert first.get("session") is None


def test_touch_extends_life(tmp_path):
    clock = FakeClock()
    kv = SqliteStore(str(tmp_path / "store.sqlite3"), clock=clock)
    kv.set("s", "v", 10)
    clock.now += 8
    kv.touch("s", 10)
    clock.now += 8
    assert kv.get("s") == "v"
    clock.now += 3
    assert kv.get("s") is None
    kv.incr("n", 10)
    clock.now += 11
    assert kv.incr("n", 10) == 1  # an expired counter starts again
