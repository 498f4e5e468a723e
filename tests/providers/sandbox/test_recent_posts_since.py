"""The sandbox's listed posts carry when they were published in wall-clock time
(``created_at``), beside their simulated time (``sim_at``): a lost answer on a busy sandbox
account is checked back to its attempt, as on a real network, instead of going to a person
(issue #4); ``since`` stops the paging like any provider's."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest

from dialogo.providers.base import Draft, Provider, made_at
from dialogo.providers.sandbox.provider import RECENT_PAGE, decode_post_id, forget_ledgers
from dialogo.publishing import dispatcher
from dialogo.publishing.models import VariantStatus
from tests.providers.sandbox.test_provider import make
from tests.publishing.test_dispatcher import _claimed_since


@pytest.fixture(autouse=True)
def _fresh_ledgers() -> Iterator[None]:
    forget_ledgers()
    yield
    forget_ledgers()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def test_listed_posts_carry_their_wall_clock_time_and_their_simulated_time() -> None:
    provider, clock = make()
    before = _now()
    result = provider.publish(Draft(text="Buongiorno!", idempotency_key="k1"))
    after = _now()
    [listed] = provider.recent_posts()
    made = made_at(listed)
    assert made is not None and before <= made <= after
    # the simulated world is as before: the id, its simulated time, the outcome it encodes
    assert listed.remote_id == result.remote_id
    assert listed.state["sim_at"] == clock.now().replace(microsecond=0).isoformat()
    assert decode_post_id(result.remote_id).at == clock.now().replace(microsecond=0)


def test_since_stops_the_sandboxs_paging_after_the_page_reaching_back_before_it() -> None:
    provider, _ = make()
    hour_ago = (_now() - dt.timedelta(hours=1)).isoformat()
    for n in range(RECENT_PAGE + 50):  # older posts, as another tool's (not sandbox ids)
        provider.ledger.record({"post": f"older-{n}", "created_at": hour_ago})
    for n in range(RECENT_PAGE + 20):
        provider.publish(Draft(text=f"Post {n}", idempotency_key=f"k{n}"))
    listing = provider.recent_posts(limit=1000, since=_now() - dt.timedelta(minutes=5))
    # page 1: 100 new; page 2: 20 new and 80 older, the last an hour old: the paging stops
    assert len(listing) == 2 * RECENT_PAGE and not listing.exhausted
    assert listing[RECENT_PAGE + 19].state["idempotency_key"] == "k0"
    assert len(provider.recent_posts(limit=1000)) == 2 * RECENT_PAGE + 70


def test_a_lost_answer_on_a_busy_sandbox_account_is_found_not_sent_to_a_person() -> None:
    """More than a page of posts since the attempt (before ``created_at``, the first 50 posts
    listed, all without a time, sent the variant to a person)."""
    provider, _ = make()
    attempt = _now()
    provider.publish(Draft(text="Nostra", idempotency_key="ours"))
    for n in range(RECENT_PAGE + 30):
        provider.publish(Draft(text=f"Altro {n}", idempotency_key=f"other-{n}"))
    claimed = dataclasses.replace(_claimed_since(attempt), network="sandbox")
    found = dispatcher._find_on_network(cast(Provider, provider), claimed)
    assert found is not None and found.state["idempotency_key"] == "ours"
    # and absent when it never reached the sandbox: ruled out, sent (once)
    lost = dataclasses.replace(claimed, idempotency_key="never-sent", text="Mai inviata")
    assert dispatcher._send_one(cast(Provider, provider), lost, attempt, 1.0, 60.0) is None
    assert lost.status == VariantStatus.published.value
    listed = provider.recent_posts(limit=1000)
    assert [p.state.get("idempotency_key") for p in listed].count("never-sent") == 1


def test_the_ledger_file_keeps_the_time_and_reads_older_entries_without_it(
    tmp_path: Path,
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    provider, _ = make(ledger=str(ledger))
    provider.publish(Draft(text="Prima", idempotency_key="k1"))
    entries = [json.loads(line) for line in ledger.read_text().splitlines()]
    assert [sorted(entry) for entry in entries] == [["created_at", "post"]]
    # a ledger written before created_at: its posts are listed without a time
    with ledger.open("a") as out:
        out.write(json.dumps({"post": "written-by-an-older-version"}) + "\n")
    forget_ledgers()
    again, _ = make(ledger=str(ledger))
    newest, oldest = again.recent_posts()
    assert "created_at" not in newest.state and made_at(oldest) is not None
