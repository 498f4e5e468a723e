"""Links (UTM conventions, short links, bot and flood filtering, unique visitors without
personal data), conversions (signed webhook, pixel, CSV all-or-nothing) and ROI."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialogo.accounts.permissions import Role
from dialogo.accounts.service import Principal
from dialogo.analytics import conversions, links, reports
from dialogo.analytics.models import Conversion, LinkClick, Spend, VisitorSalt
from dialogo.analytics.schemas import ConversionIn, LinkCreate, SpendIn
from dialogo.core.errors import AuthenticationFailed, InvalidInput, NotFound, PermissionDenied
from tests.analytics.conftest import Brand, campaign
from tests.factories import add_member

NOW = dt.datetime(2026, 5, 4, 10, 0, tzinfo=dt.UTC)
BROWSER = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0 Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def test_utm_naming_conventions() -> None:
    assert links.utm_value("Saldi d'Estate  2026!") == "saldi-d-estate-2026"
    assert links.utm_value("Caffè Ùnico") == "caffe-unico"
    url = links.build_utm_url(
        "https://shop.example/p?ref=1&utm_source=old#top",
        {
            "utm_source": "Bluesky",
            "utm_medium": "social",
            "utm_campaign": "Spring Sale",
            "utm_term": None,
        },
    )
    assert url == (
        "https://shop.example/p?ref=1&utm_source=bluesky&utm_medium=social"
        "&utm_campaign=spring-sale#top"
    )
    with pytest.raises(InvalidInput, match="not an http"):
        links.build_utm_url("javascript:alert(1)", {})
    with pytest.raises(InvalidInput, match="unknown UTM"):
        links.build_utm_url("https://x.example", {"utm_bogus": "1"})


def make_link(db: Session, brand: Brand, **extra: object) -> links.ShortLink:
    return links.create_link(
        db,
        brand.principal,
        brand.id,
        LinkCreate(url="https://shop.example/jacket", channel_id=brand.channel.id, **extra),  # type: ignore[arg-type]
    )


def test_a_short_link_carries_the_campaign_and_channel_tags(db: Session, brand: Brand) -> None:
    spring = campaign(db, brand, "Spring Sale", utm={"utm_medium": "organic"})
    link = make_link(db, brand, campaign_id=spring)
    assert len(link.code) == links.CODE_LENGTH
    assert link.destination == (
        "https://shop.example/jacket?utm_source=sandbox&utm_medium=organic&utm_campaign=spring-sale"
    )
    with pytest.raises(NotFound):
        make_link(db, brand, campaign_id=999_999)


def test_viewers_cannot_create_links(db: Session, brand: Brand) -> None:
    viewer = add_member(db, brand.workspace, brand.owner, Role.viewer)
    with pytest.raises(PermissionDenied):
        links.create_link(
            db, Principal.for_user(viewer), brand.id, LinkCreate(url="https://shop.example/x")
        )
    assert links.list_links(db, Principal.for_user(viewer), brand.id) == []


def click(
    db: Session, code: str, at: dt.datetime, ua: str = BROWSER, ip: str = "203.0.113.5"
) -> None:
    links.record_click(db, code, address=ip, user_agent=ua, now=at)


def test_clicks_bots_floods_and_unique_visitors(db: Session, brand: Brand) -> None:
    link = make_link(db, brand)
    click(db, link.code, NOW)
    click(db, link.code, NOW + dt.timedelta(minutes=30))  # same person again: 1 unique
    click(db, link.code, NOW, ip="198.51.100.7")  # someone else
    click(db, link.code, NOW, ua=GOOGLEBOT)
    click(db, link.code, NOW, ua="")
    # A flood: 50 requests in a minute from one address with a browser's user agent.
    for n in range(50):
        click(db, link.code, NOW + dt.timedelta(hours=2, seconds=n), ip="192.0.2.66")
    stats = links.link_stats(db, [link.id])[link.id]
    assert stats == {"clicks": 3, "rejected": 52, "unique_visitors": 2}
    reasons = dict(
        db.execute(
            select(LinkClick.rejected_reason, func.count())
            .where(LinkClick.link_id == link.id)
            .group_by(LinkClick.rejected_reason)
        ).all()
    )
    assert reasons == {None: 3, "bot": 2, "flood": 50}
    # Nothing personal is stored: no address, no user agent, only a salted hash.
    for row in db.scalars(select(LinkClick).where(LinkClick.link_id == link.id)):
        assert "203.0.113.5" not in row.visitor and len(row.visitor) == 32
    with pytest.raises(NotFound):
        click(db, "nope", NOW)


def test_visitor_ids_change_every_day_and_old_salts_are_forgotten(
    db: Session, brand: Brand
) -> None:
    today = links.visitor_id(db, brand.id, "203.0.113.5", BROWSER, NOW)
    assert today == links.visitor_id(
        db, brand.id, "203.0.113.5", BROWSER, NOW + dt.timedelta(hours=3)
    )
    tomorrow = links.visitor_id(db, brand.id, "203.0.113.5", BROWSER, NOW + dt.timedelta(days=1))
    assert today != tomorrow
    links.visitor_id(db, brand.id, "x", BROWSER, NOW - dt.timedelta(days=5))
    links.forget_old_salts(db, now=NOW + dt.timedelta(days=1))
    days = set(db.scalars(select(VisitorSalt.day)))
    assert min(days) >= NOW.date()


def test_webhook_signatures() -> None:
    secret = conversions.webhook_secret("k" * 40, 7)
    assert secret != conversions.webhook_secret("k" * 40, 8)
    body = b'{"order_id":"A1","value":"10.00"}'
    header = conversions.sign(secret, body, int(NOW.timestamp()))
    conversions.verify_signature(secret, body, header, now=NOW)
    for bad, code in [
        (None, "signature_missing"),
        ("garbage", "signature_invalid"),
        (header.replace("v1=", "v1=0"), "signature_invalid"),
        (conversions.sign(secret, body + b" ", int(NOW.timestamp())), "signature_invalid"),
        (conversions.sign(secret, body, int(NOW.timestamp()) - 3600), "signature_expired"),
    ]:
        with pytest.raises(AuthenticationFailed) as exc:
            conversions.verify_signature(secret, body, bad, now=NOW)
        assert exc.value.code == code


def test_conversions_are_idempotent_and_credited_through_their_link(
    db: Session, brand: Brand
) -> None:
    spring = campaign(db, brand)
    link = make_link(db, brand, campaign_id=spring)
    data = ConversionIn(order_id="A-1", value=decimal.Decimal("42.50"), link=link.code)
    first, created = conversions.record_conversion(db, brand.id, data, source="webhook", now=NOW)
    again, created_again = conversions.record_conversion(
        db, brand.id, data, source="webhook", now=NOW
    )
    assert created and not created_again and first.id == again.id
    assert (first.campaign_id, first.channel_id, first.link_id) == (
        spring,
        brand.channel.id,
        link.id,
    )


def test_a_pixel_conversion_is_credited_to_the_visitors_last_click(
    db: Session, brand: Brand
) -> None:
    spring = campaign(db, brand)
    link = make_link(db, brand, campaign_id=spring)
    click(db, link.code, NOW)
    visitor = links.visitor_id(db, brand.id, "203.0.113.5", BROWSER, NOW)
    conversion, _ = conversions.record_conversion(
        db,
        brand.id,
        ConversionIn(order_id="P-1", value=decimal.Decimal(20)),
        source="pixel",
        now=NOW + dt.timedelta(minutes=5),
        visitor=visitor,
    )
    assert conversion.link_id == link.id and conversion.campaign_id == spring


CSV_OK = b"order_id,value,currency,occurred_at\nA1,10.00,EUR,2026-05-01T10:00:00Z\nA2,5,EUR,\n"


def test_csv_import_reports_every_broken_row_and_imports_nothing(db: Session, brand: Brand) -> None:
    broken = (
        b"order_id,value,currency,occurred_at,campaign_id\n"
        b"B1,10.00,EUR,2026-05-01T10:00:00Z,\n"  # row 2: fine
        b"B2,ten,EUR,,\n"  # row 3: value
        b",5,EUR,,\n"  # row 4: no order id
        b"B1,7,EUR,,\n"  # row 5: repeats row 2
        b"B5,7,EURO,2026-05-01T10:00:00,\n"  # row 6: currency and naive time
        b"B6,7,EUR,,999999\n"  # row 7: unknown campaign
    )
    with pytest.raises(InvalidInput) as exc:
        conversions.import_conversions_csv(db, brand.principal, brand.id, broken, now=NOW)
    rows = sorted({e["row"] for e in exc.value.details["errors"]})
    assert rows == [3, 4, 5, 6, 7]
    assert exc.value.code == "csv_rows_invalid"
    assert (
        db.scalar(select(func.count(Conversion.id)).where(Conversion.workspace_id == brand.id)) == 0
    )

    report = conversions.import_conversions_csv(db, brand.principal, brand.id, CSV_OK, now=NOW)
    assert (report.imported, report.skipped_existing) == (2, 0)
    report = conversions.import_conversions_csv(db, brand.principal, brand.id, CSV_OK, now=NOW)
    assert (report.imported, report.skipped_existing) == (0, 2)
    for bad, code in [
        (b"value\n1\n", "csv_header"),
        (b"order_id,value\n", "csv_empty"),
        (b"\xff\xfe\x00", "csv_encoding"),
    ]:
        with pytest.raises(InvalidInput) as exc:
            conversions.import_conversions_csv(db, brand.principal, brand.id, bad, now=NOW)
        assert exc.value.code == code


def test_roi_roas_cpa_per_campaign_and_channel(db: Session, brand: Brand) -> None:
    spring = campaign(db, brand, "Spring")
    summer = campaign(db, brand, "Summer")
    link = make_link(db, brand, campaign_id=spring)
    click(db, link.code, NOW)
    for n, value in enumerate(("100.00", "50.00")):
        conversions.record_conversion(
            db,
            brand.id,
            ConversionIn(order_id=f"S{n}", value=decimal.Decimal(value), link=link.code),
            source="webhook",
            now=NOW,
        )
    conversions.add_spend(
        db,
        brand.principal,
        brand.id,
        SpendIn(
            day=NOW.date(),
            amount=decimal.Decimal(60),
            campaign_id=spring,
            channel_id=brand.channel.id,
        ),
    )
    report = conversions.import_spend_csv(
        db,
        brand.principal,
        brand.id,
        f"day,amount,campaign_id\n2026-05-02,40,{spring}\n2026-05-02,10,{summer}\n".encode(),
    )
    assert report.imported == 2
    with pytest.raises(InvalidInput) as exc:
        conversions.import_spend_csv(
            db, brand.principal, brand.id, b"day,amount\n2026-13-01,5\n2026-05-01,-3\n"
        )
    assert sorted(e["row"] for e in exc.value.details["errors"]) == [2, 3]
    assert db.scalar(select(func.count(Spend.id))) == 3

    rows = {r.name: r for r in reports.roi(db, brand.principal, brand.id, "campaign")}
    s = rows["Spring"]
    assert (s.spend, s.revenue, s.conversions, s.clicks) == (100.0, 150.0, 2, 1)
    assert (
        s.roi == pytest.approx(0.5)
        and s.roas == pytest.approx(1.5)
        and s.cpa == pytest.approx(50.0)
    )
    w = rows["Summer"]
    assert (w.spend, w.revenue, w.roi, w.roas, w.cpa) == (10.0, 0.0, -1.0, 0.0, None)
    by_channel = {r.id: r for r in reports.roi(db, brand.principal, brand.id, "channel")}
    assert (
        by_channel[brand.channel.id].revenue == 150.0 and by_channel[brand.channel.id].spend == 60.0
    )
    with pytest.raises(InvalidInput):
        reports.roi(db, brand.principal, brand.id, "planet")


def test_attribution_report_from_clicks_and_conversions(db: Session, brand: Brand) -> None:
    link = make_link(db, brand)
    click(db, link.code, NOW)
    click(db, link.code, NOW, ip="198.51.100.9")  # never converts
    visitor = links.visitor_id(db, brand.id, "203.0.113.5", BROWSER, NOW)
    conversions.record_conversion(
        db,
        brand.id,
        ConversionIn(order_id="M1", value=decimal.Decimal(30)),
        source="pixel",
        now=NOW + dt.timedelta(minutes=1),
        visitor=visitor,
    )
    report = reports.attribution_report(db, brand.principal, brand.id)
    assert (report.journeys, report.conversions) == (2, 1)
    for model, credit in report.models.items():
        assert credit == {brand.channel.name: 30.0}, model
