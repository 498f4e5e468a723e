"""The Mastodon provider against ``mastodon-mock``: connect, publish with media, alt text,
visibility and a thread, read mentions, replies and direct messages from another account with
the ``since_id`` cursor, answer them, search, metrics."""

from __future__ import annotations

import pytest

from dialogo.providers.base import Draft, Media, MessageKind, RemoteRef
from dialogo.providers.errors import InvalidPayload, ReauthRequired
from dialogo.providers.mastodon.testing import PNG
from tests.providers.mastodon.conftest import ProviderFor


def test_verify_reads_the_account(provider_for: ProviderFor) -> None:
    alice = provider_for("alice")
    account = alice.verify()
    assert account.handle == "@alice@127.0.0.1"
    assert account.display_name == "Alice"
    assert account.remote_id and alice.credentials.account_id == account.remote_id


def test_a_wrong_token_asks_for_reauthentication(provider_for: ProviderFor) -> None:
    with pytest.raises(ReauthRequired):
        provider_for("nobody").verify()


def test_publish_with_images_alt_text_visibility_and_a_thread(provider_for: ProviderFor) -> None:
    alice = provider_for("alice", visibility="unlisted")
    draft = Draft(
        text="Nuova collezione 🍂 https://shop.example/autunno",
        media=[Media(PNG, "image/png", alt_text="una foglia", filename="leaf.png")] * 2,
        thread=[Draft(text="seconda parte"), Draft(text="terza parte")],
        idempotency_key="post-1",
    )
    result = alice.publish(draft)
    assert result.remote_id and len(result.thread_ids) == 2
    first = alice.client.status(result.remote_id)
    assert first["visibility"] == "unlisted"
    assert [m["description"] for m in first["media_attachments"]] == ["una foglia"] * 2
    second = alice.client.status(result.thread_ids[0])
    third = alice.client.status(result.thread_ids[1])
    assert str(second["in_reply_to_id"]) == result.remote_id
    assert str(third["in_reply_to_id"]) == result.thread_ids[0]
    assert second["visibility"] == third["visibility"] == "unlisted"
    assert result.url and result.remote_id in result.url


def test_the_idempotency_key_makes_a_repeated_publish_create_one_status(
    provider_for: ProviderFor,
) -> None:
    alice = provider_for("alice")
    once = alice.publish(Draft(text="una volta sola", idempotency_key="same-key"))
    again = alice.publish(Draft(text="una volta sola", idempotency_key="same-key"))
    assert once.remote_id == again.remote_id
    recent = alice.recent_posts(limit=5)
    assert [p.remote_id for p in recent].count(once.remote_id) == 1
    assert recent[0].state["text"] == "una volta sola"


def test_invalid_drafts_are_refused_before_any_request(provider_for: ProviderFor) -> None:
    alice = provider_for("alice")
    with pytest.raises(InvalidPayload) as info:
        alice.publish(Draft(text="x" * 501))
    assert info.value.issues == ["too_long"]


def test_mentions_replies_and_direct_messages_with_the_cursor(provider_for: ProviderFor) -> None:
    alice, bob = provider_for("alice"), provider_for("bob")
    alice.verify()
    start = alice.fetch_messages(None).cursor
    post = alice.publish(Draft(text="Cosa ne pensate?"))
    assert post.remote_id
    bob.client.post_status("@alice bellissimo <3", in_reply_to_id=post.remote_id)
    bob.client.post_status("@alice ti ho nominata")
    bob.client.post_status("@alice in privato", visibility="direct")

    page = alice.fetch_messages(start)
    by_text = {m.text: m for m in page.messages}
    assert set(by_text) == {"@alice bellissimo <3", "@alice ti ho nominata", "@alice in privato"}
    reply = by_text["@alice bellissimo <3"]
    assert reply.kind is MessageKind.reply
    assert reply.in_reply_to == post.remote_id
    assert reply.author.handle == "bob"
    assert by_text["@alice ti ho nominata"].kind is MessageKind.mention
    direct = by_text["@alice in privato"]
    assert direct.kind is MessageKind.direct and direct.raw["visibility"] == "direct"
    assert page.cursor and page.cursor != start

    # nothing new since the cursor
    empty = alice.fetch_messages(page.cursor)
    assert empty.messages == [] and empty.cursor == page.cursor

    # answering: a reply to the reply, and a direct answer to the direct message
    answer = alice.reply(RemoteRef(reply.remote_id), Draft(text="@bob grazie!"))
    assert answer.remote_id
    assert str(alice.client.status(answer.remote_id)["in_reply_to_id"]) == reply.remote_id
    private = alice.reply(
        RemoteRef(direct.remote_id, extra={"visibility": "direct"}), Draft(text="@bob certo")
    )
    assert private.remote_id
    assert alice.client.status(private.remote_id)["visibility"] == "direct"

    later = bob.fetch_messages(None)
    assert {m.text for m in later.messages} >= {"@bob grazie!", "@bob certo"}


