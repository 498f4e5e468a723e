"""Trainable sentiment models (scikit-learn): train, cross-validate, evaluate and predict on
labelled files in three formats.

- ``sentipolc``: EVALITA 2016 SENTIPOLC (``idtwitter, subj, opos, oneg, iro, lpos, lneg, top,
  text``). Four binary decisions are learnt: subjectivity, positive, negative, irony. The
  official polarity score is the mean of the positive and the negative task's F; each task's F
  is the mean of the F1 of its two classes (0 and 1).
- ``airline``: Twitter US Airline Sentiment (``airline_sentiment`` negative/neutral/positive,
  ``text``); the usual figure is accuracy.
- ``csv``: any CSV with ``text`` and ``label`` columns; figure: macro-F1.

The pipeline: TF-IDF of word 1–2-grams and character 2–5-grams (within word boundaries) of the
normalised text (URLs and @names replaced, lower case), plus the lexicon score of
:mod:`dialogo.nlp.sentiment`, into a linear model (logistic regression). Models are saved with
joblib (a pickle): load only files you made yourself.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from dialogo.nlp.sentiment import polarity

Format = Literal["sentipolc", "airline", "csv", "multiemotions"]
FORMATS: tuple[str, ...] = ("sentipolc", "airline", "csv", "multiemotions")
# MultiEmotions-It (Sprugnoli 2020): Plutchik's eight basic emotions, one 0/1 column each, in a
# tab-separated file whose text is in the ``comment`` column.
EMOTIONS: dict[str, str] = {
    "GIOIA": "joy",
    "FIDUCIA": "trust",
    "TRISTEZZA": "sadness",
    "RABBIA": "anger",
    "PAURA": "fear",
    "DISGUSTO": "disgust",
    "SORPRESA": "surprise",
    "TREPIDAZIONE": "anticipation",
}
# Data sets whose licence forbids commercial use: a model trained on them says so, and stays on
# the machine that trained it (Dialogo never ships one).
NON_COMMERCIAL = {
    "sentipolc": "SENTIPOLC 2016 is CC BY-NC-SA 3.0 IT",
    "airline": "Twitter US Airline Sentiment is CC BY-NC-SA 4.0",
    "multiemotions": "MultiEmotions-It is CC BY-NC-SA 4.0",
}
SENTIPOLC_TASKS = ("subj", "opos", "oneg", "iro")
LABELS3 = ("negative", "neutral", "positive")
MODEL_VERSION = 1

_URL = re.compile(r"https?://\S+")
_USER = re.compile(r"@\w+")
_REPEAT = re.compile(r"(.)\1{2,}")


class DataError(ValueError):
    """A labelled file that cannot be read: the message says which row and why."""


@dataclasses.dataclass
class Dataset:
    format: str
    texts: list[str]
    targets: dict[str, npt.NDArray[Any]]  # task name → labels
    rows: list[dict[str, str]]  # the input rows, to write predictions in the same format
    fieldnames: list[str]
    language: str


def normalise(text: str) -> str:
    text = _URL.sub(" URL ", text)
    text = _USER.sub(" @USER ", text)
    return _REPEAT.sub(r"\1\1", text.lower())


def read_file(path: str | Path, fmt: str) -> Dataset:
    if fmt not in FORMATS:
        raise DataError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    try:
        content = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 (byte {exc.start})") from exc
    dialect = "excel-tab" if fmt == "multiemotions" else "excel"
    reader = csv.DictReader(io.StringIO(content, newline=""), dialect=dialect)
    fields = list(reader.fieldnames or [])
    needed = {
        "sentipolc": {"idtwitter", "text", *SENTIPOLC_TASKS},
        "airline": {"airline_sentiment", "text"},
        "csv": {"text", "label"},
        "multiemotions": {"comment", *EMOTIONS},
    }[fmt]
    missing = needed - set(fields)
    if missing:
        raise DataError(f"{path}: the header lacks {', '.join(sorted(missing))}")
    rows = list(reader)
    if not rows:
        raise DataError(f"{path}: no rows")
    errors: list[str] = []
    texts: list[str] = []
    targets: dict[str, list[Any]] = {}
    for n, row in enumerate(rows, start=1):
        if None in row:
            errors.append(f"row {n}: more fields than the header")
            continue
        texts.append((row["comment"] if fmt == "multiemotions" else row["text"]) or "")
        if fmt == "multiemotions":
            for column, task in EMOTIONS.items():
                # An empty cell is an emotion not marked (two rows of the published file have
                # one; their EMOTIONS column confirms the emotion is absent).
                value = (row.get(column) or "").strip() or "0"
                if value not in ("0", "1"):
                    errors.append(f"row {n}: {column} must be 0 or 1, not {value!r}")
                targets.setdefault(task, []).append(1 if value == "1" else 0)
        elif fmt == "sentipolc":
            for task in SENTIPOLC_TASKS:
                value = (row.get(task) or "").strip()
                if value not in ("0", "1"):
                    errors.append(f"row {n}: {task} must be 0 or 1, not {value!r}")
                targets.setdefault(task, []).append(1 if value == "1" else 0)
        else:
            column = "airline_sentiment" if fmt == "airline" else "label"
            value = (row.get(column) or "").strip().lower()
            if value not in LABELS3:
                errors.append(f"row {n}: {column} must be one of {', '.join(LABELS3)}")
            targets.setdefault("label", []).append(value)
    if errors:
        shown = "; ".join(errors[:10])
        more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
        raise DataError(f"{path}: {len(errors)} bad row(s): {shown}{more}")
    return Dataset(
        format=fmt,
        texts=texts,
        targets={k: np.asarray(v) for k, v in targets.items()},
        rows=rows,
        fieldnames=fields,
        language="it" if fmt in ("sentipolc", "multiemotions") else "en",
    )


def _lexicon_features(texts: Sequence[str], language: str) -> Any:
    from scipy.sparse import csr_matrix

    scores = np.array([[polarity(t, language)] for t in texts], dtype=np.float64)
    return csr_matrix(np.hstack([scores, np.abs(scores)]))


def build_pipeline(language: str, *, c: float = 2.0, multilabel: bool = False) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.preprocessing import FunctionTransformer

    features = FeatureUnion(
        [
            (
                "words",
                TfidfVectorizer(
                    preprocessor=normalise,
                    ngram_range=(1, 2),
                    min_df=2,
                    sublinear_tf=True,
                    token_pattern=r"(?u)[#@]?\b\w+\b|[!?]",  # noqa: S106
                ),
            ),
            (
                "chars",
                TfidfVectorizer(
                    preprocessor=normalise,
                    analyzer="char_wb",
                    ngram_range=(2, 5),
                    min_df=2,
                    sublinear_tf=True,
                    max_features=300_000,
                ),
            ),
            (
                "lexicon",
                FunctionTransformer(_lexicon_features, kw_args={"language": language}),
            ),
        ]
    )
    linear = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
    if multilabel:
        from sklearn.multiclass import OneVsRestClassifier

        return Pipeline([("features", features), ("model", OneVsRestClassifier(linear))])
    return Pipeline([("features", features), ("model", linear)])


@dataclasses.dataclass
class Model:
    format: str
    language: str
    pipelines: dict[str, Any]
    version: int = MODEL_VERSION
    notice: str = ""  # the training data's licence terms, when they restrict use

    def predict(self, texts: Sequence[str]) -> dict[str, npt.NDArray[Any]]:
        items = list(texts)
        shared: dict[int, npt.NDArray[Any]] = {}  # one multi-label pass per shared pipeline
        out: dict[str, npt.NDArray[Any]] = {}
        for task, p in self.pipelines.items():
            if isinstance(p, Column):
                key = id(p.pipeline)
                if key not in shared:
                    shared[key] = np.asarray(p.pipeline.predict(items))
                out[task] = shared[key][:, p.index]
            else:
                out[task] = p.predict(items)
        return out

    def save(self, path: str | Path) -> None:
        import joblib

        # Not dataclasses.asdict: it would turn the Column tasks into plain dicts. The tasks of
        # one multi-label pipeline keep sharing it through pickle's memo.
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        joblib.dump(data, Path(path), compress=3)

    @classmethod
    def load(cls, path: str | Path) -> Model:
        import joblib

        data = joblib.load(Path(path))
        if not isinstance(data, dict) or data.get("version") != MODEL_VERSION:
            raise DataError(f"{path}: not a Dialogo sentiment model of version {MODEL_VERSION}")
        return cls(**data)


@dataclasses.dataclass
class Constant:
    """The model of a task whose training labels are all the same."""

    value: Any

    def predict(self, texts: Sequence[str]) -> npt.NDArray[Any]:
        return np.full(len(texts), self.value)


@dataclasses.dataclass
class Column:
    """One task of a multi-label pipeline (its ``index``-th output column)."""

    pipeline: Any
    index: int

    def predict(self, texts: Sequence[str]) -> npt.NDArray[Any]:
        return np.asarray(self.pipeline.predict(list(texts)))[:, self.index]


def train(data: Dataset) -> Model:
    pipelines: dict[str, Any] = {}
    notice = NON_COMMERCIAL.get(data.format, "")
    if notice:
        notice += ": a model trained on it is for evaluation and non-commercial use only"
    if data.format == "multiemotions":
        # The eight emotions share one feature extraction (one-vs-rest on the same features).
        tasks = list(data.targets)
        y = np.column_stack([data.targets[t] for t in tasks])
        pipe = build_pipeline(data.language, multilabel=True)
        pipe.fit(data.texts, y)
        pipelines = {t: Column(pipe, i) for i, t in enumerate(tasks)}
        return Model(format=data.format, language=data.language, pipelines=pipelines, notice=notice)
    for task, y in data.targets.items():
        if len(set(y.tolist())) < 2:
            pipelines[task] = Constant(y[0])
            continue
        pipe = build_pipeline(data.language)
        pipe.fit(data.texts, y)
        pipelines[task] = pipe
    return Model(format=data.format, language=data.language, pipelines=pipelines, notice=notice)


def _binary_f(y_true: npt.NDArray[Any], y_pred: npt.NDArray[Any]) -> float:
    """SENTIPOLC's task F: the mean of the F1 of class 0 and of class 1."""
    from sklearn.metrics import f1_score

    return float(f1_score(y_true, y_pred, average="macro", labels=[0, 1], zero_division=0))


