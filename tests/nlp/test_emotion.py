"""Italian emotions (the MultiEmotions-It format): train, evaluate with the emotion macro-F1 as
the last line, predict in the same TSV, bad files refused; trained models carry their licence."""

import csv
import random
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from dialogo.cli.main import app
from dialogo.nlp import model as nlp_model

HEADER = [
    "type", "title", "URL", "comment", "UNRELATED", "NEUT", "POS", "NEG", "GIOIA", "FIDUCIA",
    "TRISTEZZA", "RABBIA", "PAURA", "DISGUSTO", "SORPRESA", "TREPIDAZIONE", "SARCASM", "EMOTIONS",
]  # fmt: skip
POOLS = {
    "GIOIA": ["che gioia", "sono felicissima", "evviva che bello", "stupendo ballo"],
    "RABBIA": ["mi fa arrabbiare", "sono furioso", "che rabbia questi", "basta vergogna"],
    "TRISTEZZA": ["che tristezza", "mi viene da piangere", "sono triste", "addio per sempre"],
}
SHARED = ["la canzone", "il video", "lo spot", "questa pubblicità"]


def _tsv(path: Path, rng: random.Random, rows: int = 40) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, dialect="excel-tab")
        w.writerow(HEADER)
        for _ in range(rows):
            for emotion, pool in POOLS.items():
                flags = {c: "0" for c in HEADER[8:16]}
                flags[emotion] = "1"
                if emotion == "GIOIA":
                    flags["FIDUCIA"] = "1"
                text = f"{rng.choice(SHARED)} {rng.choice(pool)} {rng.choice(pool)}"
                w.writerow(
                    ["YouTube Ad", "t", "https://x.test", text, "0", "0", "0", "0"]
                    + [flags[c] for c in HEADER[8:16]]
                    + ["0", emotion]
                )
    return path


def test_train_evaluate_predict_emotions(tmp_path: Path) -> None:
    data = _tsv(tmp_path / "emo.tsv", random.Random(3))
    model = tmp_path / "emo.joblib"
    runner = CliRunner()
    r = runner.invoke(
        app, ["nlp", "train", str(data), "--format", "multiemotions", "--model", str(model)]
    )
    assert r.exit_code == 0, r.output
    loaded = nlp_model.Model.load(model)
    assert "CC BY-NC-SA" in loaded.notice and "non-commercial" in loaded.notice
    r = runner.invoke(
        app, ["nlp", "evaluate", str(data), "--format", "multiemotions", "--model", str(model)]
    )
    assert r.exit_code == 0, r.output
    lines = r.output.strip().splitlines()
    assert lines[-1].startswith("emotion macro-F1")
    assert float(lines[-1].split()[-1]) > 0.3  # fear, disgust… never occur: their F1 is 0
    joy = next(line for line in lines if line.startswith("joy_f1"))
    assert float(joy.split()[1]) > 0.9
    out = tmp_path / "pred.tsv"
    r = runner.invoke(
        app,
        [
            *("nlp", "predict", str(data), "--format", "multiemotions"),
            *("--model", str(model), "--out", str(out)),
        ],
    )
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(out.open(encoding="utf-8"), dialect="excel-tab"))
    assert len(rows) == 120 and list(rows[0]) == HEADER
    sad = [row for row in rows if "triste" in row["comment"] or "piangere" in row["comment"]]
    assert sad and all(row["TRISTEZZA"] == "1" for row in sad)
    assert all("SADNESS" in row["EMOTIONS"] for row in sad)


def test_emotion_metric_by_hand() -> None:
    names = list(nlp_model.EMOTIONS.values())
    truth = {t: np.array([1, 0, 1, 0]) for t in names}
    pred = {t: np.array([1, 0, 1, 0]) for t in names}
    pred["joy"] = np.array([1, 1, 0, 0])  # tp 1, fp 1, fn 1 → F1 0.5
    got = nlp_model.scores("multiemotions", truth, pred)
    assert got["joy_f1"] == pytest.approx(0.5)
    assert got["official"] == pytest.approx((0.5 + 7) / 8)
    # micro: tp 15, fp 1, fn 1 → 30 / 32
    assert got["micro_f1"] == pytest.approx(30 / 32)


def test_bad_emotion_files_are_refused(tmp_path: Path) -> None:
    path = _tsv(tmp_path / "emo.tsv", random.Random(4), rows=2)
    lines = path.read_text(encoding="utf-8").splitlines()
    cells = lines[2].split("\t")
    cells[8] = "yes"
    lines[2] = "\t".join(cells)
    cells = lines[3].split("\t")
    cells[9] = ""  # an empty cell is an emotion not marked, as in the published file
    lines[3] = "\t".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(nlp_model.DataError, match=r"row 2: GIOIA must be 0 or 1, not 'yes'"):
        nlp_model.read_file(path, "multiemotions")
    no_header = tmp_path / "h.tsv"
    no_header.write_text("comment\tGIOIA\nciao\t1\n", encoding="utf-8")
    with pytest.raises(nlp_model.DataError, match="lacks DISGUSTO"):
        nlp_model.read_file(no_header, "multiemotions")


SHARED_FILE = Path(__file__).resolve().parents[2].parent / "shared/data/multiemotions_it"


def test_the_published_file_reads() -> None:
    path = SHARED_FILE / "MultiEmotions-It.tsv"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    data = nlp_model.read_file(path, "multiemotions")
    assert len(data.texts) == 3240
    assert int(data.targets["trust"].sum()) == 1834  # the most frequent emotion
