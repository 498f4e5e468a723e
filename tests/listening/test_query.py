import random

import pytest

from dialogo.listening.query import (
    MAX_QUERY_LENGTH,
    QuerySet,
    QuerySyntaxError,
    compile_query,
    prepare,
)

DOC = prepare(
    "Acme delivery was LATE again, customer service useless #AcmeFail @AcmeSupport wi-fi",
    lang="en",
    author="@Bob",
    channels=["bluesky", "42"],
)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("acme", True),
        ("ACME", True),
        ("acme AND delivery", True),
        ("acme delivery", True),  # juxtaposition is AND
        ("acme AND refund", False),
        ("refund OR late", True),
        ("acme NOT late", False),
        ("acme -late", False),
        ("acme NOT refund", True),
        ("NOT refund AND acme", True),
        ('"customer service"', True),
        ('"service customer"', False),
        ('"delivery * late"', True),
        ('"wi fi"', True),
        ("wi-fi", True),
        ("deliv*", True),
        ("*cme", True),
        ("l?te", True),
        ("l?ate", False),
        ("#acmefail", True),
        ("#AcmeFail", True),
        ("#acme", False),
        ("#acme*", True),
        ("acmefail", True),  # a word also matches inside a hashtag
        ("@acmesupport", True),
        ("@acme*", True),
        ("@acme", False),
        ("lang:en", True),
        ("lang:it acme", False),
        ("from:bob", True),
        ("from:@BOB", True),
        ("from:alice", False),
        ("channel:bluesky", True),
        ("channel:42", True),
        ("channel:mastodon", False),
        ("(acme OR foo) AND (late OR early) NOT refund", True),
        ("(foo OR bar) AND acme", False),
        ("acme AND (refund OR (late AND NOT again))", False),
        ("ORacle OR acme", True),  # keywords only as whole words
        ("acme and delivery", False),  # lower-case "and" is a word to find
    ],
)
def test_matches(query: str, expected: bool) -> None:
    assert compile_query(query).matches(DOC) is expected


@pytest.mark.parametrize(
    ("query", "position", "fragment"),
    [
        ("acme AND", 8, "ends too early"),
        ("(acme OR b", 10, "ends too early"),
        ("acme)", 4, "unexpected"),
        ('acme "late', 5, "unclosed quote"),
        ("acme OR OR b", 8, "unexpected 'OR'"),
        ("OR acme", 0, "unexpected 'OR'"),
        ("acme foo:bar", 5, "unknown field 'foo:'"),
        ("lang:", 4, "unexpected"),
        ("NOT acme", 0, "only a negation"),
        ("", 0, "empty"),
        ("   ", 0, "empty"),
        ('acme ""', 5, "empty phrase"),
        ("acme ***", 5, "no letters"),
        ("(" * 50 + "a" + ")" * 50, 0, "nested"),
        ("a " * (MAX_QUERY_LENGTH), MAX_QUERY_LENGTH, "longer"),
    ],
)
def test_syntax_errors_say_where(query: str, position: int, fragment: str) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        compile_query(query)
    assert info.value.position == position
    assert fragment in info.value.message
    assert f"position {position}" in info.value.message
    assert info.value.code == "query_syntax_error"
    assert info.value.pointer().endswith("^")


WORDS = ["acme", "beta", "late", "refund", "great", "service", "app", "ok"]


def _random_query(rng: random.Random, depth: int = 0) -> str:
    r = rng.random()
    if depth > 2 or r < 0.35:
        kind = rng.random()
        w = rng.choice(WORDS)
        if kind < 0.1:
            return f"#{w}"
        if kind < 0.2:
            return f"{w[:2]}*"
        if kind < 0.3:
            return f'"{w} {rng.choice(WORDS)}"'
        if kind < 0.35:
            return f"lang:{rng.choice(['it', 'en'])}"
        return w
    a = _random_query(rng, depth + 1)
    b = _random_query(rng, depth + 1)
    op = rng.choice(["AND", "OR", "AND NOT", ""])
    return f"({a} {op} {b})"


def test_query_set_agrees_with_evaluating_every_query() -> None:
    rng = random.Random(3)
    queries: dict[int, str] = {}
    while len(queries) < 150:
        q = _random_query(rng)
        try:
            compile_query(q)
        except QuerySyntaxError:
            continue
        queries[len(queries)] = q
    qs = QuerySet(queries)
    compiled = {qid: compile_query(q) for qid, q in queries.items()}
    for _ in range(400):
        text = " ".join(
            rng.choice(WORDS + ["#" + w for w in WORDS] + ["x", "y"])
            for _ in range(rng.randrange(0, 12))
        )
        doc = prepare(text, lang=rng.choice(["it", "en", "und"]))
        expected = sorted(qid for qid, c in compiled.items() if c.matches(doc))
        assert qs.match(doc) == expected, text


def test_query_set_narrows_candidates() -> None:
    qs = QuerySet({1: "acme", 2: "beta OR gamma", 3: '"zeta tau"', 4: "foo NOT bar"})
    doc = prepare("nothing relevant here")
    assert qs.candidates(doc) == set()
    assert qs.match(prepare("Beta and zeta tau")) == [2, 3]


def test_wildcards_and_fields_are_narrowed_through_the_shared_index() -> None:
    qs = QuerySet(
        {
            1: "deliv* AND lang:en",  # the word prefix is rarer than the language: it narrows
            2: "lang:en acme",
            3: '"late deliv*"',
            4: "*cme",  # no literal prefix: evaluated on every document
            5: "#acme* OR deliv?",
        }
    )
    english = prepare("nothing relevant here", lang="en")
    assert qs.candidates(english) == {4, 5}
    doc = prepare("Acme: late delivery again", lang="en")
    assert qs.candidates(doc) >= {1, 2, 3}
    assert qs.match(doc) == [1, 2, 3, 4]
    assert qs.match(prepare("late delivery", lang="it")) == [3]
    assert qs.match(prepare("#acmefail deliva")) == [5]


def test_network_search_asks_for_whole_words_before_prefixes_and_fields() -> None:
    from dialogo.listening.service import search_terms

    assert search_terms(compile_query("deliv* acme")) == ["acme"]
    assert search_terms(compile_query("lang:it acme")) == ["acme"]
    assert search_terms(compile_query("deliv*")) == []
    assert search_terms(compile_query("acme OR deliv*")) == []