def scores(fmt: str, truth: dict[str, npt.NDArray[Any]], pred: dict[str, Any]) -> dict[str, float]:
    """The figures of a format; the official one is under the key ``"official"``."""
    from sklearn.metrics import accuracy_score, f1_score

    if fmt == "sentipolc":
        f = {task: _binary_f(truth[task], pred[task]) for task in SENTIPOLC_TASKS}
        return {
            "subjectivity_f": f["subj"],
            "positive_f": f["opos"],
            "negative_f": f["oneg"],
            "irony_f": f["iro"],
            "official": (f["opos"] + f["oneg"]) / 2,
        }
    if fmt == "multiemotions":
        # Per emotion: the F1 of "present"; official: their macro mean; also micro-F1.
        from sklearn.metrics import precision_recall_fscore_support

        tasks = list(EMOTIONS.values())
        y = np.column_stack([truth[t] for t in tasks])
        p = np.column_stack([np.asarray(pred[t]) for t in tasks])
        per = {
            f"{t}_f1": float(f1_score(y[:, i], p[:, i], pos_label=1, zero_division=0))
            for i, t in enumerate(tasks)
        }
        _, _, micro, _ = precision_recall_fscore_support(y, p, average="micro", zero_division=0)
        return {**per, "micro_f1": float(micro), "official": float(np.mean(list(per.values())))}
    acc = float(accuracy_score(truth["label"], pred["label"]))
    macro = float(f1_score(truth["label"], pred["label"], average="macro", zero_division=0))
    return {"accuracy": acc, "macro_f1": macro, "official": acc if fmt == "airline" else macro}


