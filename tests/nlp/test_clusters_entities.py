"""Topic clusters named by their top terms, and brand/product names with simple variants."""

import random

from dialogo.nlp.clusters import cluster_texts
from dialogo.nlp.entities import Gazetteer

DELIVERY = ["package never arrived", "courier lost my parcel", "delivery late again"]
BILLING = ["charged twice on my invoice", "refund for the double charge", "billing error again"]
COFFEE = ["espresso tastes great", "lovely espresso and cappuccino", "best cappuccino in town"]


def _posts(seed: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    texts, truth = [], []
    for _ in range(30):
        for name, pool in (("delivery", DELIVERY), ("billing", BILLING), ("coffee", COFFEE)):
            texts.append(
                f"{rng.choice(pool)}, {rng.choice(pool)} @acme http://t.co/x{rng.random()}"
            )
            truth.append(name)
    return texts, truth


def test_clusters_recover_the_topics_and_are_named_by_their_terms() -> None:
    texts, truth = _posts(1)
    clusters = cluster_texts(texts, k=3)
    assert len(clusters) == 3
    assert sum(c.size for c in clusters) == len(texts)
    for c in clusters:
        kinds = {truth[i] for i in c.members}
        assert len(kinds) == 1, c  # each cluster is one topic
        assert c.label == " · ".join(c.terms) and 1 <= len(c.terms) <= 4
        assert not any(t.startswith(("http", "@")) or t in ("acme", "the") for t in c.terms)
    labels = " ".join(c.label for c in clusters)
    assert "espresso" in labels or "cappuccino" in labels
    assert cluster_texts(texts, k=3) == clusters  # deterministic


def test_too_little_text_gives_no_clusters() -> None:
    assert cluster_texts([]) == []
    assert cluster_texts(["ciao"] * 5) == []
    assert cluster_texts(["", "the and", "🙂"] * 10) == []
    assert cluster_texts(["\x00\ud800 junk"] * 40) == []


def test_gazetteer_finds_names_and_simple_variants() -> None:
    g = Gazetteer.of(
        [
            ("Acme Corp", "Acme Corp", "brand"),
            ("Rival", "Rival", "competitor"),
            ("Caffè Nero", "Caffè Nero", "product"),
            ("Acme", "Acme Corp", "brand"),
        ]
    )
    assert g.find("I love ACME CORP's new app") == (("Acme Corp", "brand"),)
    assert g.find("#acmecorp vs @Rival") == (("Acme Corp", "brand"), ("Rival", "competitor"))
    assert g.find("acme-corp and acme.corp") == (("Acme Corp", "brand"),)
    assert g.find("un caffe nero, per favore") == (("Caffè Nero", "product"),)
    assert g.find("rivals everywhere") == (("Rival", "competitor"),)
    assert g.find("Rivalry and acmeville are other words") == ()
    assert g.find("") == () and g.find(None) == ()
    assert not Gazetteer.of([]) and Gazetteer.of([]).find("acme") == ()
    assert not Gazetteer.of([("!!", "!!", "brand")])
