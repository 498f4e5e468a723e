"""Question and complaint cues, and keyword topics, in Italian and English."""

from __future__ import annotations

import re
from typing import Final

_Q_START_EN = (
    "how what why when where who whom whose which can could would will does do did is are was "
    "were should shall may might anyone anybody any"
)
_Q_START_IT = (
    "come cosa che perché perche quando dove chi quale quali quanto quanta quanti quante "
    "posso possiamo potete potreste sapete sai qualcuno avete hai c'è ce esiste"
)
_QUESTION_START_RE: Final = re.compile(
    r"^\W*(?:@\w+\s+)*(?:"
    + "|".join(sorted(set((_Q_START_EN + " " + _Q_START_IT).split()), key=len, reverse=True))
    + r")\b",
)
_QUESTION_PHRASE_RE: Final = re.compile(
    r"\b(?:any idea|anyone know|does anyone|is there a way|how (?:do|can) i|can you help|"
    r"qualcuno sa|sapete se|come (?:si fa|faccio|posso)|mi sapete dire|è possibile|si può)\b",
)
_QMARK_RE: Final = re.compile(r"\?(?!\S*=)")  # a "?" that is not a URL query string

_COMPLAINT_RE: Final = re.compile(
    r"\b(?:"
    # English
    r"(?:not|isn't|doesn't|don't|never|won't|wasn't|didn't) (?:work|working|arrived|received|"
    r"respond|responding|answer|answered|help|helped|fixed|refunded|delivered)|"
    r"doesn't work|stopped working|broken|refund|still waiting|waiting for (?:hours|days|weeks)|"
    r"worst|terrible|awful|horrible|unacceptable|disappointed|disappointing|ridiculous|rip ?off|"
    r"scam|never again|cancell?ed my|delayed|lost my|lost (?:luggage|bag|package)|"
    r"no (?:response|reply|answer|one (?:answers|helps))|complain\w*|poor service|"
    r"bad service|customer service|overcharged|charged twice|hung up|on hold|fix (?:this|it)|"
    r"shame on|"
    # Italian
    r"non (?:funziona|funzionano|va|risponde|rispondete|risponde nessuno|è arrivat\w|"
    r"mi è arrivat\w|ho ricevuto|riesco)|rimborso|vergogna\w*|pessim\w|schifo|"
    r"ancora in attesa|attesa da|aspetto da|reclam\w+|disserviz\w+|nessuna risposta|"
    r"delus\w|inaccettabil\w|guast\w|rott\w|bloccat\w|truff\w+|ladri|scandal\w+|"
    r"mai più|assistenza clienti|servizio clienti|addebit\w+ due volte|in ritardo|"
    r"ritardo di|annullat\w|cancellat\w|persa la|perso il|"
    r"sistemate|risolvete"
    r")\b"
)


