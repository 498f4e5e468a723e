import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialogo.accounts.permissions import Role
from dialogo.accounts.service import Principal
from dialogo.core.errors import Conflict, InvalidInput, PermissionDenied
from dialogo.listening import service
from dialogo.listening.models import ListeningAlert, Mention, MentionMatch
from dialogo.listening.query import QuerySyntaxError
from dialogo.listening.schemas import AlertTargetCreate, MentionIn, QueryCreate, QueryUpdate
from dialogo.notifications.models import Notification
from dialogo.providers.netpolicy import OutboundPolicy, guarded_client
from tests.factories import add_member
from tests.listening.conftest import LIVE, Brand

T0 = dt.datetime(2026, 1, 20, 10, tzinfo=dt.UTC)


def _item(i: int, text: str, *, at: dt.datetime = T0, reach: int = 0, channel: str = "import"):
    return service.Incoming(channel=channel, remote_id=str(i), text=text, posted_at=at, reach=reach)


def _q(db: Session, brand: Brand, name: str, query: str, kind: str = "brand") -> int:
    return service.create_query(
        db,
        brand.principal,
        brand.id,
        QueryCreate(name=name, query=query, kind=kind),  # type: ignore[arg-type]
    ).id


def test_queries_are_validated_unique_and_need_permission(db: Session, brand: Brand) -> None:
    _q(db, brand, "Acme", "acme OR #acme")
    with pytest.raises(QuerySyntaxError) as info:
        _q(db, brand, "Broken", "acme AND (")
    assert info.value.position == 10
    with pytest.raises(Conflict):
        _q(db, brand, "Acme", "other")
    viewer = add_member(db, brand.workspace, brand.owner, Role.viewer)
    with pytest.raises(PermissionDenied):
        service.create_query(
            db, Principal.for_user(viewer), brand.id, QueryCreate(name="X", query="x")
        )
    assert [q.name for q in service.list_queries(db, Principal.for_user(viewer), brand.id)] == [
        "Acme"
    ]


def test_ingest_stores_once_enriches_and_matches(db: Session, brand: Brand) -> None:
    acme = _q(db, brand, "Acme", "acme")
    rival = _q(db, brand, "Rival", "rival", kind="competitor")
    items = [
        _item(1, "Acme is terrible, my order never arrived"),
        _item(2, "I love Rival, great coffee"),
        _item(3, "Nothing to see here"),
        _item(1, "Acme is terrible, my order never arrived"),  # repeated in the batch
    ]
    r = service.ingest(
        db, brand.id, items, source=service.MentionSource.search, keep_unmatched=False
    )
    assert (r.received, r.stored, r.duplicates, r.unmatched, r.matches) == (4, 2, 1, 1, 2)
    again = service.ingest(
        db, brand.id, items[:2], source=service.MentionSource.search, keep_unmatched=False
    )
    assert (again.stored, again.duplicates) == (0, 2)
    # The same remote id on another channel is another mention.
    other = service.ingest(
        db,
        brand.id,
        [_item(1, "acme rocks", channel="bluesky")],
        source=service.MentionSource.search,
        keep_unmatched=False,
    )
    assert other.stored == 1
    m1 = service.list_mentions(db, brand.principal, brand.id, query_id=acme)
    assert [m.remote_id for m in m1] == ["1", "1"]
    neg = next(m for m in m1 if m.channel == "import")
    assert neg.label == "negative" and neg.language == "en" and neg.is_complaint
    m2 = service.list_mentions(db, brand.principal, brand.id, query_id=rival)
    assert [m.label for m in m2] == ["positive"]


def test_text_no_database_can_store_is_stored_repaired_not_lost(db: Session, brand: Brand) -> None:
    # A lone surrogate (a bad JSON decode upstream) cannot be encoded by any driver and a NUL
    # is refused by PostgreSQL: before, either one failed the whole batch.
    acme = _q(db, brand, "Acme", "acme")
    items = [
        _item(1, "acme \ud800 broken surrogate"),
        _item(2, "acme with a \x00 NUL inside"),
        _item(3, "acme fine"),
    ]
    r = service.ingest(
        db, brand.id, items, source=service.MentionSource.search, keep_unmatched=False
    )
    assert (r.stored, r.matches) == (3, 3)
    db.expire_all()
    texts = {
        m.remote_id: m.text
        for m in service.list_mentions(db, brand.principal, brand.id, query_id=acme)
    }
    assert texts == {
        "1": "acme \ufffd broken surrogate",
        "2": "acme with a  NUL inside",
        "3": "acme fine",
    }


