"""Topics as clusters: TF-IDF over a set of texts, MiniBatchKMeans, each cluster named by its
top terms. Pure: texts in, clusters out (the same input and seed give the same clusters)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from dialogo.nlp.language import FUNCTION_WORDS

MIN_TEXTS: Final = 12
_URL_RE: Final = re.compile(r"https?://\S+|www\.\S+")
_MENTION_RE: Final = re.compile(r"@\w+")
# Beyond the function words: words that are everywhere in social posts and name no topic.
_EXTRA_STOP: Final = frozenset(
    str.split(
        "rt via amp http https com www just like get got really still one also even much "
        "per non più può fare fatto essere stato stata sono come dopo prima ogni altro altri "
        "solo tutto"
    )
)
STOP_WORDS: Final = sorted(FUNCTION_WORDS | _EXTRA_STOP)


@dataclass(frozen=True)
class Cluster:
    label: str  # its top terms joined by " · "
    terms: tuple[str, ...]
    members: tuple[int, ...]  # indices into the input, closest to the centre first

    @property
    def size(self) -> int:
        return len(self.members)


def _preprocess(text: str) -> str:
    return _MENTION_RE.sub(" ", _URL_RE.sub(" ", text.lower()))


def choose_k(n: int) -> int:
    """About √(n/8) clusters, between 2 and 12."""
    return max(2, min(12, round(math.sqrt(n / 8))))


def cluster_texts(
    texts: Sequence[str], *, k: int | None = None, top_terms: int = 4, seed: int = 0
) -> list[Cluster]:
    """Clusters of ``texts`` (largest first); empty when there are fewer than ``MIN_TEXTS``
    texts or too few shared words to cluster on. Clusters without a term of their own are
    dropped (their members are noise)."""
    if len(texts) < MIN_TEXTS:
        return []
    from sklearn.cluster import MiniBatchKMeans
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(
        preprocessor=_preprocess,
        token_pattern=r"(?u)#?\b[^\W\d_]{3,}\b",  # noqa: S106 - words of 3+ letters, #tags
        stop_words=STOP_WORDS,
        ngram_range=(1, 2),
        min_df=2,
        max_df=0.5,
        sublinear_tf=True,
        max_features=20_000,
    )
    try:
        x = vectorizer.fit_transform([str(t) for t in texts])
    except ValueError:  # no term left (every text empty or made of stop words)
        return []
    keep = np.asarray(x.sum(axis=1)).ravel() > 0
    rows = np.flatnonzero(keep)
    k = k or choose_k(rows.size)
    if rows.size < max(MIN_TEXTS, k * 2) or x.shape[1] < k:
        return []
    model = MiniBatchKMeans(
        n_clusters=k, random_state=seed, n_init=3, batch_size=1024, max_iter=100
    )
    labels = model.fit_predict(x[rows])
    distances = model.transform(x[rows])
    vocab = np.asarray(vectorizer.get_feature_names_out())
    clusters: list[Cluster] = []
    for c in range(k):
        idx = np.flatnonzero(labels == c)
        if idx.size == 0:
            continue
        centre = model.cluster_centers_[c]
        order = np.argsort(-centre)
        terms: list[str] = []
        for j in order:
            if centre[j] <= 0 or len(terms) >= top_terms:
                break
            term = str(vocab[j])
            # Skip a word already inside a chosen bigram and vice versa.
            if any(term in t.split() or t in term.split() for t in terms):
                continue
            terms.append(term)
        if not terms:
            continue
        members = rows[idx[np.argsort(distances[idx, c], kind="stable")]]
        clusters.append(
            Cluster(
                label=" · ".join(terms),
                terms=tuple(terms),
                members=tuple(int(m) for m in members),
            )
        )
    clusters.sort(key=lambda cl: (-cl.size, cl.label))
    return clusters
