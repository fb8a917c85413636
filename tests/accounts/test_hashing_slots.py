"""Sign-ins beyond what the hash can serve wait a bounded time for a slot, a bounded number
of them; the others get 503 with Retry-After; they are not counted as failures."""

from __future__ import annotations

import os

import pytest
from argon2 import PasswordHasher as Argon2Hasher

from tests.conftest import PASSWORD, login_form, make_account
from tests.races import at_once

# A hash slow enough (about 0.1 s here) that simultaneous sign-ins overlap.
SLOW_HASH = Argon2Hasher(time_cost=3, memory_cost=64 * 1024, parallelism=1).hash(PASSWORD)


def simultaneous_sign_ins(app, count: int):
    """``count`` people posting « Vous connecter » at the same instant; their answers."""
    clients = [app.test_client() for _ in range(count)]
    forms = [login_form(client.get("/connexion").get_data(as_text=True)) for client in clients]
    return at_once([lambda c=client, f=form: c.post("/connexion", data=f)
                    for client, form in zip(clients, forms, strict=True)])


@pytest.fixture
def one_slot(settings, request):
    wait_seconds, queue = request.param
    settings.update(HASH_CONCURRENCY=1, HASH_WAIT_SECONDS=wait_seconds,
                    HASH_QUEUE_PER_SLOT=queue, ARGON2_TIME_COST=3,
                    ARGON2_MEMORY_KIB=64 * 1024)
    return settings


@pytest.mark.parametrize("one_slot", [(0, 10)], indirect=True)
def test_sign_ins_past_the_slots_get_503_with_retry_after(one_slot, directory):
    make_account(directory, password_hash=SLOW_HASH)
    answers = simultaneous_sign_ins(directory, 6)
    statuses = sorted(answer.status_code for answer in answers)
    assert 302 in statuses and 503 in statuses and set(statuses) <= {302, 503}, statuses
    busy = next(answer for answer in answers if answer.status_code == 503)
    assert busy.headers["Retry-After"] == "1"
    assert "Service très sollicité" in busy.get_data(as_text=True)


@pytest.mark.parametrize("one_slot", [(30, 3)], indirect=True)
def test_sign_ins_wait_for_a_slot_within_the_bound(one_slot, directory):
    make_account(directory, password_hash=SLOW_HASH)
    answers = simultaneous_sign_ins(directory, 4)
    assert [answer.status_code for answer in answers] == [302] * 4  # queued, all served


@pytest.mark.parametrize("one_slot", [(30, 1)], indirect=True)
def test_past_the_queue_a_sign_in_is_refused_without_waiting(one_slot, directory):
    make_account(directory, password_hash=SLOW_HASH)
    answers = simultaneous_sign_ins(directory, 6)
    statuses = [answer.status_code for answer in answers]
    # One hashes, one waits (it would wait up to 30 s): the four others are refused.
    assert statuses.count(302) >= 2 and 503 in statuses and set(statuses) <= {302, 503}


def test_hashes_run_below_the_requests_priority(settings):
    from idp.accounts.passwords import HASHING_NICENESS, PasswordHasher

    hasher = PasswordHasher(time_cost=1, memory_kib=8, parallelism=1)
    here = os.getpriority(os.PRIO_PROCESS, 0)
    assert hasher._hashing(os.getpriority, os.PRIO_PROCESS, 0) == max(here, HASHING_NICENESS)
    assert os.getpriority(os.PRIO_PROCESS, 0) == here  # the request's thread is untouched
    assert hasher.verify(hasher.hash("Camions2026"), "Camions2026")
