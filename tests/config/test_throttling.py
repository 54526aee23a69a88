import time

import pytest
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def _clear_throttle_counters():
    """Only this run's throttle keys: the Redis database is shared with the broker and
    with other test runs (CACHE_KEY_PREFIX), so never FLUSHDB it."""
    backend = caches["default"]  # the backend itself: ``cache`` is a proxy, never an instance of it
    if isinstance(backend, RedisCache):
        client = backend._cache.get_client(write=True)
        for key in client.scan_iter(match=backend.make_key("throttle_*")):
            client.delete(key)
    else:
        backend.clear()


@pytest.fixture(autouse=True)
def _fresh_throttle_state():
    _clear_throttle_counters()
    yield
    _clear_throttle_counters()


def test_password_guessing_on_one_account_is_throttled(settings, make_user):
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "login_user": "3/min"}
    make_user("victim")
    client = APIClient()
    answers = [
        client.post("/api/v1/auth/token/", {"username": "victim", "password": f"guess{i}"}).status_code
        for i in range(4)
    ]
    assert answers == [401, 401, 401, 429]
    throttled = client.post("/api/v1/auth/token/", {"username": "victim", "password": "pass-Word-123"})
    assert throttled.status_code == 429
    body = throttled.json()
    assert body["code"] == "RATE_LIMIT_EXCEEDED" and int(throttled["Retry-After"]) > 0
    # Another account from the same address is not locked by the first one's guesses.
    make_user("other")
    assert client.post("/api/v1/auth/token/", {"username": "other", "password": "pass-Word-123"}).status_code == 200


def test_one_address_trying_many_accounts_is_throttled(settings):
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "login_address": "5/min"}
    client = APIClient()
    codes = [
        client.post("/api/v1/auth/token/", {"username": f"user{i}", "password": "x"}).status_code for i in range(6)
    ]
    assert codes[-1] == 429 and codes[:5] == [401] * 5


def test_authenticated_users_have_their_own_budget(settings, api, admin_user):
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "user": "2/min"}
    client = api(admin_user)
    codes = [client.get("/api/v1/stores/").status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_anonymous_requests_to_open_endpoints_are_throttled(settings):
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "anon": "2/min"}
    client = APIClient()
    codes = [client.post("/api/v1/auth/token/refresh/", {"refresh": "garbage"}).status_code for _ in range(3)]
    assert codes == [401, 401, 429]


def test_the_admin_login_is_throttled_like_the_api_login(settings, client, make_user):
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "login_user": "3/min"}
    make_user("root", superuser=True)
    answers = [
        client.post("/admin/login/", {"username": "root", "password": f"guess{i}"}).status_code for i in range(3)
    ]
    assert answers == [200, 200, 200]  # the form again, with its error
    refused = client.post("/admin/login/", {"username": "root", "password": "pass-Word-123"})
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "_auth_user_id" not in client.session  # even the right password did not sign in
    assert client.get("/admin/login/").status_code == 200  # the page itself still shows


def _throttle_commands(monkeypatch) -> list[str]:
    """The Redis commands sent about throttle keys, recorded on their way to the real server."""
    import redis

    sent: list[str] = []
    real = redis.Redis.execute_command

    def recording(self, *args, **options):
        if any("throttle_" in str(arg) for arg in args[1:]):
            sent.append(str(args[0]).upper())
        return real(self, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", recording)
    return sent


def test_a_throttle_check_is_one_redis_round_trip(monkeypatch, api, admin_user):
    if not isinstance(caches["default"], RedisCache):
        pytest.skip("the embedded mode's throttles use the local memory cache")
    client = api(admin_user)
    sent = _throttle_commands(monkeypatch)
    assert client.get("/api/v1/stores/").status_code == 200
    assert sent == ["EVALSHA"]  # the user throttle; DRF's own sends a GET and a SET of the whole history


def test_refused_requests_do_not_count_and_retry_after_follows_the_oldest_accepted_one(settings, api, admin_user):
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "user": "2/s"}
    client = api(admin_user)
    codes = [client.get("/api/v1/stores/").status_code for _ in range(2)]
    refused = [client.get("/api/v1/stores/") for _ in range(3)]
    assert codes == [200, 200] and {answer.status_code for answer in refused} == {429}
    assert all(answer["Retry-After"] == "1" for answer in refused)  # 1 s at most, rounded up
    assert refused[0].json()["code"] == "RATE_LIMIT_EXCEEDED"
    time.sleep(1.05)  # the two accepted requests left the window; the refused ones never entered it
    assert [client.get("/api/v1/stores/").status_code for _ in range(3)] == [200, 200, 429]


def test_a_history_left_by_drfs_throttle_does_not_switch_the_throttle_off(settings, api, admin_user):
    """After an upgrade, DRF's history list may still sit under the plain key for a minute."""
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "user": "2/min"}
    caches["default"].set(f"throttle_user_{admin_user.pk}", [time.time()] * 5, 60)
    client = api(admin_user)
    assert [client.get("/api/v1/stores/").status_code for _ in range(3)] == [200, 200, 429]