def test_adhoc_search_and_label_correction(db: Session, brand: Brand) -> None:
    service.ingest(
        db,
        brand.id,
        [_item(1, "Caffè ottimo, grazie!"), _item(2, "the coffee was fine I guess")],
        source=service.MentionSource.file,
        keep_unmatched=True,
    )
    found = service.list_mentions(db, brand.principal, brand.id, search="lang:it caff*")
    assert [m.remote_id for m in found] == ["1"]
    with pytest.raises(QuerySyntaxError):
        service.list_mentions(db, brand.principal, brand.id, search='"unclosed')
    target = service.list_mentions(db, brand.principal, brand.id, search="coffee")[0]
    fixed = service.correct_label(db, brand.principal, brand.id, target.id, "positive")
    assert fixed.corrected_label == "positive" and fixed.final_label == "positive"
    assert fixed.corrected_by == brand.owner.id
    assert service.training_rows(db, brand.id) == [
        ("the coffee was fine I guess", "positive", "en")
    ]
    with pytest.raises(InvalidInput):
        service.correct_label(db, brand.principal, brand.id, target.id, "angry")
    positives = service.list_mentions(db, brand.principal, brand.id, label="positive")
    assert {m.remote_id for m in positives} == {"1", "2"}


def test_updating_a_query_rematches_stored_mentions(db: Session, brand: Brand) -> None:
    qid = _q(db, brand, "Acme", "acme")
    service.ingest(
        db,
        brand.id,
        [_item(1, "acme"), _item(2, "rival")],
        source=service.MentionSource.file,
        keep_unmatched=True,
    )
    service.update_query(db, brand.principal, brand.id, qid, QueryUpdate(query="rival"))
    assert [
        m.remote_id for m in service.list_mentions(db, brand.principal, brand.id, query_id=qid)
    ] == ["2"]


CSV_OK = (
    "id,text,posted_at,channel,author,reach\n"
    "a1,Acme is great,2026-01-20T10:00:00Z,x,alice,100\n"
    'a2,"Acme, pessimo servizio",2026-01-20T11:00:00+01:00,x,bob,5\n'
)


def test_import_csv_json_jsonl(db: Session, brand: Brand) -> None:
    r = service.import_file(db, brand.principal, brand.id, CSV_OK.encode(), "csv")
    assert r.stored == 2
    rows = [
        {"id": "j1", "text": "hello", "posted_at": "2026-01-20T10:00:00Z"},
        {"id": "j2", "text": "ciao", "posted_at": "2026-01-20T10:00:00Z", "reach": 3},
    ]
    assert (
        service.import_file(db, brand.principal, brand.id, json.dumps(rows).encode(), "json").stored
        == 2
    )
    jsonl = "\n".join(json.dumps({**r, "id": r["id"] + "l"}) for r in rows) + "\n\n"
    assert service.import_file(db, brand.principal, brand.id, jsonl.encode(), "jsonl").stored == 2
    m = db.scalar(select(Mention).where(Mention.remote_id == "a2"))
    assert m is not None
    assert m.posted_at == dt.datetime(2026, 1, 20, 10, tzinfo=dt.UTC)
    assert m.channel == "x" and m.author_handle == "bob" and m.reach == 5


@pytest.mark.parametrize(
    ("content", "fmt", "rows"),
    [
        (
            "id,text,posted_at\n"
            "ok1,fine,2026-01-20T10:00:00Z\n"
            ",missing id,2026-01-20T10:00:00Z\n"
            "b,bad date,yesterday\n"
            "c,naive,2026-01-20T10:00:00\n"
            "d,too,many,fields,2026-01-20T10:00:00Z\n",
            "csv",
            [2, 3, 4, 5],
        ),
        (
            '{"id": "1", "text": "a", "posted_at": "2026-01-20T10:00:00Z"}\n{oops\n[1]\n',
            "jsonl",
            [2, 3],
        ),
        (
            '[{"id": "1", "text": "a", "posted_at": "2026-01-20T10:00:00Z"}, {"id": "2"}]',
            "json",
            [2],
        ),
    ],
)
def test_bad_rows_are_all_reported_and_nothing_is_imported(
    db: Session, brand: Brand, content: str, fmt: str, rows: list[int]
) -> None:
    with pytest.raises(service.ImportFailed) as info:
        service.import_file(db, brand.principal, brand.id, content.encode(), fmt)
    assert [e.row for e in info.value.errors] == rows
    assert "nothing imported" in info.value.message
    count = db.scalar(
        select(func.count()).select_from(Mention).where(Mention.workspace_id == brand.id)
    )
    assert count == 0


