"""``analyse``: the one call every domain uses to understand a piece of text."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from dialogo.nlp import cues, language, sentiment
from dialogo.nlp.text import TOKEN_RE, clean, hashtags, strip_urls

Language = Literal["it", "en", "und"]
Label = Literal["negative", "neutral", "positive"]


@dataclass(frozen=True, slots=True)
class Analysis:
    language: Language
    sentiment: float  # -1 (most negative) .. 1 (most positive)
    label: Label
    is_question: bool
    is_complaint: bool
    topics: tuple[str, ...]  # taxonomy ids (cues.TOPICS), then "#hashtags"


def analyse(text: str, language: str | None = None) -> Analysis:
    """Language, sentiment, question/complaint cues and topics of ``text``.

    Pure and total: no I/O but a one-time lazy load of the packaged models, and no exception for
    any input (empty, huge, binary junk, lone surrogates, emoji only). ``language`` skips
    identification when the caller already knows it (``"it"``, ``"en-US"``…; any other language
    gives ``"und"``). Only the first ``text.MAX_CHARS`` characters are read.
    """
    body = clean(text)
    plain = strip_urls(body)
    low = plain.lower()
    toks = TOKEN_RE.findall(low)
    lang = _language(body, toks, language)
    score = sentiment.score_tokens(toks, sentiment.lexicon_for(lang), plain.count("!"))
    label: Label = sentiment.label_for(score)  # type: ignore[assignment]
    complaint = cues.has_complaint_cue(low) or (score <= -0.5 and "@" in plain)
    return Analysis(
        language=lang,
        sentiment=round(score, 4),
        label=label,
        is_question=cues.is_question(low),
        is_complaint=complaint,
        topics=cues.topics(toks, hashtags(low) if "#" in low else []),
    )


def analyse_many(
    texts: Iterable[str],
    languages: Sequence[str | None] | None = None,
    *,
    normalised: list[tuple[str, list[str]] | None] | None = None,
) -> list[Analysis]:
    """:func:`analyse` over a batch (the same results, in order). ``languages``, when given,
    holds one hint per text (None where unknown). The batch form binds the hot functions once
    and hands the language model only the texts the cheap function-word check is unsure of.

    ``normalised``, when given, receives one entry per text for callers that read the text
    again (the listening queries): ``(text.lower(), its TOKEN_RE tokens)`` where cleaning and
    URL stripping left the text as it was (so that is exactly ``text.lower()``), else None."""
    items = list(texts)
    hints: Sequence[str | None] = languages if languages is not None else [None] * len(items)
    if len(hints) != len(items):
        raise ValueError(f"{len(items)} texts but {len(hints)} language hints")
    _clean, _strip, findall = clean, strip_urls, TOKEN_RE.findall
    quick, normalise = language.quick_identify, language.normalise_code
    score, lex_for, label_for = sentiment.score_tokens, sentiment.lexicon_for, sentiment.label_for
    complaint_cue, question, topic_of = cues.has_complaint_cue, cues.is_question, cues.topics
    # Identical texts in one batch (reposts, retweets, copy-paste campaigns) are analysed once.
    # First pass: each distinct text cleaned and tokenised, its language from the hint or the
    # function words; the texts those leave unsure go to the model together (identify_many).
    Key = tuple[str, str | None]
    slots: list[int] = []  # per text: its index in ``work``
    first: dict[Key, int] = {}
    work: list[tuple[str, str, list[str], str | None, bool]] = []  # plain, low, toks, lang, same
    unsure: list[int] = []
    bodies: list[str] = []
    for text, hint in zip(items, hints, strict=True):
        key = (text, hint) if isinstance(text, str) else None
        if key is not None:
            at = first.get(key)
            if at is not None:
                slots.append(at)
                continue
            first[key] = len(work)
        slots.append(len(work))
        body = _clean(text)
        plain = _strip(body)
        low = plain.lower()
        toks = findall(low)
        lang = normalise(hint) if hint else None
        if lang is None:
            lang = quick(toks)
        if lang is None:
            unsure.append(len(work))
            bodies.append(body)
        # The same string object (or an equal one) only where nothing was cleaned or stripped.
        work.append((plain, low, toks, lang, plain == text))
    langs = [w[3] or "" for w in work]  # the unsure ones are filled in below
    for k, (found, _) in zip(unsure, language.identify_many(bodies), strict=True):
        langs[k] = found
    done: list[Analysis] = []
    norms: list[tuple[str, list[str]] | None] = []
    for (plain, low, toks, _, same), lang in zip(work, langs, strict=True):
        value = score(toks, lex_for(lang), plain.count("!"))
        done.append(
            Analysis(
                language=lang,  # type: ignore[arg-type]
                sentiment=round(value, 4),
                label=label_for(value),  # type: ignore[arg-type]
                is_question=question(low),
                is_complaint=complaint_cue(low) or (value <= -0.5 and "@" in plain),
                topics=topic_of(toks, hashtags(low) if "#" in low else []),
            )
        )
        norms.append((low, toks) if same else None)
    if normalised is not None:
        normalised.extend([norms[k] for k in slots])
    return [done[k] for k in slots]


def _language(body: str, toks: list[str], hint: str | None) -> Language:
    code = language.normalise_code(hint) if hint else None
    if code is None:
        code = language.quick_identify(toks)
    if code is None:
        code, _ = language.identify(body)
    return code  # type: ignore[return-value]