OFFICIAL_NAME = {
    "sentipolc": "polarity (mean of positive and negative F)",
    "airline": "accuracy",
    "csv": "macro-F1",
    "multiemotions": "emotion macro-F1 (mean F1 of the eight emotions)",
}


def cross_validate(data: Dataset, folds: int = 5, seed: int = 0) -> dict[str, float]:
    """Stratified k-fold (on the polarity class) means of :func:`scores`."""
    from sklearn.model_selection import StratifiedKFold

    if data.format == "sentipolc":
        strata = data.targets["opos"] * 2 + data.targets["oneg"]
    elif data.format == "multiemotions":
        strata = data.targets["joy"] * 2 + data.targets["anger"]  # the two most frequent
    else:
        strata = data.targets["label"]
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    texts = np.asarray(data.texts, dtype=object)
    results: list[dict[str, float]] = []
    for train_idx, test_idx in splitter.split(texts, strata):
        part = dataclasses.replace(
            data,
            texts=list(texts[train_idx]),
            targets={k: v[train_idx] for k, v in data.targets.items()},
        )
        model = train(part)
        pred = model.predict(list(texts[test_idx]))
        results.append(scores(data.format, {k: v[test_idx] for k, v in data.targets.items()}, pred))
    return {k: float(np.mean([r[k] for r in results])) for k in results[0]}


