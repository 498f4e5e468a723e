"""What checking a lost answer costs in listing requests (issue #4): the dispatcher's
``_find_on_network`` over an in-process fake network (``dialogo.providers.testing``) that
counts its requests, two ways side by side in one run:

- **since**: as it is: up to ``RECENT_POSTS_MAX`` posts back to the attempt
  (``recent_posts(since=…)``: the paging stops after the first page that reaches before it,
  so each page is fetched once), and, only when that listing ends inside the clock skew
  before the attempt, again back to the attempt less the skew;
- **growth**: the named baseline, the dispatcher's path before ``since`` (kept for providers
  installed from elsewhere that do not take it, :class:`~dialogo.providers.testing.
  WithoutSince`): 50 posts, then 200, 800 and 1,000 while every post listed is newer than the
  attempt, each asking starting again from the newest page.

    python benchmarks/reconcile.py [--page 20] [--older 200] [--before 60]

Rows: the account posted ``after`` times since the lost post (ours, found; or absent: the
publish never reached the network), over ``--older`` posts made from ``--before`` minutes
before it. Requests are counted, not timed: the figures do not depend on the machine's load.

Measured on 2026-12-06 at 22:20 UTC (``--page 20``, the fake network's default, and
``--page 100``, X's and Bluesky's cap; ``--before 60``, the older posts an hour before the
attempt, and ``--before 4``, inside the 5-minute clock skew, ``dispatcher.CLOCK_SKEW``,
where a post found costs the same and one absent the pages back to the attempt twice)::

    before after ours   pages of 20: since growth ratio   pages of 100: since growth ratio
        60     0 lost                    1      3  3.00                     1      1  1.00
        60    60 lost                    4     13  3.25                     1      3  3.00
        60   400 lost                   21     44  2.10                     5     10  2.00
        60   400 none                   21     43  2.05                     5      9  1.80
        60  1200 lost                   50    103  2.06 (too many)        10     21  2.10

         4     0 none                   11     13  1.18                     3      3  1.00
         4    45 lost                    3      3  1.00                     1      1  1.00
         4    45 none                   16     26  1.62                     4      6  1.50
         4   400 none                   51     43  0.84                    11      9  0.82
         4   900 none                   96    103  1.07 (too many)        20     21  1.05

The decisions are the same both ways on every row (found, absent, or too many to tell).
One asking back to the skew at once (what ``recent_posts(limit=RECENT_POSTS_MAX,
since=attempt - CLOCK_SKEW)`` alone would do) reads every post of those 5 minutes even when
the post is on the first page: 11 requests instead of 1 at "0 lost" with pages of 20 (and
15-20 listing requests per lost answer in the chaos test against 2-8 now:
``tests/publishing/test_chaos.py``).
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import cast

from dialogo.providers.base import Provider
from dialogo.providers.testing import FakeNetwork, WithoutSince
from dialogo.publishing import dispatcher
from dialogo.publishing.models import VariantStatus

ATTEMPT = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


def account(
    page: int, older: int, after: int, ours: bool, before: dt.timedelta
) -> tuple[FakeNetwork, Provider]:
    network = FakeNetwork("benchnet", page_size=page)
    key = "ours" if ours else None
    credentials = network.busy_account(
        "brand", ATTEMPT, older=older, newer=after, key=key, before=before
    )
    return network, network.provider_class()(credentials)


def check(
    page: int, older: int, after: int, ours: bool, before: dt.timedelta, *, since: bool
) -> tuple[int, str]:
    """The requests one check makes, and what it decided."""
    network, provider = account(page, older, after, ours, before)
    asked = provider if since else cast(Provider, WithoutSince(provider))
    # the variant whose answer was lost at ATTEMPT (Claimed's fields in order, to its status)
    unconfirmed = VariantStatus.unconfirmed.value
    claimed = dispatcher.Claimed(
        1, 1, 1, 1, "benchnet", "ours", [], None, "ours", 1, 1, True, ATTEMPT, unconfirmed
    )
    try:
        found = dispatcher._find_on_network(asked, claimed)
        decision = "found" if found is not None else "absent"
    except dispatcher._CannotTell as exc:
        decision = exc.code.removeprefix("reconcile_")
    return sum(1 for op, _ in network.calls if op == "recent_posts"), decision


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--page", type=int, default=20, help="posts a request lists (the cap)")
    parser.add_argument("--older", type=int, default=200, help="posts from before the attempt")
    parser.add_argument(
        "--before",
        type=float,
        default=60.0,
        help="minutes before the attempt the older posts start, a second apart (4: all of "
        "them inside the 5-minute clock skew a check reads back to)",
    )
    args = parser.parse_args()
    before = dt.timedelta(minutes=args.before)
    if args.older >= before.total_seconds():
        parser.error("--older posts a second apart must all be made before the attempt")
    print(
        f"listing requests of one check; pages of {args.page}, {args.older} posts from "
        f"{args.before:g} minutes before the attempt; baseline: growth (50, 200, 800, 1,000 "
        "from the newest each time)"
    )
    print(f"{'after':>6} {'ours':>6} {'since':>6} {'growth':>7} {'ratio':>6}  decision")
    for after in (0, 10, 45, 60, 150, 400, 900, 1200):
        for ours in (True, False):
            new, decided = check(args.page, args.older, after, ours, before, since=True)
            old, grown = check(args.page, args.older, after, ours, before, since=False)
            decision = decided if decided == grown else f"{decided} (growth: {grown})"
            print(
                f"{after:>6} {'lost' if ours else 'none':>6} {new:>6} {old:>7} "
                f"{old / new:>6.2f}  {decision}"
            )


if __name__ == "__main__":
    main()
