"""The store behaves the same in-process and on Redis."""

from __future__ import annotations

import time
import uuid

import pytest

from idp.store import MemoryStore, RedisStore
from tests.conftest import REDIS_URL


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture(params=["memory", "redis"])
def kv(request):
    if request.param == "redis":
        if not REDIS_URL:
            pytest.skip("Redis runs in the PostgreSQL + Redis pass")
        redis_store = RedisStore(REDIS_URL, f"idp-test:{uuid.uuid4().hex}:")
        yield redis_store
        redis_store.clear_prefix()
    else:
        yield MemoryStore()


def test_set_get_delete(kv):
    kv.set("a", "1", 60)
    assert kv.get("a") == "1"
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
    assert kv.members("set") == set()


def test_touch_extends_life():
    clock = FakeClock()
    kv = MemoryStore(clock=clock)
    kv.set("s", "v", 10)
    clock.now += 8
    kv.touch("s", 10)
    clock.now += 8
    assert kv.get("s") == "v"
    clock.now += 3
    assert kv.get("s") is None
