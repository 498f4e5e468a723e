"""The Graph API's listing of an account's posts for the provider contract
(:attr:`dialogo.providers.contract.ContractFixture.account_listing`), shared by the Facebook,
Instagram and Threads fixtures.

Written from Meta's "Paginated Results" guide (developers.facebook.com/docs/graph-api/results):
a page is ``{"data": [...], "paging": {"cursors": {"before", "after"}, "next": <url>}}``,
``limit`` is capped by the edge, and the last page has no ``next``. Threads' reference
documents the cursors only (its example answer has no ``next``): with ``next_links=False``
every non-empty page carries its cursors and the end is an empty page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from dialogo.providers.contract import (
    Answer,
    Responder,
    ScriptedRequest,
    listed_at,
    listing_page,
)

#: Graph's answer to a request the listing does not serve ("Handling errors": code 100).
_UNSUPPORTED = {"message": "Unsupported request", "type": "GraphMethodException", "code": 100}


def graph_listing(
    edge: str, text_field: str, time_field: str, cap: int, *, next_links: bool = True
) -> Callable[[int], Responder]:
    """The fixture's ``account_listing``: ``GET /<id>/<edge>`` for an account of ``total``
    posts answers ``limit`` posts (at most ``cap``) older than the ``after`` cursor (the
    number of the last post listed), each with ``text_field`` and ``time_field``."""

    def listing(total: int) -> Responder:
        def respond(request: ScriptedRequest) -> Answer:
            url = httpx.URL(request.url)
            if request.method != "GET" or not url.path.endswith(f"/{edge}"):
                return Answer(400, json={"error": _UNSUPPORTED})
            cursor = int(url.params.get("after", "0")) or None
            limit = int(url.params.get("limit", "25"))
            numbers = listing_page(total, older_than=cursor, count=limit, cap=cap)
            data = [
                {
                    "id": str(17_000 + n),
                    text_field: f"post {n}",
                    time_field: listed_at(n).strftime("%Y-%m-%dT%H:%M:%S+0000"),
                }
                for n in numbers
            ]
            if not numbers:
                return Answer(200, json={"data": data})
            paging: dict[str, Any] = {
                "cursors": {"before": str(numbers[0]), "after": str(numbers[-1])}
            }
            if next_links and numbers[-1] > 1:
                paging["next"] = str(url.copy_set_param("after", str(numbers[-1])))
            return Answer(200, json={"data": data, "paging": paging})

        return respond

    return listing
