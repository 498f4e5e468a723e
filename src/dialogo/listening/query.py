"""The listening query language: parse once, compile, match many posts fast.

Syntax (keywords in capitals; juxtaposition means AND)::

    acme AND (delivery OR "customer service") NOT refund*
    #acmefail OR @acme lang:it channel:bluesky from:someone -spam

- ``word``: the word, case-insensitive, anywhere in the text (also inside #tags and @names);
  ``*`` matches any run of word characters and ``?`` exactly one (``deliver*``, ``colo?r``).
- ``"exact phrase"``: those words in that order (wildcards allowed inside).
- ``#tag`` / ``@name``: that hashtag / mention only.
- ``lang:it|en|und``, ``from:handle``, ``channel:network-or-channel-id``.
- ``AND``, ``OR``, ``NOT`` (or ``-term``), parentheses. NOT binds tighter than AND, AND than OR.

A syntax error raises :class:`QuerySyntaxError` with the 0-based ``position`` of the offending
character. :class:`QuerySet` matches a post against many compiled queries, evaluating only the
queries one of whose required terms occurs in the post (an inverted index of "trigger" terms).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from lark import Lark, Token, Transformer, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput
from lark.exceptions import VisitError

from dialogo.core.errors import InvalidInput

MAX_QUERY_LENGTH: Final = 2_000
MAX_DEPTH: Final = 40
FIELDS: Final = ("lang", "from", "channel")

_GRAMMAR = r"""
?start: or_expr
?or_expr: and_expr (_OR and_expr)*
?and_expr: not_expr (_AND? not_expr)*
?not_expr: _NOT not_expr -> neg
         | _MINUS atom -> neg
         | atom
?atom: "(" or_expr ")"
     | PHRASE -> phrase
     | HASHTAG -> hashtag
     | MENTION -> mention
     | FIELD -> field
     | WORD -> word