def _by_first_letter(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """``\b(?:alt|alt|…)\b`` with its top-level alternatives that start with a plain letter
    grouped by that letter (``b(?:roken|ad service)``…), so at each word start the regex
    tries one group instead of every alternative. Only for yes/no searches: any alternative
    matches at a position exactly when the grouped pattern does."""
    body = pattern.pattern[len(r"\b(?:") : -len(r")\b")]
    alts: list[str] = []
    depth, start, i = 0, 0, 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            alts.append(body[start:i])
            start = i + 1
        i += 1
    alts.append(body[start:])
    groups: dict[str, list[str]] = {}
    other: list[str] = []
    for alt in alts:
        if alt[:1].isalpha() and alt[1:2] not in ("?", "*", "+", "{"):
            groups.setdefault(alt[0], []).append(alt[1:])
        else:
            other.append(alt)
    parts = [re.escape(c) + "(?:" + "|".join(rest) + ")" for c, rest in groups.items()]
    return re.compile(r"\b(?:" + "|".join(parts + other) + r")\b")


# The same yes/no answer as _COMPLAINT_RE, a third faster (tests/nlp check they agree).
_COMPLAINT_FAST_RE: Final = _by_first_letter(_COMPLAINT_RE)

# Stable topic ids and their keywords in both languages: a trailing "*" is a prefix, two words
# are a phrase (matched on adjacent tokens).
_TOPIC_WORDS: Final = {
    "price": "price* pricy pricing expensive cheap* cost* prezz* costo* costos* carissim* "
    "economic* scont* offert* discount* deal",
    "customer_service": "customer_service customer_care customer_support support helpdesk "
    "help_desk agent* assistenza servizio_clienti operator* call_center callcenter helpline",
    "delivery": "deliver* shipping shipment* package* parcel* courier* consegn* spedizion* "
    "pacco pacchi corrier*",
    "delay": "delay* late waiting wait on_hold ritard* attesa aspett*",
    "billing": "bill* invoice* charge* payment* refund* bollett* fattur* addebit* pagament* "
    "rimbors*",
    "quality": "quality broken defect* faulty qualità difett* rott* guast*",
    "app": "app apps website site login password bug* crash* sito applicazione accesso",
    "staff": "staff crew employee* personale dipendent* commess* hostess steward*",
    "travel": "flight* luggage baggage bag bags seat* airport* gate volo voli bagagli* "
    "valigi* aeroport*",
    "network": "signal coverage connection* internet wifi wi_fi rete segnale connession* "
    "linea fibra",
}
TOPICS: Final = tuple(_TOPIC_WORDS)
_TOPIC_EXACT: dict[str, str] = {}
_TOPIC_PREFIX: dict[str, str] = {}
_TOPIC_PHRASE: dict[tuple[str, str], str] = {}
for _topic, _words in _TOPIC_WORDS.items():
    for _w in _words.split():
        if "_" in _w:
            _a, _b = _w.split("_", 1)
            _TOPIC_PHRASE[(_a, _b)] = _topic
        elif _w.endswith("*"):
            _TOPIC_PREFIX[_w[:-1]] = _topic
        else:
            _TOPIC_EXACT[_w] = _topic
# The longest keyword prefix a word starts with, in one regex call (longest alternatives
# first: the regex takes the first that matches).
_PREFIX_RE: Final = re.compile(
    "|".join(re.escape(p) for p in sorted(_TOPIC_PREFIX, key=lambda p: (-len(p), p)))
)
_TOPIC_ORDER: Final = {topic: i for i, topic in enumerate(TOPICS)}
_PHRASE_HEADS: Final = frozenset(a for a, _ in _TOPIC_PHRASE)


def is_question(text: str) -> bool:
    if "?" in text and _QMARK_RE.search(text):
        return True
    return _QUESTION_PHRASE_RE.search(text) is not None


def has_complaint_cue(text: str) -> bool:
    """``text`` in lower case (the patterns are matched case-sensitively for speed)."""
    return _COMPLAINT_FAST_RE.search(text) is not None


_MISSING: Final = ""
# token → topic id ("" for none): the prefix search runs once per distinct token. Keyed by the
# token as it comes ("#delay", "@delay" and "delay" are three keys of one topic). Bounded: it is
# emptied when it reaches _WORD_CACHE_MAX entries (tweets' vocabulary is Zipfian, so the hot
# words come back at once).
_word_topic: dict[str, str] = {}
_WORD_CACHE_MAX: Final = 200_000
# Tokens after which a two-word topic may start, with and without a leading # or @.
_PHRASE_HEADS_RAW: Final = frozenset(
    {h for h in _PHRASE_HEADS} | {"#" + h for h in _PHRASE_HEADS} | {"@" + h for h in _PHRASE_HEADS}
)


def _topic_of(token: str) -> str:
    w = token[1:] if token[:1] in "#@" else token
    topic = _TOPIC_EXACT.get(w)
    if topic is None:
        m = _PREFIX_RE.match(w)
        if m is not None:
            topic = _TOPIC_PREFIX[m.group()]
    if len(_word_topic) >= _WORD_CACHE_MAX:
        _word_topic.clear()
    _word_topic[token] = topic or _MISSING
    return topic or _MISSING


def topics(words: list[str], hashtags: list[str]) -> tuple[str, ...]:
    """Topic ids of the taxonomy above (in its order), then the post's hashtags as ``#tag``
    (deduplicated). ``words`` are the lower-cased tokens; a leading # or @ is ignored.

    The one-word topics are a set of cache look-ups (in C); the two-word ones ("customer
    service") are looked for only in posts holding a word that can start one."""
    cache = _word_topic
    seen = set(map(cache.get, words))
    if None in seen:
        seen.discard(None)
        for w in words:
            if w not in cache:
                seen.add(_topic_of(w))
    if not _PHRASE_HEADS_RAW.isdisjoint(words):
        # A two-word topic counts where its second word has no topic of its own.
        prev = ""
        phrase = _TOPIC_PHRASE
        for token in words:
            w = token[1:] if token[:1] in "#@" else token
            if prev in _PHRASE_HEADS:
                topic = cache.get(token)
                if topic is None:
                    topic = _topic_of(token)
                if not topic:
                    seen.add(phrase.get((prev, w), _MISSING))
            prev = w
    seen.discard(_MISSING)
    found: list[str] = sorted(seen, key=_TOPIC_ORDER.__getitem__)  # type: ignore[arg-type]
    for tag in hashtags:
        key = "#" + tag
        if key not in seen:
            seen.add(key)
            found.append(key)
    return tuple(found[:12])
