"""The topics page: mentions grouped into clusters named by their top terms, and the brands and
products the mentions name; names also show on the Listening page."""

from __future__ import annotations

import datetime as dt
import random
import re

from sqlalchemy.orm import Session

from dialogo.accounts.models import Workspace
from dialogo.listening import service as listening
from dialogo.listening.models import MentionSource
from dialogo.listening.schemas import QueryCreate
from tests.web.conftest import Browser

POOLS = {
    "delivery": ["parcel never arrived", "courier lost the parcel", "delivery late again"],
    "coffee": ["espresso tastes great", "lovely espresso and cappuccino", "best cappuccino"],
}


def test_topics_and_names(signed_in: Browser, db: Session, workspace: Workspace) -> None:
    listening.add_query(
        db, workspace.id, QueryCreate(name="Aurora", query='aurora OR "Aurora Gold"')
    )
    listening.add_query(
        db, workspace.id, QueryCreate(name="Vesuvio", query="vesuvio", kind="competitor")
    )
    rng = random.Random(5)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    items = []
    for i in range(40):
        topic = "delivery" if i % 2 else "coffee"
        brand = "Aurora" if i % 4 < 2 else "#vesuvio"
        extra = " with aurora-gold beans" if i % 10 == 0 else ""
        text = f"{brand}: {rng.choice(POOLS[topic])}, {rng.choice(POOLS[topic])}{extra}"
        items.append(
            listening.Incoming(channel="import", remote_id=str(i), text=text, posted_at=now)
        )
    listening.ingest(db, workspace.id, items, source=MentionSource.file, keep_unmatched=True)
    db.commit()
    base = f"/w/{workspace.id}/listening"
    page = signed_in.get(f"{base}/topics")
    assert page.status_code == 200
    clusters = re.findall(r'<li class="topic-cluster">\s*<h3>([^<]+)</h3>', page.text)
    assert len(clusters) >= 2
    assert any("espresso" in c or "cappuccino" in c for c in clusters)
    assert any("parcel" in c or "delivery" in c or "courier" in c for c in clusters)
    names = page.text.split('id="listening-names"')[1]
    rows = re.findall(r'<th scope="row">([^<]+)</th><td>([^<]+)</td><td>(\d+)</td>', names)
    assert ("Aurora", "Our brand", "20") in rows
    assert ("Vesuvio", "Competitor", "20") in rows
    assert ("Aurora Gold", "Product", "4") in rows
    # Names on the mentions of the Listening page.
    main = signed_in.get(base, params={"q": "vesuvio"})
    assert main.status_code == 200
    assert '<b class="name-competitor">Vesuvio</b>' in main.text
    assert f'href="{base}/topics"' in main.text
    # Bad parameters fall back to defaults instead of failing.
    assert signed_in.get(f"{base}/topics", params={"query": "x", "days": "-3"}).status_code == 200
