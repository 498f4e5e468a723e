"""``recent_replies(since=…)`` on Facebook: a comment's replies (``GET /<comment>/comments``,
cursor-paginated: no time parameter) and the Messenger conversation with one person (the
Conversations API, whose ``messages`` field takes a ``limit`` only) are asked exactly as without
``since``; the Page's answers made before it are left out, the others kept in order."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from dialogo.providers.base import Credentials, RemoteRef
from dialogo.providers.facebook.provider import FacebookProvider

PAGE = "104512345678901"
ANNA = "6001234567890123"
COMMENT = f"{PAGE}_900000000000001_900000000000777"
SINCE = dt.datetime(2026, 11, 20, 9, 25, tzinfo=dt.UTC)


def said(n: int, author: str = PAGE) -> dict[str, Any]:
    """The item ``n`` of a Graph list, written at 09:``n`` on 2026-11-20."""
    return {
        "id": f"m_{n}",
        "message": f"answer {n}",
        "created_time": f"2026-11-20T09:{n:02d}:00+0000",
        "from": {"id": author, "name": "Caffè Aurora" if author == PAGE else "Anna"},
    }


class Graph:
    """The two reads, newest first: ours at 09:40, 09:30, 09:20, and Anna's at 09:35."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, dict[str, str]]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path, params = request.url.path, dict(request.url.params)
        self.asked.append((path.rsplit("/", 2)[-1], params))
        items = [said(40), said(35, ANNA), said(30), said(20)]
        if path.endswith(f"/{COMMENT}/comments"):
            return httpx.Response(200, json={"data": items})
        if path.endswith(f"/{PAGE}/conversations"):
            return httpx.Response(200, json={"data": [{"id": "t_1", "messages": {"data": items}}]})
        return httpx.Response(400, json={"error": {"message": f"unexpected {path}", "code": 100}})


def facebook(graph: Graph) -> FacebookProvider:
    return FacebookProvider(
        Credentials(
            access_token="page-token",
            account_id=PAGE,
            extra={"token_kind": "page", "user_token": "user-token"},
        ),
        http=httpx.Client(transport=httpx.MockTransport(graph)),
        config={"client_id": "1234567890", "page_id": PAGE},
    )


def test_comment_replies_since_leave_out_the_older_answers() -> None:
    graph = Graph()
    found = facebook(graph).recent_replies(RemoteRef(COMMENT), limit=10, since=SINCE)
    assert [r.remote_id for r in found] == ["m_40", "m_30"]
    everything = facebook(graph).recent_replies(RemoteRef(COMMENT), limit=10)
    assert [r.remote_id for r in everything] == ["m_40", "m_30", "m_20"]
    (_, with_since), (_, without) = graph.asked
    assert with_since == without and "since" not in with_since


def test_messenger_replies_since_leave_out_the_older_messages() -> None:
    graph = Graph()
    target = RemoteRef("m_anna", extra={"dm_network": "facebook", "dm_user_id": ANNA})
    found = facebook(graph).recent_replies(target, limit=10, since=SINCE)
    assert [r.remote_id for r in found] == ["m_40", "m_30"]
    # a naive since reads as UTC, like every time the providers compare
    naive = facebook(graph).recent_replies(target, limit=10, since=SINCE.replace(tzinfo=None))
    assert [r.remote_id for r in naive] == ["m_40", "m_30"]
    assert [r.remote_id for r in facebook(graph).recent_replies(target, limit=10)] == [
        "m_40",
        "m_30",
        "m_20",
    ]
    assert len({str(params) for _path, params in graph.asked}) == 1  # the same request
