"""TWCS (real customer-care threads) as conversations: reading, threading, the measures on a
small slice of the shared sample, the import, and malformed rows quarantined with the reason.
The data set is read from /work/shared/data (non-commercial licence), never copied."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from dialogo.cli.main import app
from dialogo.inbox import twcs
from dialogo.inbox.models import Conversation, Direction, Message, QuarantinedItem
from tests.inbox.conftest import Brand, keyword_analyser

SAMPLE = Path("/work/shared/data/customer_care/twcs_sample.csv")
needs_sample = pytest.mark.skipif(not SAMPLE.is_file(), reason=f"{SAMPLE} is not here")
HEADER = ",tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id\n"


def slice_of(tmp_path: Path, rows: int) -> Path:
    """The first ``rows`` records of the sample (whole CSV records, multi-line texts kept)."""
    import csv

    out = tmp_path / "slice.csv"
    with (
        SAMPLE.open(newline="", encoding="utf-8") as src,
        out.open("w", newline="", encoding="utf-8") as dst,
    ):
        reader = csv.reader(src)
        writer = csv.writer(dst)
        for row in itertools.islice(reader, rows + 1):
            writer.writerow(row)
    return out


def test_threads_and_first_response_from_a_hand_made_file(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(
        HEADER
        + "0,1,alice,True,Tue Oct 31 10:00:00 +0000 2017,@acme my order?,2,\n"
        + "1,2,acme,False,Tue Oct 31 10:15:00 +0000 2017,@alice DM us,3,1\n"
        + "2,3,alice,True,Tue Oct 31 10:20:00 +0000 2017,@acme done,,2\n"
        + "3,4,bob,maybe,Tue Oct 31 10:20:00 +0000 2017,broken row,,\n"
        + "4,5,carl,True,yesterday,@acme hi,,\n",
        encoding="utf-8",
    )
    tweets, bad = twcs.read(path)
    assert [b.reason for b in bad] == [
        "inbound is neither True nor False: 'maybe'",
        "created_at is not a date: 'yesterday'",
    ]
    (thread,) = twcs.threads(tweets)
    assert thread.root == "1" and thread.brand == "acme"
    assert twcs.first_response_seconds([thread]) == [900.0]


@needs_sample
def test_report_on_a_slice_of_the_sample(tmp_path: Path) -> None:
    rep = twcs.report(slice_of(tmp_path, 1500))
    assert rep.tweets + rep.bad_rows == 1500
    assert 0 < rep.answered <= rep.threads
    assert rep.first_response.median_seconds is not None and rep.first_response.median_seconds > 0
    sg = rep.suggestions
    assert sg.held_out > 0 and sg.hit_rate is not None and 0 <= sg.hit_rate <= 1
    assert sg.mean_best_f1 is not None and 0 < sg.mean_best_f1 < 1
    result = CliRunner().invoke(app, ["inbox", "twcs-report", str(slice_of(tmp_path, 300))])
    assert result.exit_code == 0, result.output
    assert "top-3 has one with token F1 >= 0.5" in result.output


@needs_sample
def test_import_a_slice_as_conversations_twice_without_duplicates(
    db: Session, brand: Brand, tmp_path: Path
) -> None:
    path = slice_of(tmp_path, 400)
    first = twcs.import_threads(db, brand.channel, path, analyser=keyword_analyser)
    tweets, bad = twcs.read(path)
    inbound = sum(1 for t in tweets if t.inbound)
    assert first.inbound == inbound and first.quarantined == len(bad)
    assert db.scalar(select(func.count()).select_from(Message)) == first.inbound + first.outbound
    answered = db.scalar(
        select(func.count())
        .select_from(Conversation)
        .where(Conversation.first_response_at.is_not(None))
    )
    assert answered and answered > 0
    again = twcs.import_threads(db, brand.channel, path, analyser=keyword_analyser)
    assert (again.inbound, again.outbound) == (0, 0)
    out = db.scalar(select(Message).where(Message.direction == Direction.outbound.value))
    assert out is not None and out.conversation_id is not None


def test_malformed_rows_are_quarantined_on_import(
    db: Session, brand: Brand, tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        HEADER + "0,x1,alice,True,Tue Oct 31 10:00:00 +0000 2017,hi,,\n", encoding="utf-8"
    )
    rep = twcs.import_threads(db, brand.channel, path, analyser=keyword_analyser)
    assert rep.quarantined == 1
    (q,) = db.scalars(select(QuarantinedItem))
    assert q.reason == "line 2: tweet_id is not a number: 'x1'" and q.payload["row"]["text"] == "hi"
