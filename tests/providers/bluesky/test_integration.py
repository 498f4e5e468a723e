"""The Bluesky provider against Bluesky's own server software, running on 127.0.0.1 (see
network.py): two accounts talk to each other; one through the provider, the other through the
plain ``atproto`` SDK client.

The AppView indexes what the PDS writes a moment later, so whatever is read through it is
polled for, under a deadline."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import TypeVar

import httpx
import pytest
from atproto_client import Client, models  # type: ignore[import-untyped]

from dialogo.providers.base import (
    Credentials,
    Draft,
    InboundMessage,
    Media,
    MessageKind,
    made_at,
)
from dialogo.providers.bluesky import provider as bluesky_provider
from dialogo.providers.bluesky.provider import BlueskyProvider, reply_target
from dialogo.providers.errors import ReauthRequired
from tests.providers.bluesky.network import BlueskyNetwork, DevAccount, wait_for
from tests.providers.bluesky.test_richtext import _png

pytestmark = [pytest.mark.integration, pytest.mark.slow]

INDEXING_DEADLINE = 30.0  # seconds for the AppView to show what the PDS just wrote
T = TypeVar("T")


def eventually(check: Callable[[], T | None], what: str) -> T:
    return wait_for(check, timeout=INDEXING_DEADLINE, interval=0.2, what=what)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=httpx.Timeout(30.0, connect=5.0)) as client:
        yield client


def _connect(
    net: BlueskyNetwork, account: DevAccount, password: str, http: httpx.Client
) -> BlueskyProvider:
    credentials = Credentials(account_id=account.handle, extra={"app_password": password})
    return BlueskyProvider(credentials, http=http, config={"service": net.pds})


def _sdk_client(net: BlueskyNetwork, account: DevAccount) -> Client:
    client = Client(base_url=net.pds)
    client.login(account.handle, account.password)
    return client


def test_startup_time_is_reasonable(bluesky_network: BlueskyNetwork) -> None:
    print(  # shown with -s, and in the report of a failure
        f"Bluesky network ready in {bluesky_network.startup_seconds:.1f} s "
        f"(dev-env itself: {bluesky_network.network_seconds:.1f} s)"
    )
    assert bluesky_network.startup_seconds < 90


def test_bad_credentials_are_reauth_required_at_verify(
    bluesky_network: BlueskyNetwork, http: httpx.Client
) -> None:
    alice = bluesky_network.create_account("carla")
    with pytest.raises(ReauthRequired) as caught:
        _connect(bluesky_network, alice, "wron-gpas-swor-dxxx", http).verify()
    assert "app password" in str(caught.value)
    assert alice.handle in str(caught.value)


def test_two_accounts_talk_through_the_provider(
    bluesky_network: BlueskyNetwork, http: httpx.Client
) -> None:
    net = bluesky_network
    alice, bob = net.create_account("alice"), net.create_account("bob")

    # -- Alice connects through the provider with an app password ----------------------------------
    provider = _connect(net, alice, net.app_password(alice), http)
    account = provider.verify()
    assert (account.remote_id, account.handle) == (alice.did, alice.handle)
    creds = provider.credentials
    assert creds.account_id == alice.did and creds.access_token and creds.refresh_token
    assert "app_password" not in creds.extra

    # -- a post mentioning Bob, with an image and alt text, and a thread of two --------------------
    image = _png(64, 48)
    text = f"Perché è già così? 🇮🇹 Ciao @{bob.handle}, leggi https://dialogo.example/caffè #Caffè"
    draft = Draft(
        text=text,
        media=[Media(content=image, mime_type="image/png", alt_text="Una tazzina rossa ☕")],
        thread=[Draft(text="Seconda parte del thread 🧵")],
    )
    assert provider.validate(draft) == []
    result = provider.publish(draft)
    assert result.remote_id and result.remote_id.startswith(f"at://{alice.did}/app.bsky.feed.post/")
    (second_uri,) = result.thread_ids

    bob_client = _sdk_client(net, bob)
    first = bob_client.com.atproto.repo.get_record(
        models.ComAtprotoRepoGetRecord.Params(
            repo=alice.did, collection="app.bsky.feed.post", rkey=result.remote_id.split("/")[-1]
        )
    )
    record = first.value
    assert record.text == text
    encoded = text.encode("utf-8")
    facets = {
        encoded[f.index.byte_start : f.index.byte_end].decode("utf-8"): f.features[0]
        for f in record.facets
    }
    assert facets[f"@{bob.handle}"].did == bob.did
    assert facets["https://dialogo.example/caffè"].uri == "https://dialogo.example/caffè"
    assert facets["#Caffè"].tag == "Caffè"
    (embedded,) = record.embed.images
    assert embedded.alt == "Una tazzina rossa ☕"
    assert (embedded.aspect_ratio.width, embedded.aspect_ratio.height) == (64, 48)
    assert embedded.image.size == len(image)

    # the thread, as the AppView shows it
    def thread_reply_uris(uri: str) -> set[str] | None:
        thread = bob_client.get_post_thread(uri, depth=2).thread
        uris = {reply.post.uri for reply in (thread.replies or [])}
        return uris or None

    assert second_uri in eventually(lambda: thread_reply_uris(result.remote_id), "the thread")
    second = bob_client.get_posts([second_uri]).posts[0]
    assert second.record.reply.root.uri == result.remote_id
    assert second.record.reply.parent.uri == result.remote_id

    # -- Bob, with the plain SDK: likes the post, replies to it, and mentions Alice ----------------
    posts = eventually(lambda: bob_client.get_posts([result.remote_id]).posts or None, "the post")
    strong = models.create_strong_ref(posts[0])
    bob_client.like(strong.uri, strong.cid)
    bob_reply = bob_client.send_post(
        text="Bellissimo! 😍",
        reply_to=models.AppBskyFeedPost.ReplyRef(root=strong, parent=strong),
    )
    mention_text = f"Ehi @{alice.handle}, una domanda sul caffè?"
    bob_mention = bob_client.send_post(
        text=mention_text, facets=bob_client.detect_facets(mention_text)
    )

    # -- Alice's provider sees both, once ----------------------------------------------------------
    seen: dict[str, InboundMessage] = {}
    cursor: str | None = None

    def both_arrived() -> bool | None:
        nonlocal cursor
        page = provider.fetch_messages(cursor)
        cursor = page.cursor
        for message in page.messages:
            assert message.remote_id not in seen, "a message came twice"
            seen[message.remote_id] = message
        return True if {bob_reply.uri, bob_mention.uri} <= seen.keys() else None

    eventually(both_arrived, "the reply and the mention in Alice's notifications")
    reply_message, mention = seen[bob_reply.uri], seen[bob_mention.uri]
    assert reply_message.kind is MessageKind.reply
    assert reply_message.conversation_id == result.remote_id
    assert reply_message.in_reply_to == result.remote_id
    assert reply_message.text == "Bellissimo! 😍"
    assert reply_message.author.remote_id == bob.did
    assert reply_message.author.handle == bob.handle
    assert mention.kind is MessageKind.mention
    assert mention.conversation_id == bob_mention.uri
    assert mention.text == mention_text
    assert provider.fetch_messages(cursor).messages == []  # nothing new, nothing repeated

    # -- Alice answers Bob's mention; Bob sees the answer in his thread ----------------------------
    answer = provider.reply(reply_target(mention), Draft(text=f"Certo @{bob.handle}! ☕"))
    assert answer.remote_id
    assert answer.remote_id in eventually(
        lambda: thread_reply_uris(bob_mention.uri), "Alice's answer in Bob's thread"
    )
    answer_post = bob_client.get_posts([answer.remote_id]).posts[0]
    assert answer_post.author.did == alice.did
    assert answer_post.record.reply.root.uri == bob_mention.uri
    assert answer_post.record.reply.parent.uri == bob_mention.uri

    # -- metrics: Bob's like, his reply and the thread's second post -------------------------------
    def counted() -> list[int] | None:
        (metrics,) = provider.fetch_metrics([result.remote_id])
        counts = [metrics.likes or 0, metrics.replies or 0, metrics.reposts or 0]
        return counts if counts[0] >= 1 and counts[1] >= 2 else None

    assert eventually(counted, "the like and the replies in the metrics") == [1, 2, 0]

    # -- the repository lists what Alice published, newest first (no indexing delay) ---------------
    recent = [post.remote_id for post in provider.recent_posts(limit=10)]
    assert recent == [answer.remote_id, second_uri, result.remote_id]
    # paged two records a request with the PDS's cursor, back to the first post (issue #4)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bluesky_provider, "RECORDS_PAGE", 2)
        paged = provider.recent_posts(limit=10)
        cut = provider.recent_posts(limit=2)
        # back to a moment: the first page reaches before it (its oldest, the thread's second
        # post, was made before), so the paging stops there
        second_made = made_at(paged[1])
        assert second_made is not None
        since = provider.recent_posts(limit=10, since=second_made + dt.timedelta(milliseconds=1))
    assert [post.remote_id for post in paged] == recent and paged.exhausted
    assert [post.remote_id for post in cut] == recent[:2] and not cut.exhausted
    assert [post.remote_id for post in since] == recent[:2] and not since.exhausted

    # -- search ------------------------------------------------------------------------------------
    found = eventually(lambda: provider.search_posts("già così").messages or None, "search")
    assert [m.remote_id for m in found] == [result.remote_id]
    assert found[0].kind is MessageKind.post and found[0].author.remote_id == alice.did

    # -- the session refreshes, and the refreshed one works ----------------------------------------
    before = provider.credentials
    renewed = provider.refresh()
    assert renewed.access_token and renewed.access_token != before.access_token
    assert renewed.refresh_token and renewed.refresh_token != before.refresh_token
    later = BlueskyProvider(
        before.merged(renewed), http=http, config={"service": net.pds}
    )  # as the channel stores it
    assert later.verify().remote_id == alice.did

    # -- and nothing in the network tried to reach beyond 127.0.0.1 -------------------------------
    assert net.refused_connections() == []
