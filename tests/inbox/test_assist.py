"""Saved replies with variables, the authenticity guard, and suggestions from past answers."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from dialogo.core.errors import Conflict, InvalidInput
from dialogo.inbox import assist, ingest
from dialogo.inbox import service as inbox
from dialogo.inbox.models import Conversation
from tests.inbox.conftest import Brand, InboxNetwork, keyword_analyser


def test_templates_fill_known_variables_and_refuse_unknown_ones() -> None:
    body = "Ciao {name}, sono {agent} di {brand}. {json: keeps}"
    assert assist.render(body, {"name": "Ada", "agent": "Bea", "brand": "Aurora"}) == (
        "Ciao Ada, sono Bea di Aurora. {json: keeps}"
    )
    with pytest.raises(assist.UnknownVariable) as caught:
        assist.check_template("Hi {firstname} {surname}")
    assert caught.value.names == ["firstname", "surname"]


def test_authenticity_counts_near_copies_and_ignores_handles() -> None:
    canned = "Thanks for reaching out! Please DM us your order number and we will help."
    recent = [f"@user{i} {canned}" for i in range(4)] + ["Our shop opens at 9 on Sundays."]
    found = assist.authenticity(f"@someone {canned}", recent)
    assert found.copies == 4 and found.canned and found.score > 0.99
    personal = assist.authenticity("So sorry the cup broke, Ada: a new one leaves today.", recent)
    assert personal.copies == 0 and not personal.canned
    assert assist.authenticity("anything", []).copies == 0
    assert assist.personal_share([0.1, 0.95, 0.2, 0.99]) == 0.5
    assert assist.personal_share([]) is None


def test_suggestions_come_from_the_most_similar_past_questions() -> None:
    index = assist.SuggestionIndex(
        [
            assist.Example(
                "my order never arrived where is it", "Sorry! DM us the order number.", "1"
            ),
            assist.Example("when do you open on sunday", "From 9 to 13 on Sundays.", "2"),
            assist.Example("the app crashes at login", "Please update the app to 4.2.", "3"),
            assist.Example("is the shop open on sunday morning", "From 9 to 13 on Sundays.", "4"),
        ]
    )
    found = index.suggest("@brand are you open sunday?", k=3)
    assert found[0].answer == "From 9 to 13 on Sundays."
    assert len({s.answer for s in found}) == len(found)  # the same answer is offered once
    assert index.suggest("zzz qqq") == []
    assert assist.SuggestionIndex([]).suggest("hello") == []
    assert assist.token_f1("@a From 9 to 13", "from 9 to 13 on sundays") == pytest.approx(0.8)


def test_saved_replies_and_the_guard_in_the_service(
    db: Session, brand: Brand, network: InboxNetwork
) -> None:
    m = network.message("is it open?", author="ada", conversation_id="t")
    ingest.store_messages(db, brand.channel, [m], analyser=keyword_analyser)
    conv = db.query(Conversation).one()
    saved = inbox.create_saved_reply(
        db, brand.principal, brand.id, "Hours", "Ciao {name}! Da {brand}."
    )
    text = inbox.render_saved_reply(db, brand.principal, brand.id, saved.id, conv)
    assert text == "Ciao Ada! Da Brand."
    with pytest.raises(InvalidInput):
        inbox.create_saved_reply(db, brand.principal, brand.id, "Bad", "Hi {nmae}")
    with pytest.raises(Conflict):
        inbox.create_saved_reply(db, brand.principal, brand.id, "Hours", "again")
    same = "Thanks for reaching out, we will get back to you shortly."
    for _ in range(3):
        inbox.create_reply(db, brand.principal, brand.id, conv.id, same)
    with pytest.raises(Conflict) as caught:
        inbox.create_reply(db, brand.principal, brand.id, conv.id, same, allow_canned=False)
    assert caught.value.code == "reply_canned"
    reply = inbox.create_reply(db, brand.principal, brand.id, conv.id, same)  # confirmed
    assert reply.copy_score > 0.99
    (share,) = inbox.personal_shares(db, brand.principal, brand.id)
    assert share.replies == 4 and share.personal_share == pytest.approx(0.25)
