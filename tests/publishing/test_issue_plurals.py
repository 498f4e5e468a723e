"""A provider's counting refusal ("1 character", "4 characters") reaches the composer as a
plural pair: ``validate_post`` keeps the pair and the number's parameter in its ``IssueOut``,
which says it in English (``message``) and in the reader's language (``render``)."""

from __future__ import annotations

from babel.support import NullTranslations
from sqlalchemy.orm import Session

from dialogo.channels.crypto import CredentialCipher
from dialogo.core.i18n import Formatter, Plural, translator
from dialogo.providers.base import Draft, ValidationIssue
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.testing import FakeNetwork
from dialogo.publishing import service as publishing
from dialogo.publishing.schemas import IssueOut
from tests.publishing.conftest import Brand, compose

FORMS = ("%(length)s character; none allowed", "%(length)s characters; none allowed")
ITALIAN = ("%(length)s carattere; nessuno ammesso", "%(length)s caratteri; nessuno ammessi")


def counting(network: FakeNetwork) -> ProviderRegistry:
    """``network``'s provider refusing every text with a counting issue (a test double: its
    pair is not marked for the localiser)."""

    class Counting(network.provider_class()):  # type: ignore[misc]
        def validate(self, draft: Draft) -> list[ValidationIssue]:
            return [
                ValidationIssue(
                    "too_long", Plural(FORMS, count="length"), params={"length": len(draft.text)}
                )
            ]

    return ProviderRegistry({network.name: Counting})


class Italian(NullTranslations):
    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        if (msgid1, msgid2) == FORMS:
            return ITALIAN[0] if n == 1 else ITALIAN[1]
        return super().ngettext(msgid1, msgid2, n)


def issue_for(
    db: Session, brand: Brand, network: FakeNetwork, cipher: CredentialCipher, text: str
) -> IssueOut:
    post = compose(db, brand, text)
    [result] = publishing.validate_post(
        db, brand.principal, brand.id, post.id, registry=counting(network), cipher=cipher
    )
    [issue] = result.issues
    return issue


def test_a_providers_counting_issue_keeps_its_plural_pair(
    db: Session, brand: Brand, network: FakeNetwork, cipher: CredentialCipher
) -> None:
    one = issue_for(db, brand, network, cipher, "a")
    four = issue_for(db, brand, network, cipher, "abcd")
    for issue in (one, four):
        assert (issue.code, issue.field) == ("too_long", "text")
        assert (issue.template, issue.template_plural, issue.count_param) == (*FORMS, "length")
    assert one.message == "1 character; none allowed"
    assert four.message == "4 characters; none allowed"
    assert one.render(translator("en")) == "1 character; none allowed"
    assert four.render(translator("en")) == "4 characters; none allowed"
    italian, number = Italian(), Formatter("it").number
    assert one.render(italian, number) == "1 carattere; nessuno ammesso"
    assert four.render(italian, number) == "4 caratteri; nessuno ammessi"
    # What the API returns (and a client stores) is enough to say it again.
    again = IssueOut.model_validate(four.model_dump())
    assert again.render(italian, number) == "4 caratteri; nessuno ammessi"