def evaluate(model: Model, data: Dataset) -> dict[str, float]:
    if model.format != data.format and not ({model.format, data.format} <= {"airline", "csv"}):
        raise DataError(f"a {model.format} model cannot score a {data.format} file")
    return scores(data.format, data.targets, model.predict(data.texts))


def write_predictions(model: Model, data: Dataset, out: str | Path) -> int:
    """The input rows with the model's labels in the columns the format's scorers read."""
    pred = model.predict(data.texts)
    with Path(out).open("w", encoding="utf-8", newline="") as fh:
        if data.format == "sentipolc":
            # The official EVALITA scorer reads these eight columns, all quoted as in the input.
            fields = ["idtwitter", "subj", "opos", "oneg", "iro", "lpos", "lneg", "top", "text"]
            writer = csv.DictWriter(fh, fieldnames=fields, quoting=csv.QUOTE_NONNUMERIC)
            writer.writeheader()
            for i, row in enumerate(data.rows):
                opos, oneg = int(pred["opos"][i]), int(pred["oneg"][i])
                subj = int(pred["subj"][i]) or int(bool(opos or oneg))
                writer.writerow(
                    {
                        "idtwitter": row["idtwitter"],
                        "subj": subj,
                        "opos": opos,
                        "oneg": oneg,
                        "iro": int(pred["iro"][i]) if subj else 0,
                        "lpos": opos,
                        "lneg": oneg,
                        "top": row.get("top", "") or 0,
                        "text": row["text"],
                    }
                )
        elif data.format == "multiemotions":
            writer = csv.DictWriter(fh, fieldnames=data.fieldnames, dialect="excel-tab")
            writer.writeheader()
            for i, row in enumerate(data.rows):
                labelled = {**row}
                for column, task in EMOTIONS.items():
                    labelled[column] = str(int(pred[task][i]))
                if "EMOTIONS" in labelled:  # the basic emotions predicted (no dyads)
                    labelled["EMOTIONS"] = " - ".join(
                        t.upper() for t in EMOTIONS.values() if int(pred[t][i])
                    )
                writer.writerow(labelled)
        else:
            column = "airline_sentiment" if data.format == "airline" else "label"
            writer = csv.DictWriter(fh, fieldnames=data.fieldnames)
            writer.writeheader()
            for i, row in enumerate(data.rows):
                writer.writerow({**row, column: str(pred["label"][i])})
    return len(data.rows)
