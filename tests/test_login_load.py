"""Logins under load: the argon2id cost is a setting, hashes wait their turn in arrival order, the login limit is
one limit across worker processes through Redis, and a Redis outage never turns a login into a 500."""
from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from lms_service import create_app
from lms_service.accounts.models import User
from lms_service.accounts.passwords import FairGate, hash_password, password_hashing, verify_password
from lms_service.config import ConfigError, load_config
from lms_service.extensions import db, limiter
from tests.conftest import PASSWORD, login

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = "redis://127.0.0.1:6379/0"


def wait_until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.005)


# --- the hasher's cost as settings ---------------------------------------------------------------------------

def test_the_production_default_is_owasps_argon2id_minimum(tmp_path):
    config = load_config(str(tmp_path), environ={"LMS_ENV": "production", "SECRET_KEY": "x" * 40})
    assert (config["PASSWORD_HASH_TIME_COST"], config["PASSWORD_HASH_MEMORY_KIB"],
            config["PASSWORD_HASH_PARALLELISM"]) == (2, 19456, 1)
    cores = len(os.sched_getaffinity(0))
    # The cores are shared by the Procfile's two workers unless WEB_CONCURRENCY says otherwise.
    assert config["PASSWORD_HASH_CONCURRENCY"] == max(1, cores // 2)
    assert load_config(str(tmp_path), environ={"WEB_CONCURRENCY": "1"})["PASSWORD_HASH_CONCURRENCY"] == cores
    assert load_config(str(tmp_path), environ={"PASSWORD_HASH_CONCURRENCY": "3"})["PASSWORD_HASH_CONCURRENCY"] == 3


@pytest.mark.parametrize("env, message", [
    ({"PASSWORD_HASH_TIME_COST": "two"}, "PASSWORD_HASH_TIME_COST must be a whole number, got 'two'"),
    ({"PASSWORD_HASH_TIME_COST": "0"}, "PASSWORD_HASH_TIME_COST must be a whole number from 1 to 100, got 0"),
    ({"PASSWORD_HASH_PARALLELISM": "0"}, "PASSWORD_HASH_PARALLELISM must be a whole number from 1 to 64"),
    ({"PASSWORD_HASH_MEMORY_KIB": "4"}, "PASSWORD_HASH_MEMORY_KIB must be a whole number from 8 to 1048576"),
    ({"PASSWORD_HASH_MEMORY_KIB": str(19 * 1024 * 1024)}, "PASSWORD_HASH_MEMORY_KIB must be a whole number"),
    ({"PASSWORD_HASH_MEMORY_KIB": "16", "PASSWORD_HASH_PARALLELISM": "4"}, "at least 8 KiB per lane"),
    ({"PASSWORD_HASH_CONCURRENCY": "0"}, "PASSWORD_HASH_CONCURRENCY must be a whole number from 1"),
    ({"WEB_CONCURRENCY": "0"}, "WEB_CONCURRENCY must be at least 1"),
    ({"LMS_ENV": "production", "SECRET_KEY": "x" * 40, "PASSWORD_HASH_MEMORY_KIB": "8192"}, "below OWASP's minimum"),
    ({"LMS_ENV": "production", "SECRET_KEY": "x" * 40, "PASSWORD_HASH_TIME_COST": "1"}, "below OWASP's minimum"),
])
def test_bad_hash_settings_are_refused_by_name(tmp_path, env, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_config(str(tmp_path), environ=env)


def test_production_accepts_owasps_other_equal_choices(tmp_path):
    base = {"LMS_ENV": "production", "SECRET_KEY": "x" * 40}
    for memory, passes in (("47104", "1"), ("12288", "3"), ("7168", "5")):
        config = load_config(str(tmp_path), environ={**base, "PASSWORD_HASH_MEMORY_KIB": memory,
                                                     "PASSWORD_HASH_TIME_COST": passes})
        assert config["PASSWORD_HASH_MEMORY_KIB"] == int(memory)


def test_an_app_with_unusable_hash_settings_is_refused(test_config):
    with pytest.raises(ConfigError, match="PASSWORD_HASH_MEMORY_KIB"):
        create_app({**test_config, "PASSWORD_HASH_MEMORY_KIB": 4})
    with pytest.raises(ConfigError, match="PASSWORD_HASH_TIME_COST"):
        create_app({**test_config, "PASSWORD_HASH_TIME_COST": "2"})


def test_each_app_hashes_with_its_own_parameters(app, make_app):
    other = make_app(PASSWORD_HASH_TIME_COST=2, PASSWORD_HASH_MEMORY_KIB=16)
    with app.app_context():
        assert "$m=8,t=1,p=1$" in hash_password(PASSWORD)
        # An unknown e-mail is checked against a dummy made with the same parameters: the same work.
        assert "$m=8,t=1,p=1$" in password_hashing().dummy_hash
        assert verify_password(None, PASSWORD) is False
    with other.app_context():
        assert "$m=16,t=2,p=1$" in hash_password(PASSWORD)


def test_a_hash_with_other_parameters_still_verifies_and_is_rehashed_at_login(app, client, create_user):
    user_id = create_user(email="lena@example.se")
    old = PasswordHasher().hash(PASSWORD)  # argon2-cffi's defaults: the parameters before the settings existed
    with app.app_context():
        db.session.get(User, user_id).password_hash = old
        db.session.commit()
    assert login(client, "lena@example.se").status_code == 302
    with app.app_context():
        rehashed = db.session.get(User, user_id).password_hash
        assert rehashed != old and "$m=8,t=1,p=1$" in rehashed
        assert verify_password(rehashed, PASSWORD)


# --- fair waiting ------------------------------------------------------------------------------------------------

def test_a_released_slot_goes_to_the_oldest_waiter_not_a_newcomer():
    gate = FairGate(1)
    gate.acquire()
    holding, finish = threading.Event(), threading.Event()

    def waiter():
        with gate:
            holding.set()
            finish.wait(5)

    thread = threading.Thread(target=waiter, daemon=True)
    thread.start()
    wait_until(lambda: gate.waiting == 1)
    gate.release()
    # threading.Semaphore would let this newcomer take the slot the woken waiter was about to get.
    assert gate.acquire(blocking=False) is False
    assert holding.wait(5)
    finish.set()
    thread.join(5)
    assert gate.acquire(blocking=False) is True


def test_waiters_are_served_in_arrival_order():
    gate = FairGate(1)
    gate.acquire()
    order: list[int] = []

    def waiter(n):
        with gate:
            order.append(n)

    threads = []
    for n in range(6):
        threads.append(threading.Thread(target=waiter, args=(n,), daemon=True))
        threads[-1].start()
        wait_until(lambda n=n: gate.waiting == n + 1)
    gate.release()
    for thread in threads:
        thread.join(5)
    assert order == list(range(6))


def test_hashing_waits_for_a_free_slot(make_app):
    app = make_app(PASSWORD_HASH_CONCURRENCY=1)
    gate = app.extensions["lms_passwords"].gate
    results: list[str] = []

    def sign_up():
        with app.app_context():
            results.append(hash_password(PASSWORD))

    gate.acquire()  # another request is hashing
    thread = threading.Thread(target=sign_up, daemon=True)
    thread.start()
    wait_until(lambda: gate.waiting == 1)
    assert results == []
    gate.release()
    thread.join(5)
    assert results and results[0].startswith("$argon2id$")


# --- the rate limit --------------------------------------------------------------------------------------------

@pytest.fixture
def limiter_state():
    """The limiter is a process-wide singleton: put back what an outage did to it."""
    yield
    limiter._storage_dead = False


@pytest.fixture
def shared_redis(test_config, limiter_state):
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    pattern = f"*{test_config['RATELIMIT_KEY_PREFIX']}*"

    def keys():
        return list(client.scan_iter(match=pattern))

    yield keys
    for key in keys():
        client.delete(key)
    client.close()


# Another gunicorn worker is another process: it builds its own app and limiter on the same settings.
OTHER_WORKER = """
import json, sys
from lms_service import create_app
from tests.conftest import login
client = create_app(json.loads(sys.argv[1])).test_client()
print(json.dumps([login(client, "nobody@example.se", "wrong-password").status_code for _ in range(int(sys.argv[2]))]))
"""


def test_the_login_limit_is_one_limit_across_worker_processes(app, make_app, shared_redis, test_config, tmp_path):
    settings = {"RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": REDIS_URL, "LOGIN_RATE_LIMIT": "4 per hour"}
    client = make_app(**settings).test_client()
    assert [login(client, "nobody@example.se", "wrong-password").status_code for _ in range(2)] == [400, 400]
    assert shared_redis(), "the counts are kept in Redis under this run's prefix"

    env = {**os.environ, "LMS_INSTANCE_PATH": str(tmp_path), "SECRET_KEY": test_config["SECRET_KEY"]}
    other = subprocess.run([sys.executable, "-c", OTHER_WORKER, json.dumps({**test_config, **settings}), "3"],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert other.returncode == 0, other.stderr
    assert json.loads(other.stdout.strip().splitlines()[-1]) == [400, 400, 429]
    assert login(client, "nobody@example.se", "wrong-password").status_code == 429


def test_a_redis_outage_lets_logins_through_and_still_limits_them(app, make_app, create_user, limiter_state, caplog):
    create_user(email="lena@example.se")
    with socket.socket() as probe:  # a port nobody listens on: Redis is down
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{port}/0",
                    RATELIMIT_STORAGE_OPTIONS={"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
                    LOGIN_RATE_LIMIT="3 per hour")
    with caplog.at_level(logging.WARNING, logger="flask-limiter"):
        assert login(down.test_client(), "lena@example.se").status_code == 302
    assert "falling back to in-memory storage" in caplog.text
    # Meanwhile each worker counts in its own memory: the limit still holds.
    client = down.test_client()
    assert [login(client, "lena@example.se", "wrong-password").status_code for _ in range(3)] == [400, 400, 429]