_OR.3: /OR(?![^\s()"])/
_AND.3: /AND(?![^\s()"])/
_NOT.3: /NOT(?![^\s()"])/
_MINUS: /-(?=[^\s()"-])/
PHRASE: /"[^"]*"/
HASHTAG.2: /#[^\s()"#@]+/
MENTION.2: /@[^\s()"#@]+/
FIELD.2: /[A-Za-z_]+:[^\s()"]+/
WORD: /[^\s()"#@:\-][^\s()":]*/

%import common.WS
%ignore WS
"""

_PARSER = Lark(_GRAMMAR, parser="lalr", lexer="basic")
_WORD_RE = re.compile(r"\w+")
_WORD_WILD_RE = re.compile(r"[\w*?]+")
_WILD_HEAD_RE = re.compile(r"[^*?]*")
_HANDLE_RE = re.compile(r"@(\w[\w.\-]*)")
_TAG_RE = re.compile(r"#(\w+)")
_EMPTY: Final[frozenset[str]] = frozenset()


class QuerySyntaxError(InvalidInput):
    code = "query_syntax_error"

    def __init__(self, message: str, *, position: int, query: str) -> None:
        super().__init__(f"{message} (at position {position})", position=position)
        self.position = position
        self.query = query

    def pointer(self) -> str:
        """The query with a caret under the error, for terminals."""
        return f"{self.query}\n{' ' * self.position}^"


# --- documents -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Document:
    """A post prepared once for matching against any number of queries."""

    words: frozenset[str]
    joined: str  # " w1 w2 w3 " for phrases and wildcards
    hashtags: frozenset[str]
    mentions: frozenset[str]
    lang: str = "und"
    author: str = ""
    channels: frozenset[str] = field(default_factory=frozenset)


def prepare(
    text: str,
    *,
    lang: str = "und",
    author: str = "",
    channels: Iterable[str] = (),
    lowered: str | None = None,
    words: list[str] | None = None,
) -> Document:
    r"""``text`` made ready for matching. A caller that has ``text.lower()`` and its runs of
    word characters (``re.findall(r"\w+", text.lower())``, e.g. from :func:`nlp.text.word_runs`)
    already passes them as ``lowered`` and ``words``, both or neither."""
    low = text.lower() if lowered is None else lowered
    if words is None:
        words = _WORD_RE.findall(low)
    return Document(
        words=frozenset(words),
        joined=" " + " ".join(words) + " ",
        hashtags=frozenset(_TAG_RE.findall(low)) if "#" in low else _EMPTY,
        mentions=frozenset(_HANDLE_RE.findall(low)) if "@" in low else _EMPTY,
        lang=lang,
        author=author.lower().lstrip("@") if author else "",
        channels=frozenset(c.lower() for c in channels) if channels else _EMPTY,
    )


# --- compiled nodes --------------------------------------------------------------------------

Matcher = Callable[[Document], bool]
# A trigger is ("w" | "h" | "m" | "lang" | "from" | "channel", value): a necessary term.
Trigger = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Node:
    match: Matcher
    triggers: frozenset[Trigger] | None  # None: cannot be narrowed (always evaluate)
    positive: bool = True  # False when the node is a bare negation
    word: str | None = None  # a plain word (no wildcard): AND/OR of these become set tests


def _wild_regex(pattern: str) -> str:
    return "".join(r"\w*" if ch == "*" else r"\w" if ch == "?" else re.escape(ch) for ch in pattern)


def _term(words: list[str]) -> Node:
    """One word or a phrase of words (each may hold wildcards)."""
    if len(words) == 1 and not any(c in words[0] for c in "*?"):
        w = words[0]
        return Node(lambda d: w in d.words, frozenset({("w", w)}), word=w)
    rx = re.compile(r"(?<= )" + " ".join(_wild_regex(w) for w in words) + r"(?= )")
    search = rx.search
    plain = [w for w in words if not any(c in w for c in "*?")]
    triggers: frozenset[Trigger] | None = None
    if plain:
        triggers = frozenset({("w", max(plain, key=len))})
    else:
        # Each pattern matches exactly one whole word of the document, so the literal part
        # before a pattern's first wildcard is a necessary prefix of some word ("deliv*" →
        # a word starting with "deliv"): a "p" trigger, looked up in the shared prefix index.
        heads = [_WILD_HEAD_RE.match(w).group(0) for w in words]  # type: ignore[union-attr]
        best = max(heads, key=len)
        if best:
            triggers = frozenset({("p", best)})
    return Node(lambda d: search(d.joined) is not None, triggers)


def _set_member(kind: str, value: str, attr: str) -> Node:
    if any(c in value for c in "*?"):
        rx = re.compile(_wild_regex(value) + r"\Z")
        return Node(lambda d: any(rx.match(v) for v in getattr(d, attr)), None)
    return Node(lambda d: value in getattr(d, attr), frozenset({(kind, value)}))


class _Compiler(Transformer[Token, Node]):
    def __init__(self, query: str) -> None:
        super().__init__()
        self.query = query

    def _error(self, message: str, tok: Token) -> QuerySyntaxError:
        return QuerySyntaxError(message, position=int(tok.start_pos or 0), query=self.query)

    def word(self, children: list[Token]) -> Node:
        tok = children[0]
        parts = _WORD_WILD_RE.findall(str(tok).lower())
        if not parts or all(set(p) <= {"*", "?"} for p in parts):
            raise self._error(f"'{tok}' has no letters or digits to search for", tok)
        return _term(parts)

    def phrase(self, children: list[Token]) -> Node:
        tok = children[0]
        parts = _WORD_WILD_RE.findall(str(tok)[1:-1].lower())
        if not parts:
            raise self._error("empty phrase", tok)
        return _term(parts)

    def hashtag(self, children: list[Token]) -> Node:
        tok = children[0]
        value = str(tok)[1:].lower()
        if not re.fullmatch(r"[\w*?]+", value):
            raise self._error(f"invalid hashtag '{tok}'", tok)
        return _set_member("h", value, "hashtags")

    def mention(self, children: list[Token]) -> Node:
        tok = children[0]
        value = str(tok)[1:].lower()
        if not re.fullmatch(r"[\w*?][\w.\-*?]*", value):
            raise self._error(f"invalid mention '{tok}'", tok)
        return _set_member("m", value, "mentions")

    def field(self, children: list[Token]) -> Node:
        tok = children[0]
        name, _, value = str(tok).partition(":")
        name = name.lower()
        value = value.lower().lstrip("@")
        if name not in FIELDS:
            raise self._error(
                f"unknown field '{name}:' (use {', '.join(f + ':' for f in FIELDS)})", tok
            )
        if not value:
            raise self._error(f"'{name}:' needs a value", tok)
        if name == "lang":
            return Node(lambda d: d.lang == value, frozenset({("lang", value)}))
        if name == "from":
            return Node(lambda d: d.author == value, frozenset({("from", value)}))
        return Node(lambda d: value in d.channels, frozenset({("channel", value)}))

    def neg(self, children: list[Node]) -> Node:
        inner = children[0].match
        return Node(lambda d: not inner(d), None, positive=False)

    def and_expr(self, children: list[Node]) -> Node:
        narrowed = [c.triggers for c in children if c.triggers is not None]
        # Any one child's triggers are necessary for the AND; prefer the most selective: terms
        # of the text over fields (``lang:en`` holds for half of all posts), then the fewest.
        # (This is also what ``search_terms`` asks a network's search for.)
        triggers = min(narrowed, key=_selectivity) if narrowed else None
        # Plain words become one subset test on the document's word set.
        words = frozenset(c.word for c in children if c.word is not None)
        matchers = [c.match for c in children if c.word is None]
        if words:
            matchers.insert(0, _all_words(words))
        return Node(_all(matchers), triggers)

    def or_expr(self, children: list[Node]) -> Node:
        triggers: frozenset[Trigger] | None = frozenset()
        for c in children:
            if c.triggers is None:
                triggers = None
                break
            triggers = triggers | c.triggers  # type: ignore[operator]
        words = frozenset(c.word for c in children if c.word is not None)
        matchers = [c.match for c in children if c.word is None]
        if words:
            matchers.insert(0, _any_word(words))
        return Node(_any(matchers), triggers)


_FIELD_KINDS: Final = frozenset({"lang", "from", "channel"})


def _selectivity(triggers: frozenset[Trigger]) -> tuple[int, int]:
    """Sort key of an AND's candidate trigger sets: whole words, tags and names first (a
    network search can ask for them), then word prefixes, then fields; fewer terms first."""
    kinds = {kind for kind, _ in triggers}
    rank = 2 if kinds & _FIELD_KINDS else 1 if "p" in kinds else 0
    return (rank, len(triggers))


def _all_words(words: frozenset[str]) -> Matcher:
    if len(words) == 1:
        (w,) = words
        return lambda d: w in d.words
    return lambda d: words <= d.words


def _any_word(words: frozenset[str]) -> Matcher:
    return lambda d: not words.isdisjoint(d.words)


def _all(matchers: list[Matcher]) -> Matcher:
    if len(matchers) == 1:
        return matchers[0]
    if len(matchers) == 2:
        a, b = matchers
        return lambda d: a(d) and b(d)
    return lambda d: all(m(d) for m in matchers)


def _any(matchers: list[Matcher]) -> Matcher:
    if len(matchers) == 1:
        return matchers[0]
    if len(matchers) == 2:
        a, b = matchers
        return lambda d: a(d) or b(d)
    return lambda d: any(m(d) for m in matchers)


def _depth(query: str) -> int:
    depth = best = 0
    in_phrase = False
    for ch in query:
        if ch == '"':
            in_phrase = not in_phrase
        elif not in_phrase and ch == "(":
            depth += 1
            best = max(best, depth)
        elif not in_phrase and ch == ")":
            depth -= 1
    return best


@dataclass(frozen=True, slots=True)
class CompiledQuery:
    text: str
    node: Node

    def matches(self, doc: Document) -> bool:
        return self.node.match(doc)


def compile_query(query: str) -> CompiledQuery:
    """Parse and compile ``query``; raise :class:`QuerySyntaxError` with the position."""
    if not isinstance(query, str) or not query.strip():
        raise QuerySyntaxError("the query is empty", position=0, query=str(query or ""))
    if len(query) > MAX_QUERY_LENGTH:
        raise QuerySyntaxError(
            f"the query is longer than {MAX_QUERY_LENGTH} characters",
            position=MAX_QUERY_LENGTH,
            query=query,
        )
    if _depth(query) > MAX_DEPTH:
        raise QuerySyntaxError(
            f"more than {MAX_DEPTH} nested parentheses", position=query.index("("), query=query
        )
    try:
        tree = _PARSER.parse(query)
        node = _Compiler(query).transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, QuerySyntaxError):
            raise exc.orig_exc from None
        raise
    except UnexpectedEOF as exc:
        raise QuerySyntaxError(
            "the query ends too early (an operator or parenthesis is missing its other side)",
            position=len(query),
            query=query,
        ) from exc
    except UnexpectedCharacters as exc:
        where = int(exc.pos_in_stream or 0)
        ch = query[where] if where < len(query) else ""
        msg = "unclosed quote" if ch == '"' else f"unexpected character {ch!r}"
        raise QuerySyntaxError(msg, position=where, query=query) from exc
    except UnexpectedInput as exc:
        pos = getattr(exc, "pos_in_stream", None)
        token: Any = getattr(exc, "token", None)
        if token is not None and getattr(token, "type", "") == "$END":
            raise QuerySyntaxError(
                "the query ends too early (an operator or parenthesis is missing its other side)",
                position=len(query),
                query=query,
            ) from exc
        shown = str(token) if token is not None else ""
        raise QuerySyntaxError(
            f"unexpected {shown!r}" if shown else "unexpected input",
            position=int(pos if pos is not None else len(query)),
            query=query,
        ) from exc
    if isinstance(node, Token):  # defensive: a bare token means the grammar changed
        raise QuerySyntaxError("unsupported query", position=0, query=query)
    if not node.positive:
        raise QuerySyntaxError(
            "a query cannot be only a negation: say what to look for, then NOT what to exclude",
            position=0,
            query=query,
        )
    return CompiledQuery(text=query, node=node)


class QuerySet:
    """Many compiled queries, keyed by id, matched against one document at a time.

    One shared index of the queries' necessary terms ("triggers": words, word prefixes,
    hashtags, mentions, fields) maps each term to the queries that need it. A document's words
    are looked up in it once (a set intersection in C), whatever the number of queries, and
    only the queries one of whose triggers occurs are evaluated; queries that cannot be
    narrowed (e.g. only wildcards with no literal prefix) are evaluated on every document."""

    def __init__(self, queries: Mapping[int, str | CompiledQuery]) -> None:
        self._queries: dict[int, CompiledQuery] = {
            qid: q if isinstance(q, CompiledQuery) else compile_query(q)
            for qid, q in queries.items()
        }
        self._matchers: dict[int, Matcher] = {qid: q.node.match for qid, q in self._queries.items()}
        self._always: list[int] = []
        self._index: dict[Trigger, list[int]] = {}
        for qid, q in self._queries.items():
            if q.node.triggers is None:
                self._always.append(qid)
            else:
                for trig in q.node.triggers:
                    self._index.setdefault(trig, []).append(qid)
        # The same index split by kind, for set intersections with the document's sets.
        by_kind: dict[str, dict[str, tuple[int, ...]]] = {}
        for (kind, value), qids in self._index.items():
            by_kind.setdefault(kind, {})[value] = tuple(qids)
        self._words = by_kind.get("w", {})
        self._word_keys = frozenset(self._words)
        self._tags = by_kind.get("h", {})
        self._tag_keys = frozenset(self._tags)
        self._names = by_kind.get("m", {})
        self._name_keys = frozenset(self._names)
        self._langs = by_kind.get("lang", {})
        self._authors = by_kind.get("from", {})
        self._channels = by_kind.get("channel", {})
        prefixes = by_kind.get("p", {})
        self._prefixes = prefixes
        # Prefix length → the prefixes of that length.
        lengths: dict[int, set[str]] = {}
        for p in prefixes:
            lengths.setdefault(len(p), set()).add(p)
        self._prefix_keys = [(n, frozenset(ps)) for n, ps in sorted(lengths.items())]

    def __len__(self) -> int:
        return len(self._queries)

    def sources(self) -> tuple[tuple[int, str], ...]:
        """``(id, query text)`` of every query, by id: enough to build an equal set elsewhere
        (another process)."""
        return tuple(sorted((qid, q.text) for qid, q in self._queries.items()))

    def candidates(self, doc: Document) -> set[int]:
        found: set[int] = set(self._always)
        update = found.update
        words = doc.words
        if words:
            index = self._words
            for w in self._word_keys & words:
                update(index[w])
            if self._prefix_keys:
                prefixes = self._prefixes
                for n, keys in self._prefix_keys:
                    for p in keys.intersection([w[:n] for w in words]):
                        update(prefixes[p])
        if doc.hashtags and self._tags:
            for h in self._tag_keys & doc.hashtags:
                update(self._tags[h])
        if doc.mentions and self._names:
            for m in self._name_keys & doc.mentions:
                update(self._names[m])
        hit = self._langs.get(doc.lang)
        if hit:
            update(hit)
        if self._authors:
            hit = self._authors.get(doc.author)
            if hit:
                update(hit)
        if doc.channels and self._channels:
            for c in doc.channels:
                hit = self._channels.get(c)
                if hit:
                    update(hit)
        return found

    def match(self, doc: Document) -> list[int]:
        """Ids of the queries that match ``doc``, in ascending order."""
        matchers = self._matchers
        return sorted([qid for qid in self.candidates(doc) if matchers[qid](doc)])

    def match_many(self, docs: Iterable[Document]) -> list[list[int]]:
        """:meth:`match` over a batch."""
        match = self.match
        return [match(d) for d in docs]