@pytest.mark.parametrize(
    ("content", "fmt", "code"),
    [
        (b"\xff\xfe\x00bad", "csv", "bad_encoding"),
        (b"text,posted_at\nx,2026-01-01T00:00:00Z\n", "csv", "bad_header"),
        (b"{not json", "json", "bad_json"),
        (b'{"id": "1"}', "json", "bad_json"),
        (b"", "xml", "bad_format"),
    ],
)
def test_unreadable_files_are_refused(
    db: Session, brand: Brand, content: bytes, fmt: str, code: str
) -> None:
    with pytest.raises(InvalidInput) as info:
        service.import_file(db, brand.principal, brand.id, content, fmt)
    assert info.value.code == code


def test_intake(db: Session, brand: Brand) -> None:
    items = [MentionIn(id="w1", text="acme down again?", posted_at=T0, channel="Webhook")]
    r = service.intake(db, brand.principal, brand.id, items)
    assert r.stored == 1
    assert service.intake(db, brand.principal, brand.id, items).duplicates == 1
    m = db.scalar(select(Mention).where(Mention.remote_id == "w1"))
    assert m is not None and m.source == "webhook" and m.is_question and m.channel == "webhook"


def test_ingest_from_sandbox_search(db: Session, brand: Brand) -> None:
    brand_q = _q(db, brand, "Aurora", '"caffè aurora" OR caffeaurora OR #caffeaurora')
    rival_q = _q(db, brand, "Vesuvio", '"torrefazione vesuvio" OR vesuvio', kind="competitor")
    r = service.ingest_channels(db, brand.id, registry=brand.providers, cipher=brand.cipher)
    assert r.errors == []
    assert r.stored > 0
    mentions = db.scalars(select(Mention).where(Mention.workspace_id == brand.id)).all()
    assert {m.source for m in mentions} == {"search"}
    assert all(m.channel == "sandbox" and m.channel_id == brand.channel.id for m in mentions)
    matched = {qid for (qid,) in db.execute(select(MentionMatch.query_id)).all()}
    assert brand_q in matched
    assert rival_q in matched
    # A second run reads from the cursors: nothing new in a frozen world.
    again = service.ingest_channels(db, brand.id, registry=brand.providers, cipher=brand.cipher)
    assert again.stored == 0
    rep = service.reputation(
        db, brand.principal, brand.id, start=LIVE - dt.timedelta(days=2), end=LIVE, bucket="day"
    )
    by_id = {q.query_id: q for q in rep.queries}
    assert by_id[brand_q].volume > 0
    assert by_id[brand_q].share_of_voice + by_id[rival_q].share_of_voice == pytest.approx(1.0)


def test_reputation_figures(db: Session, brand: Brand) -> None:
    a = _q(db, brand, "Acme", "acme")
    b = _q(db, brand, "Rival", "rival", kind="competitor")
    t = _q(db, brand, "Topic", "coffee", kind="topic")
    day1 = dt.datetime(2026, 1, 20, 9, tzinfo=dt.UTC)
    day2 = day1 + dt.timedelta(days=1)
    items = [
        _item(1, "acme is great", at=day1, reach=1000),
        _item(2, "acme is terrible", at=day1, reach=0),
        _item(3, "acme is awesome", at=day2),
        _item(4, "rival is fine coffee", at=day2),
    ]
    service.ingest(db, brand.id, items, source=service.MentionSource.file, keep_unmatched=True)
    rep = service.reputation(
        db,
        brand.principal,
        brand.id,
        start=day1 - dt.timedelta(hours=9),
        end=day2 + dt.timedelta(hours=12),
        bucket="day",
    )
    q = {r.query_id: r for r in rep.queries}
    assert q[a].volume == 3 and q[a].positive == 2 and q[a].negative == 1
    assert q[a].net == pytest.approx(1 / 3, abs=1e-4)
    assert q[a].weighted > 0.2  # the large audience's praise weighs more than the complaint
    assert q[a].share_of_voice == pytest.approx(0.75)
    assert q[b].share_of_voice == pytest.approx(0.25)
    assert q[t].share_of_voice == 0.0  # topics are not in the share of voice
    assert [p.volume for p in q[a].points] == [2, 1]
    # Days are the workspace's local days (Europe/Rome): the first bucket starts at 23:00 UTC.
    assert rep.queries[0].points[0].start == dt.datetime(2026, 1, 19, 23, tzinfo=dt.UTC)
    # A correction changes the figures.
    m2 = db.scalar(select(Mention).where(Mention.remote_id == "2"))
    assert m2 is not None
    service.correct_label(db, brand.principal, brand.id, m2.id, "positive")
    rep2 = service.reputation(
        db,
        brand.principal,
        brand.id,
        start=day1 - dt.timedelta(hours=9),
        end=day2 + dt.timedelta(hours=12),
        bucket="day",
    )
    assert {r.query_id: r for r in rep2.queries}[a].net == pytest.approx(1.0)
    with pytest.raises(InvalidInput):
        service.reputation(db, brand.principal, brand.id, start=day2, end=day1)


