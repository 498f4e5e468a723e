"""Why a lost answer could not be settled by the account's listing, by its own code and
parameters (issue #4): ``reconcile_no_times``, ``reconcile_stopped_short`` and
``reconcile_too_many``, worded in the reader's language; rows stored with the older shared
``reconcile_cannot_tell`` (the English as its detail) still read as they did."""

from __future__ import annotations

from typing import cast

import pytest

from dialogo.core import i18n
from dialogo.providers.base import Provider, PublishResult, RecentPosts
from dialogo.publishing import dispatcher
from dialogo.publishing.reasons import REASONS, variant_reason
from tests.publishing.test_dispatcher import START, _claimed_since

EN = i18n.translator("en")
IT = i18n.translator("it")
BY_HAND = "so whether it went out is unknown: look at the account and publish again by hand"


@pytest.mark.parametrize(
    ("code", "params", "expected"),
    [
        (
            "reconcile_no_times",
            {"network": "x"},
            "X lists the account's posts without the time they were made, " + BY_HAND,
        ),
        (
            "reconcile_stopped_short",
            {"network": "linkedin", "count": 1},
            "LinkedIn would not list the account's posts back to when this post was sent (it "
            "stopped after 1 post), " + BY_HAND,
        ),
        (
            "reconcile_stopped_short",
            {"network": "linkedin", "count": 200},
            "LinkedIn would not list the account's posts back to when this post was sent (it "
            "stopped after 200 posts), " + BY_HAND,
        ),
        (
            "reconcile_too_many",
            {"network": "mastodon", "limit": 1000},
            "the account posted more than 1000 times on Mastodon since this post was sent, "
            + BY_HAND,
        ),
        # a row stored before the codes above: the shared code, its English as the detail
        (
            "reconcile_cannot_tell",
            {"network": "x", "detail": "x would not list the account's posts (it stopped)"},
            "whether the post went out on X is unknown (x would not list the account's posts "
            "(it stopped)): look at the account",
        ),
    ],
)
def test_each_reason_is_worded_from_its_code_and_parameters(
    code: str, params: dict[str, object], expected: str
) -> None:
    assert code in REASONS
    shown = variant_reason(EN, code, params, "the stored text")
    assert shown.startswith(expected), shown
    # Italian: the sentence is the localiser's to translate (the catalogues are not edited
    # here), so until then the English form for the count, never the stored text
    italian = variant_reason(IT, code, params, "the stored text")
    assert italian != "the stored text" and "%(" not in italian


def test_a_reason_missing_its_count_shows_the_stored_text() -> None:
    shown = variant_reason(EN, "reconcile_stopped_short", {"network": "x"}, "the stored text")
    assert shown == "the stored text"


def _listing(count: int, **state: str) -> RecentPosts:
    posts = tuple(
        PublishResult(remote_id=f"o{n}", state={"text": "other", **state}) for n in range(count)
    )
    return RecentPosts(posts=posts, exhausted=False)


class _Answer:
    def __init__(self, listing: RecentPosts) -> None:
        self.listing = listing

    def recent_posts(self, *, limit: int = 20, since: object = None) -> RecentPosts:
        return self.listing


@pytest.mark.parametrize(
    ("listing", "code", "params"),
    [
        (_listing(3), "reconcile_no_times", {}),
        (_listing(3, created_at=START.isoformat()), "reconcile_stopped_short", {"count": 3}),
        (
            _listing(dispatcher.RECENT_POSTS_MAX, created_at=START.isoformat()),
            "reconcile_too_many",
            {"limit": dispatcher.RECENT_POSTS_MAX},
        ),
    ],
)
def test_the_dispatcher_stores_the_code_whose_english_it_wrote(
    listing: RecentPosts, code: str, params: dict[str, int]
) -> None:
    """The stored English (for logs, webhooks, clients that ignore codes) and the wording by
    code say the same thing: the reason, then what a person should do."""
    claimed = _claimed_since(START)
    dispatcher._send_one(cast(Provider, _Answer(listing)), claimed, START, 1.0, 60.0)
    assert claimed.status == "unconfirmed" and claimed.notify == "post_unconfirmed"
    assert claimed.last_error_code == code
    assert claimed.last_error_params == {"network": "fakenet", **params}
    # the same sentence ("fakenet" has no installed provider to name it otherwise)
    assert variant_reason(EN, code, claimed.last_error_params, "") == claimed.last_error
