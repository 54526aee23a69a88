"""config.api.params: each helper parses what it should and answers a bad value with a 400
VALIDATION_ERROR in the error envelope (a throwaway view through the DRF exception handler)."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import override
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from config.api import params
from config.errors import DomainError


class ParamsView(APIView):
    """Answers what the helpers parsed from the query string."""

    authentication_classes: list = []
    permission_classes: list = []

    def get(self, request):
        query = request.query_params
        since = params.timestamp(query, "since")
        return Response(
            {
                "async": params.flag(query, "async"),
                "limit": params.bounded_int(query, "limit", default=100, low=1, high=1000),
                "offset": params.bounded_int(query, "offset", default=0, low=0),
                "since": since.isoformat() if since else None,
                "status": params.choice(query, "status", ["queued", "running"]),
            }
        )


def call(query: str = ""):
    response = ParamsView.as_view()(APIRequestFactory().get(f"/api/v1/params/?{query}"))
    response.render()
    return response


def assert_bad(query: str, message: str) -> None:
    response = call(query)
    assert response.status_code == 400, response.data
    assert response.data == {"status": "error", "code": "VALIDATION_ERROR", "message": message}


def test_defaults_when_nothing_is_passed():
    response = call()
    assert response.status_code == 200
    assert response.data == {"async": False, "limit": 100, "offset": 0, "since": None, "status": None}


def test_good_values_are_parsed():
    query = "async=YES&limit=1000&offset=25&since=2026-02-03T10:00:00Z&status=running"
    response = call(query)
    assert response.status_code == 200
    assert response.data == {
        "async": True,
        "limit": 1000,
        "offset": 25,
        "since": "2026-02-03T10:00:00+00:00",
        "status": "running",
    }


@pytest.mark.parametrize("value", ["true", "1", "yes", "on", " On "])
def test_true_flags(value):
    assert params.flag({"async": value}, "async") is True


@pytest.mark.parametrize("value", ["false", "0", "no", "off", ""])
def test_false_flags(value):
    assert params.flag({"async": value}, "async") is False


@pytest.mark.parametrize("value", ["maybe", "2", "truee"])
def test_a_bad_flag_is_a_400(value):
    assert_bad(f"async={value}", "async must be true or false")


def test_a_flag_message_may_be_translated():
    with override("fr"), pytest.raises(DomainError) as caught:
        params.flag({"async": "x"}, "async", message=_("%(name)s must be true or false"))
    assert caught.value.message == "async doit valoir true ou false"
    assert (caught.value.code, caught.value.http_status) == ("VALIDATION_ERROR", 400)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=abc", "limit must be a whole number from 1 to 1000"),
        ("limit=-1", "limit must be a whole number from 1 to 1000"),
        ("limit=1.5", "limit must be a whole number from 1 to 1000"),
        ("limit=9999999999", "limit must be a whole number from 1 to 1000"),
        ("limit=0", "limit must be from 1 to 1000"),
        ("limit=1001", "limit must be from 1 to 1000"),
        ("offset=x", "offset must be a whole number of at least 0"),
    ],
)
def test_a_bad_bounded_int_is_a_400(query, message):
    assert_bad(query, message)


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01T00:00:00Z", "2026-02-03T25:00:00", "1"])
def test_a_bad_timestamp_is_a_400(value):
    assert_bad(f"since={value}", "since must be an ISO 8601 timestamp, e.g. 2026-02-03T10:00:00Z")


def test_timestamps_naive_means_utc_and_a_plus_turned_into_a_space_is_accepted():
    assert params.parse_timestamp("2026-02-03T10:00:00") == datetime(2026, 2, 3, 10, tzinfo=UTC)
    expected = datetime(2026, 2, 3, 10, tzinfo=timezone(timedelta(hours=2)))
    assert params.parse_timestamp("2026-02-03T10:00:00 02:00") == expected
    assert params.parse_timestamp(None) is None and params.parse_timestamp(42) is None


def test_a_value_outside_the_choices_is_a_400():
    assert_bad("status=lost", "status must be one of queued, running")


def test_an_empty_number_is_a_400_not_the_default():
    assert_bad("limit=", "limit must be a whole number from 1 to 1000")
    assert_bad("offset=", "offset must be a whole number of at least 0")
