"""Instagram direct messages against HTTP answers written from Meta's documentation for the
Instagram API with Instagram Login: Conversations API (``GET /<ig-user>/conversations?
platform=instagram``, ``messages{id,created_time,from{username,id},to,message}`` on
``graph.instagram.com``) and Send Messages (``POST /<ig-user>/messages`` with ``recipient``
and ``message``; the ``HUMAN_AGENT`` tag within 7 days; text under 1000 bytes)."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest

from dialogo.providers.base import Draft, MessageKind, RemoteRef
from dialogo.providers.errors import InvalidPayload
from tests.providers.instagram.test_provider import IG, V, form, provider
from tests.providers.x.test_provider import Recorder

GIULIA = "1254459154682919"  # an Instagram-scoped id (IGSID)


def test_direct_messages_are_read_from_the_conversations_api() -> None:
    recorder = Recorder()
    recorder.on("GET", f"{V}/{IG}/media", httpx.Response(200, json={"data": []}))
    recorder.on(
        "GET",
        f"{V}/{IG}/conversations",
        httpx.Response(
            200,
            json={
                "data": [
                    {
                        "id": "aWdfZAG06MTpJR01lc3NhZA2VUaHJlYWQ6",
                        "updated_time": "2026-11-22T10:06:00+0000",
                        "messages": {
                            "data": [
                                {
                                    "id": "aWdfZAG1faXRlbToxOklHTWVzc2FnZA2E2",
                                    "created_time": "2026-11-22T10:06:00+0000",
                                    # the professional account id, not the login's id
                                    "from": {"username": "caffeaurora", "id": "90010"},
                                    "to": {"data": [{"username": "giulia_r", "id": GIULIA}]},
                                    "message": "Certo!",
                                },
                                {
                                    "id": "aWdfZAG1faXRlbToxOklHTWVzc2FnZA2E1",
                                    "created_time": "2026-11-22T10:05:00+0000",
                                    "from": {"username": "giulia_r", "id": GIULIA},
                                    "to": {"data": [{"username": "caffeaurora", "id": IG}]},
                                    "message": "Avete la miscela decaffeinata?",
                                },
                            ]
                        },
                    }
                ],
                "paging": {"cursors": {"after": "x"}},  # no "next": the last page
            },
        ),
    )
    recorder.on(
        "GET",
        f"{V}/me",
        httpx.Response(200, json={"user_id": "90010", "username": "caffeaurora", "id": IG}),
    )
    page = provider(recorder).fetch_messages("2026-11-21T00:00:00+00:00")
    [message] = page.messages
    assert message.remote_id == "aWdfZAG1faXRlbToxOklHTWVzc2FnZA2E1"
    assert message.kind is MessageKind.direct
    assert (message.author.remote_id, message.author.handle) == (GIULIA, "giulia_r")
    assert message.conversation_id == f"dm:{GIULIA}"
    assert message.raw["dm_user_id"] == GIULIA and message.raw["dm_network"] == "instagram"
    assert page.cursor == "2026-11-22T10:05:00+00:00"
    call = recorder.sent("GET", f"{V}/{IG}/conversations")[0]
    assert call.url.host == "graph.instagram.com" and call.url.params["platform"] == "instagram"
    assert len(recorder.sent("GET", f"{V}/me")) == 1  # read once, for the first message


def target(hours_ago: float) -> RemoteRef:
    received = dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours_ago)
    return RemoteRef(
        "aWdfZAG1faXRlbToxOklHTWVzc2FnZA2E1",
        conversation_id=f"dm:{GIULIA}",
        extra={"dm_user_id": GIULIA, "dm_received_at": received.isoformat()},
    )


@pytest.mark.parametrize(
    ("hours", "expected"),
    [
        (23.5, {"messaging_type": "RESPONSE"}),
        (100, {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}),
    ],
)
def test_an_answer_goes_by_the_send_api_with_what_the_window_allows(
    hours: float, expected: dict[str, str]
) -> None:
    recorder = Recorder()
    recorder.on(
        "POST",
        f"{V}/{IG}/messages",
        httpx.Response(200, json={"recipient_id": GIULIA, "message_id": "aWdfZAG1fsent"}),
    )
    result = provider(recorder).reply(target(hours), Draft(text="Sì, la Notturna!"))
    assert result.remote_id == "aWdfZAG1fsent"
    sent = form(recorder.requests[0])
    assert {k: v for k, v in sent.items() if k in ("messaging_type", "tag")} == expected
    assert json.loads(sent["recipient"]) == {"id": GIULIA}
    assert json.loads(sent["message"]) == {"text": "Sì, la Notturna!"}
    assert recorder.requests[0].url.host == "graph.instagram.com"


def test_outside_the_window_and_too_long_are_refused_before_any_request() -> None:
    recorder = Recorder()
    p = provider(recorder)
    with pytest.raises(InvalidPayload) as caught:
        p.reply(target(24 * 7 + 0.5), Draft(text="Ciao"))
    assert caught.value.issues == ["reply_to: outside_window"]
    with pytest.raises(InvalidPayload) as long:
        p.reply(target(1), Draft(text="é" * 500))  # 1000 bytes in UTF-8
    assert long.value.issues == ["text: too_long"]
    assert recorder.requests == []
    assert p.validate(Draft(text="é" * 499, reply_to=target(1))) == []