def test_metrics_count_favourites_reblogs_and_replies(provider_for: ProviderFor) -> None:
    alice, bob = provider_for("alice"), provider_for("bob")
    post = alice.publish(Draft(text="Misurami"))
    assert post.remote_id
    bob.client.api.status_favourite(post.remote_id)
    bob.client.api.status_reblog(post.remote_id)
    bob.client.post_status("@alice risposta", in_reply_to_id=post.remote_id)
    [metrics] = alice.fetch_metrics([post.remote_id])
    assert (metrics.likes, metrics.reposts, metrics.replies) == (1, 1, 1)
    assert metrics.impressions is None


def test_search_finds_statuses(provider_for: ProviderFor) -> None:
    alice = provider_for("alice")
    alice.publish(Draft(text="parola cercabile zafferano"))
    found = alice.search_posts("zafferano")
    assert any("zafferano" in m.text for m in found)
    assert all(m.kind is MessageKind.post for m in found)


def test_the_cursor_pages_forward_without_gaps(
    provider_for: ProviderFor, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dialogo.providers.mastodon import provider as module

    monkeypatch.setattr(module, "PAGE_SIZE", 2)
    monkeypatch.setattr(module, "MAX_PAGES", 2)
    alice, carol = provider_for("alice"), provider_for("carol")
    start = alice.fetch_messages(None).cursor
    for n in range(5):
        carol.client.post_status(f"@alice numero {n}")
    first = alice.fetch_messages(start)
    # two pages of two, the oldest first: nothing in between is skipped
    assert [m.text for m in first.messages] == [f"@alice numero {n}" for n in range(4)]
    second = alice.fetch_messages(first.cursor)
    assert [m.text for m in second.messages] == ["@alice numero 4"]
    assert alice.fetch_messages(second.cursor).messages == []


def test_recent_posts_give_what_reconciliation_compares(provider_for: ProviderFor) -> None:
    import datetime as dt

    alice = provider_for("alice")
    alice.publish(Draft(text="riga uno\nriga due https://example.com/x"))
    [latest] = alice.recent_posts(limit=1)
    assert latest.state["text"] == "riga uno\nriga due https://example.com/x"
    created = dt.datetime.fromisoformat(latest.state["created_at"])
    assert created.tzinfo is not None
    assert abs((dt.datetime.now(dt.UTC) - created).total_seconds()) < 120


def test_recent_posts_page_back_past_the_40_a_request_mastodon_answers(
    provider_for: ProviderFor,
) -> None:
    """``GET /api/v1/accounts/:id/statuses`` answers at most 40 statuses: the listing pages
    back with ``max_id`` from the ``Link`` header until it has what was asked for, and says
    ``exhausted`` only once the server sends no next link."""
    carol = provider_for("carol")
    posted = [carol.publish(Draft(text=f"stato {n}")).remote_id for n in range(45)]
    listing = carol.recent_posts(limit=1000)
    assert [p.remote_id for p in listing][:45] == posted[::-1]
    assert listing.exhausted
    some = carol.recent_posts(limit=42)
    assert [p.remote_id for p in some] == posted[::-1][:42] and not some.exhausted
