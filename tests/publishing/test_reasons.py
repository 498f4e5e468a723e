"""A variant's last error keeps its type and parameters, so the pages and the notifications
word it in the reader's language (``dialogo.publishing.reasons``); old rows show their text."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from dialogo.core import i18n
from dialogo.notifications import kinds
from dialogo.notifications.models import Notification
from dialogo.providers.base import Draft, Provider, PublishResult, RemoteRef
from dialogo.providers.errors import InvalidPayload, RateLimited, TransientError
from dialogo.publishing import dispatcher, reasons
from dialogo.publishing.models import PostVariant, VariantStatus
from dialogo.publishing.reasons import REASONS, variant_reason
from tests.catalogues import stand_in
from tests.publishing.test_dispatcher import Rig, rig  # noqa: F401 - the fixture

IT = i18n.translator("it")
EN = i18n.translator("en")


def test_a_refused_post_keeps_the_error_type_and_its_notification_is_worded_by_it(
    rig: Rig,  # noqa: F811 - the fixture
) -> None:
    post = rig.schedule("Ciao #a #b")
    rig.network.fail_next(InvalidPayload("too many hashtags", issues=["30 at most"]))
    rig.clock.advance(minutes=2)
    rig.run()
    variant = rig.variant(post)
    assert variant.status == VariantStatus.failed
    assert variant.last_error == "too many hashtags (30 at most)"  # the English text stays
    assert variant.last_error_code == "invalid_payload"
    assert variant.last_error_params == {"detail": "too many hashtags (30 at most)"}
    note = rig.db.scalar(select(Notification).where(Notification.kind == "post_failed"))
    assert note is not None
    assert note.body == "the network refused the content — details: too many hashtags (30 at most)"
    italian = kinds.render(note, "it")
    assert (
        italian.body
        == "la rete ha rifiutato il contenuto — dettagli: too many hashtags (30 at most)"
    )


def test_the_dispatchers_own_reasons_carry_their_numbers(rig: Rig) -> None:  # noqa: F811
    post = rig.schedule()
    rig.network.fail_next(RateLimited("slow down", retry_after=120))
    rig.clock.advance(minutes=2)
    rig.run()
    variant = rig.variant(post)
    assert (variant.last_error_code, variant.last_error_params) == (
        "rate_limited",
        {"detail": "slow down"},
    )
    rig.network.fail_next(*[TransientError("503") for _ in range(50)])
    for _ in range(dispatcher.PUBLISH_MAX_ATTEMPTS + 1):
        rig.clock.advance(hours=2)
        rig.run()
    variant = rig.variant(post)
    assert variant.status == VariantStatus.failed
    assert variant.last_error_code == "attempts_exhausted"
    attempts = dispatcher.PUBLISH_MAX_ATTEMPTS
    assert variant.last_error_params == {
        "attempts": attempts,
        "error": "transient",
        "detail": "503",
    }
    shown = variant_reason(IT, variant.last_error_code, variant.last_error_params, "")
    # the sentence is the localiser's to translate; the reason inside it is Italian already
    assert str(attempts) in shown
    assert shown.endswith(": la rete ha avuto un problema temporaneo — dettagli: 503")
    note = rig.db.scalar(select(Notification).where(Notification.kind == "post_failed"))
    assert note is not None and kinds.render(note, "it").body == shown


def test_a_removed_channel_and_a_revoked_token_are_typed(
    rig: Rig,  # noqa: F811
) -> None:
    removed = rig.schedule("two")
    rig.db.execute(
        update(PostVariant).where(PostVariant.post_id == removed.id).values(channel_id=None)
    )
    rig.db.commit()
    rig.clock.advance(minutes=2)
    rig.run()
    assert rig.variant(removed).last_error_code == "channel_removed"
    assert variant_reason(EN, "channel_removed", None, "") == REASONS["channel_removed"]

    waiting = rig.schedule("one")
    rig.network.revoke(rig.brand.account.remote_id)
    rig.clock.advance(minutes=2)
    rig.run()
    variant = rig.variant(waiting)
    assert variant.status == VariantStatus.waiting_channel
    assert variant.last_error_code == "reauth_required"
    assert variant.last_error_params == {"detail": variant.last_error}


def test_a_success_after_a_retry_clears_the_error_type(rig: Rig) -> None:  # noqa: F811
    post = rig.schedule()
    rig.network.fail_next(TransientError("503"))
    rig.clock.advance(minutes=2)
    rig.run()
    variant = rig.variant(post)
    assert (variant.last_error_code, variant.last_error_params) == ("transient", {"detail": "503"})
    for _ in range(3):
        rig.clock.advance(seconds=30)
        rig.run()
    variant = rig.variant(post)
    assert variant.status == VariantStatus.published
    assert (variant.last_error, variant.last_error_code, variant.last_error_params) == (
        None,
        None,
        None,
    )


def test_a_failed_first_comment_is_worded_by_its_error_type(
    rig: Rig,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(self: Provider, target: RemoteRef, draft: Draft) -> PublishResult:
        raise InvalidPayload("comments may not hold links")

    monkeypatch.setattr(Provider, "reply", refuse)
    post = rig.schedule("Out!")
    rig.db.execute(  # with a first comment, which the network refuses
        update(PostVariant).where(PostVariant.post_id == post.id).values(first_comment="x")
    )
    rig.db.commit()
    rig.clock.advance(minutes=2)
    rig.run()
    variant = rig.variant(post)
    assert variant.status == VariantStatus.published
    assert variant.last_error_code == "first_comment_failed"
    assert variant.last_error_params == {
        "error": "invalid_payload",
        "detail": "comments may not hold links",
    }
    note = rig.db.scalar(select(Notification).where(Notification.kind == "first_comment_failed"))
    assert note is not None
    assert kinds.render(note, "it").body == (
        "la rete ha rifiutato il contenuto — dettagli: comments may not hold links"
    )


@pytest.mark.parametrize(
    ("code", "params", "text", "expected"),
    [
        # an old row: no code, its text as written
        (None, None, "an older reason", "an older reason"),
        # a code without a phrase (a network's own, a newer version's): the network's text
        # kept as the detail, else the stored text
        ("mastodon_http_404", {"detail": "Mastodon: 404"}, "x", "Mastodon: 404"),
        ("from_the_future", None, "the stored text", "the stored text"),
        # a provider error: its phrase, the network's text as the detail
        (
            "transient",
            {"detail": "503"},
            "shortnet: 503",
            "la rete ha avuto un problema temporaneo — dettagli: 503",
        ),
        # a provider error without a detail kept: the stored text is the detail
        (
            "rate_limited",
            None,
            "slow down",
            "è stato raggiunto il limite di chiamate della rete — dettagli: slow down",
        ),
        # the dispatcher's own sentence, its parameters filled in
        ("processing_timeout", {"network": "instagram", "hours": 24}, "", None),
        # parameters missing: the stored text
        ("processing_timeout", {}, "the stored text", "the stored text"),
    ],
)
def test_reasons_are_worded_from_their_code_else_shown_as_stored(
    code: str | None, params: dict[str, object] | None, text: str, expected: str | None
) -> None:
    shown = variant_reason(IT, code, params, text)
    if expected is None:  # (in English: the sentence is not in the catalogue yet)
        shown = variant_reason(EN, code, params, text)
        assert shown.startswith("Instagram was still processing the media 24 hours after")
    else:
        assert shown == expected


def test_the_network_is_named_as_people_read_it() -> None:
    assert reasons.network_name("instagram") == "Instagram"
    assert reasons.network_name("linkedin") == "LinkedIn"
    assert reasons.network_name("no-such-network") == "no-such-network"
    shown = variant_reason(EN, "processing", {"network": "linkedin"}, "linkedin is processing")
    assert shown == "LinkedIn is processing the media"


def forms(code: str) -> tuple[str, str]:
    template = REASONS[code]
    assert isinstance(template, i18n.Plural), f"{code} does not count"
    return template.forms


# Italian as the localiser will word the counted reasons (the project's catalogue lacks them
# until it runs): the form must follow the number, by the catalogue's plural rule.
ITALIAN_COUNTED = stand_in(
    "it",
    {
        forms("attempts_exhausted"): (
            "rinuncia dopo %(attempts)s tentativo: %(reason)s",
            "rinuncia dopo %(attempts)s tentativi: %(reason)s",
        ),
        forms("unanswered_exhausted"): (
            "%(attempts)s pubblicazione senza risposta: %(reason)s",
            "%(attempts)s pubblicazioni senza risposta: %(reason)s",
        ),
        forms("processing_timeout"): (
            "dopo %(hours)s ora %(network)s elaborava ancora il file",
            "dopo %(hours)s ore %(network)s elaborava ancora il file",
        ),
    },
)
TRANSIENT = {"error": "transient", "detail": "503"}
UNANSWERED = {"error": "outcome_unknown", "detail": "timeout"}


@pytest.mark.parametrize(
    ("code", "params", "english", "italian"),
    [
        (
            "attempts_exhausted",
            {"attempts": 1, **TRANSIENT},
            "gave up after 1 attempt: the network had a temporary problem — details: 503",
            "rinuncia dopo 1 tentativo: la rete ha avuto un problema temporaneo — dettagli: 503",
        ),
        (
            "attempts_exhausted",
            {"attempts": 8, **TRANSIENT},
            "gave up after 8 attempts: the network had a temporary problem — details: 503",
            "rinuncia dopo 8 tentativi: la rete ha avuto un problema temporaneo — dettagli: 503",
        ),
        (
            "unanswered_exhausted",
            {"attempts": 1, **UNANSWERED},
            "1 publish had no answer: the network did not answer in time — details: timeout",
            "1 pubblicazione senza risposta: ",
        ),
        (
            "unanswered_exhausted",
            {"attempts": 0, **UNANSWERED},  # zero takes the plural in both languages
            "0 publishes had no answer: the network did not answer in time — details: timeout",
            "0 pubblicazioni senza risposta: ",
        ),
        (
            "processing_timeout",
            {"network": "instagram", "hours": 1},
            "Instagram was still processing the media 1 hour after the post was sent, so",
            "dopo 1 ora Instagram elaborava ancora il file",
        ),
        (
            "processing_timeout",
            {"network": "instagram", "hours": 24},
            "Instagram was still processing the media 24 hours after the post was sent, so",
            "dopo 24 ore Instagram elaborava ancora il file",
        ),
    ],
)
def test_counted_reasons_take_the_singular_or_the_plural_by_their_number(
    code: str, params: dict[str, object], english: str, italian: str
) -> None:
    assert variant_reason(EN, code, params, "stored").startswith(english)
    assert variant_reason(ITALIAN_COUNTED, code, params, "stored").startswith(italian)


def test_a_counted_reason_without_a_usable_number_shows_the_stored_text() -> None:
    for attempts in ("many", None, True, [8]):
        params = {"attempts": attempts, **TRANSIENT}
        assert variant_reason(ITALIAN_COUNTED, "attempts_exhausted", params, "kept") == "kept"
    # a number stored as text still counts
    shown = variant_reason(EN, "attempts_exhausted", {"attempts": "1", **TRANSIENT}, "kept")
    assert shown.startswith("gave up after 1 attempt: ")


def test_a_translation_that_misspells_a_placeholder_falls_back_to_the_english_form() -> None:
    broken = stand_in(
        "it",
        {
            forms("processing_timeout"): (
                "dopo %(ora)s ora",
                "dopo %(ore)s ore",
            )
        },
    )
    shown = variant_reason(broken, "processing_timeout", {"network": "x", "hours": 1}, "")
    assert shown.startswith("X was still processing the media 1 hour after the post was sent")
