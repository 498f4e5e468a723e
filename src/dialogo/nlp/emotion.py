"""Emotions of a text: Plutchik's eight basic emotions (joy, trust, sadness, anger, fear,
disgust, surprise, anticipation), from a model trained on the MultiEmotions-It format
(``dialogo nlp train --format multiemotions FILE --model PATH``).

No emotion model ships with Dialogo: the one public Italian data set (MultiEmotions-It) is
non-commercial, so the model is trained on the user's machine and named by
``DIALOGO_EMOTION_MODEL``. The model judges texts of its own language only (Italian for
MultiEmotions-It); for others :meth:`EmotionModel.judges` is false and nothing is claimed.
"""

from __future__ import annotations

import os
import pickle
import threading
from collections.abc import Sequence
from pathlib import Path

from dialogo.nlp.model import EMOTIONS, DataError, Model
from dialogo.nlp.text import clean

NAMES: tuple[str, ...] = tuple(EMOTIONS.values())


class EmotionModel:
    """A multi-label emotion model: one yes/no per emotion."""

    def __init__(self, model: Model) -> None:
        if model.format != "multiemotions":
            raise DataError(
                f"an emotion model is trained with --format multiemotions, not {model.format}"
            )
        self.model = model
        self.language = model.language
        self.names = tuple(n for n in NAMES if n in model.pipelines)

    @classmethod
    def load(cls, path: str | Path) -> EmotionModel:
        try:
            model = Model.load(path)
        except DataError:
            raise
        except (OSError, EOFError, ValueError, TypeError, KeyError, AttributeError) as exc:
            raise DataError(f"{path}: cannot read the emotion model ({exc})") from exc
        except pickle.UnpicklingError as exc:
            raise DataError(f"{path}: not a model file ({exc})") from exc
        return cls(model)

    def judges(self, language: str) -> bool:
        return language == self.language

    def emotions(self, texts: Sequence[object]) -> list[tuple[str, ...]]:
        """The emotions found in each text, in Plutchik's order (empty: none)."""
        if not texts:
            return []
        pred = self.model.predict([clean(t) for t in texts])
        columns = [(n, pred[n]) for n in self.names]
        return [tuple(n for n, col in columns if int(col[i])) for i in range(len(texts))]


_lock = threading.Lock()
_loaded: dict[tuple[str, float], EmotionModel] = {}


def load_cached(path: str | Path) -> EmotionModel:
    """:meth:`EmotionModel.load`, once per file version (path and modification time)."""
    key = (str(Path(path).resolve()), os.stat(path).st_mtime)
    with _lock:
        hit = _loaded.get(key)
        if hit is None:
            hit = EmotionModel.load(path)
            _loaded.clear()
            _loaded[key] = hit
        return hit
