"""App-level rate-limit signals read from the networks' documented headers and error answers
(Meta's "Rate Limits", X's "Rate limits", LinkedIn's "Rate Limiting")."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest

from dialogo.providers import ratelimits
from dialogo.providers.errors import RateLimited
from dialogo.providers.linkedin.client import error_for as linkedin_error
from dialogo.providers.meta.graph import GraphClient
from dialogo.providers.meta.graph import error_for as graph_error
from dialogo.providers.x.client import XClient
from dialogo.providers.x.client import error_for as x_error

NOW = dt.datetime(2031, 3, 1, 8, 0, tzinfo=dt.UTC)
# Meta's documented examples.
APP_USAGE = '{"call_count": 28, "total_time": 25, "total_cputime": 25}'
BUC_USAGE = json.dumps(
    {
        "112233445566778": [
            {
                "type": "pages",
                "call_count": 100,
                "total_cputime": 25,
                "total_time": 25,
                "estimated_time_to_regain_access": 19,
            }
        ]
    }
)


def test_meta_app_usage_reads_the_largest_percentage() -> None:
    signal = ratelimits.meta_app_usage({"X-App-Usage": APP_USAGE})
    assert signal is not None
    assert signal.scope == ratelimits.APP
    assert signal.used_percent == 28
    assert signal.figures == {"call_count": 28, "total_time": 25, "total_cputime": 25}
    assert signal.hold() is None  # far from the limit: go on


@pytest.mark.parametrize(
    ("call_count", "hold"),
    [(94, None), (95, ratelimits.SLOW_DOWN_WAIT), (99.5, ratelimits.SLOW_DOWN_WAIT), (100, 300.0)],
)
def test_meta_app_usage_slows_down_from_95_percent(call_count: float, hold: float | None) -> None:
    header = json.dumps({"call_count": call_count, "total_time": 10, "total_cputime": 10})
    signal = ratelimits.meta_app_usage({"x-app-usage": header})
    assert signal is not None and signal.hold() == hold


@pytest.mark.parametrize("header", ["", "not json", "[1, 2]", '{"call_count": "many"}'])
def test_meta_app_usage_ignores_what_it_cannot_read(header: str) -> None:
    assert ratelimits.meta_app_usage({"X-App-Usage": header}) is None


def test_business_use_case_usage_is_the_accounts_with_its_wait_in_seconds() -> None:
    [signal] = ratelimits.meta_business_usage({"X-Business-Use-Case-Usage": BUC_USAGE})
    assert signal.scope == ratelimits.ACCOUNT
    assert signal.used_percent == 100
    assert signal.wait == 19 * 60
    assert signal.figures["business_id"] == "112233445566778"
    assert signal.figures["type"] == "pages"
    assert signal.hold() == 19 * 60


def test_graph_client_collects_every_answers_usage() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={"id": "1"},
            headers={"X-App-Usage": APP_USAGE, "X-Business-Use-Case-Usage": BUC_USAGE},
        )

    signals: list[ratelimits.AppSignal] = []
    with httpx.Client(transport=httpx.MockTransport(answer)) as http:
        GraphClient(http, "t", network="facebook", signals=signals).get("me", operation="me")
    assert [s.scope for s in signals] == [ratelimits.APP, ratelimits.ACCOUNT]


def _graph_error(code: int, usage: str | None = None) -> RateLimited:
    headers = {"X-App-Usage": usage} if usage else {}
    response = httpx.Response(
        400,
        headers=headers,
        json={"error": {"message": "limit", "type": "OAuthException", "code": code}},
    )
    error = graph_error(response, network="facebook", operation="page feed")
    assert isinstance(error, RateLimited)
    return error


def test_graph_code_4_is_the_apps_limit() -> None:
    error = _graph_error(4)
    assert error.scope == ratelimits.APP
    assert error.retry_after == ratelimits.APP_LIMIT_WAIT


def test_graph_user_and_page_limits_stay_the_accounts_unless_the_app_is_at_100() -> None:
    assert _graph_error(17).scope == ratelimits.ACCOUNT
    assert _graph_error(32, APP_USAGE).scope == ratelimits.ACCOUNT
    full = '{"call_count": 100, "total_time": 20, "total_cputime": 20}'
    assert _graph_error(17, full).scope == ratelimits.APP


# X's documented headers on POST /2/tweets.
def _x_headers(
    app_remaining: int, user_remaining: int = 90, now: dt.datetime = NOW
) -> dict[str, str]:
    reset = str(int(now.timestamp()) + 3600)
    return {
        "x-rate-limit-limit": "100",
        "x-rate-limit-remaining": "99",
        "x-rate-limit-reset": reset,
        "x-app-limit-24hour-limit": "10000",
        "x-app-limit-24hour-remaining": str(app_remaining),
        "x-app-limit-24hour-reset": reset,
        "x-user-limit-24hour-limit": "100",
        "x-user-limit-24hour-remaining": str(user_remaining),
        "x-user-limit-24hour-reset": reset,
    }


def test_x_24_hour_caps_of_the_app_and_the_user() -> None:
    app, user = ratelimits.x_signals(_x_headers(400), now=NOW)
    assert app.scope == ratelimits.APP_24H and app.used_percent == 96.0
    assert app.wait == 3600 and app.hold() == 3600  # near the cap: wait for its reset
    assert user.scope == ratelimits.ACCOUNT and user.used_percent == 10.0
    assert user.hold() is None
    assert ratelimits.x_signals({}, now=NOW) == []


def test_x_429_with_the_apps_cap_spent_is_the_apps() -> None:
    now = dt.datetime.now(dt.UTC)  # the error reads the reset against the clock
    spent = httpx.Response(429, headers=_x_headers(0, now=now), json={"title": "Too Many Requests"})
    error = x_error(spent, operation="create post", write=True)
    assert isinstance(error, RateLimited) and error.scope == ratelimits.APP_24H
    assert 3500 < error.retry_after <= 3600  # until x-app-limit-24hour-reset
    other = httpx.Response(429, headers=_x_headers(10), json={"title": "Too Many Requests"})
    error = x_error(other, operation="create post", write=True)
    assert isinstance(error, RateLimited) and error.scope == ratelimits.ACCOUNT


def test_x_client_collects_the_caps() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(201, json={"data": {"id": "1"}}, headers=_x_headers(5000))

    signals: list[ratelimits.AppSignal] = []
    with httpx.Client(transport=httpx.MockTransport(answer)) as http:
        XClient(http, "t", signals=signals).post("/2/tweets", operation="create post", json={})
    assert {s.scope for s in signals} == {ratelimits.APP_24H, ratelimits.ACCOUNT}


@pytest.mark.parametrize(
    ("message", "scope"),
    [
        (
            "Resource level throttle APPLICATION DAY limit for calls to this resource is reached.",
            ratelimits.APP,
        ),
        (
            "Resource level throttle MEMBER DAY limit for calls to this resource is reached.",
            ratelimits.ACCOUNT,
        ),
    ],
)
def test_linkedin_429_names_whose_daily_limit(message: str, scope: str) -> None:
    response = httpx.Response(429, json={"status": 429, "message": message})
    error = linkedin_error(response, operation="create post", now=NOW)
    assert isinstance(error, RateLimited) and error.scope == scope
    assert error.retry_after == 16 * 3600  # until midnight UTC