class _Receiver:
    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append((dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    r = _Receiver()
    yield r
    r.close()


def test_volume_spike_alerts_in_app_and_by_signed_webhook(
    db: Session, brand: Brand, receiver: _Receiver
) -> None:
    qid = _q(db, brand, "Acme", "acme")
    secret = "s" * 32
    service.add_alert_target(
        db, brand.principal, brand.id, AlertTargetCreate(target=receiver.url, secret=secret)
    )
    now = dt.datetime(2026, 1, 26, 10, 5, tzinfo=dt.UTC)  # a Monday
    judged = now.replace(minute=0) - dt.timedelta(hours=1)
    items = []
    n = 0
    for week in range(1, 5):  # the same hour of the previous Mondays: 2 or 3 mentions
        for k in range(2 + week % 2):
            n += 1
            items.append(_item(n, "acme ok", at=judged - dt.timedelta(weeks=week, minutes=-k)))
    for k in range(30):  # the judged hour: 30 mentions, all angry
        n += 1
        items.append(_item(n, "acme is terrible", at=judged + dt.timedelta(minutes=k)))
    service.ingest(db, brand.id, items, source=service.MentionSource.file, keep_unmatched=True)
    raised = service.check_alerts(db, brand.id, now=now)
    assert {a.kind for a in raised} == {"volume", "negative_share"}
    vol = next(a for a in raised if a.kind == "volume")
    assert vol.observed == 30 and vol.expected == pytest.approx(2.5) and vol.query_id == qid
    assert vol.window_start == judged
    notes = db.scalars(
        select(Notification).where(
            Notification.workspace_id == brand.id, Notification.kind == "listening.alert"
        )
    ).all()
    assert len(notes) == 2
    assert len(receiver.requests) == 2
    headers, body = receiver.requests[0]
    assert headers["X-Dialogo-Signature"] == service.sign(
        secret, headers["X-Dialogo-Timestamp"], body
    )
    assert json.loads(body)["query"]["id"] == qid
    assert all(a.delivery and next(iter(a.delivery.values())) == {"status": 204} for a in raised)
    # Raised once per hour and kind.
    assert service.check_alerts(db, brand.id, now=now) == []
    assert db.scalar(select(func.count()).select_from(ListeningAlert)) == 2


def test_no_alert_for_a_usual_hour_and_failed_webhook_is_recorded(
    db: Session, brand: Brand
) -> None:
    _q(db, brand, "Acme", "acme")
    service.add_alert_target(
        db,
        brand.principal,
        brand.id,
        AlertTargetCreate(target="http://127.0.0.1:9/none", secret="k" * 20),
    )
    service.add_alert_target(  # the cloud metadata address: refused by the outbound policy
        db,
        brand.principal,
        brand.id,
        AlertTargetCreate(target="http://169.254.169.254/latest", secret="k" * 20),
    )
    now = dt.datetime(2026, 1, 26, 10, 5, tzinfo=dt.UTC)
    judged = now.replace(minute=0) - dt.timedelta(hours=1)
    items = []
    n = 0
    for week in range(0, 5):
        for k in range(20):
            n += 1
            items.append(_item(n, "acme fine", at=judged - dt.timedelta(weeks=week, minutes=-k)))
    service.ingest(db, brand.id, items, source=service.MentionSource.file, keep_unmatched=True)
    assert service.check_alerts(db, brand.id, now=now) == []
    for k in range(200):
        n += 1
        items.append(_item(n, "acme fine", at=judged + dt.timedelta(seconds=k)))
    service.ingest(db, brand.id, items, source=service.MentionSource.file, keep_unmatched=True)
    with guarded_client(OutboundPolicy.from_allow_list(["127.0.0.0/8"])) as http:
        raised = service.check_alerts(db, brand.id, now=now, http=http)
    assert [a.kind for a in raised] == ["volume"]
    refused, unreachable = sorted(raised[0].delivery.values(), key=lambda d: str(d))
    assert "internal address" in refused["error"]  # never fetched
    assert "error" in unreachable and "internal" not in unreachable["error"]
