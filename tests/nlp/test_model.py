"""The trainable model and its commands: train, evaluate (official metric last), predict (the
input's own format), on small files written here; bad files give a clear error."""

import csv
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dialogo.cli.main import app
from dialogo.nlp import model as nlp_model

POS_EN = ["great flight thanks", "love the crew", "awesome service", "best airline ever"]
NEG_EN = ["terrible delay again", "lost my bag", "worst service ever", "rude staff and late"]
NEU_EN = ["flight at 10 from gate 4", "which terminal for boston", "boarding now", "on my way"]
POS_IT = ["bellissima giornata grazie", "ottimo lavoro", "che bello", "sono felice"]
NEG_IT = ["che schifo", "pessimo governo", "vergogna totale", "sono deluso"]
NEU_IT = ["domani si vota", "la riunione è alle dieci", "oggi piove a roma", "il treno parte"]


def _csv(tmp: Path, rng: random.Random) -> Path:
    path = tmp / "labels.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        for _ in range(40):
            for label, pool in (("positive", POS_EN), ("negative", NEG_EN), ("neutral", NEU_EN)):
                w.writerow([f"{rng.choice(pool)} {rng.choice(pool)}", label])
    return path


def _sentipolc(tmp: Path, rng: random.Random) -> Path:
    path = tmp / "sp.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, quoting=csv.QUOTE_NONNUMERIC)
        w.writerow(["idtwitter", "subj", "opos", "oneg", "iro", "lpos", "lneg", "top", "text"])
        n = 0
        for _ in range(40):
            for opos, oneg, pool in ((1, 0, POS_IT), (0, 1, NEG_IT), (0, 0, NEU_IT)):
                n += 1
                subj = int(opos or oneg)
                text = f"{rng.choice(pool)} {rng.choice(pool)}"
                w.writerow([str(n), subj, opos, oneg, 0, opos, oneg, 1, text])
    return path


def test_train_evaluate_predict_csv(tmp_path: Path) -> None:
    data = _csv(tmp_path, random.Random(1))
    model = tmp_path / "m.joblib"
    runner = CliRunner()
    r = runner.invoke(app, ["nlp", "train", str(data), "--format", "csv", "--model", str(model)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["nlp", "evaluate", str(data), "--format", "csv", "--model", str(model)])
    assert r.exit_code == 0, r.output
    last = r.output.strip().splitlines()[-1]
    assert last.startswith("macro-F1 ")
    assert float(last.split()[-1]) > 0.9
    out = tmp_path / "pred.csv"
    r = runner.invoke(
        app,
        ["nlp", "predict", str(data), "--format", "csv", "--model", str(model), "--out", str(out)],
    )
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == 120 and set(rows[0]) == {"text", "label"}
    assert {r["label"] for r in rows} <= {"negative", "neutral", "positive"}


def test_sentipolc_metric_and_prediction_columns(tmp_path: Path) -> None:
    data = nlp_model.read_file(_sentipolc(tmp_path, random.Random(2)), "sentipolc")
    trained = nlp_model.train(data)
    result = nlp_model.evaluate(trained, data)
    assert result["official"] == pytest.approx((result["positive_f"] + result["negative_f"]) / 2)
    assert result["official"] > 0.9
    out = tmp_path / "pred.csv"
    assert nlp_model.write_predictions(trained, data, out) == 120
    with out.open(encoding="utf-8") as fh:
        header = fh.readline().strip()
    assert header == '"idtwitter","subj","opos","oneg","iro","lpos","lneg","top","text"'


def test_official_polarity_metric_by_hand() -> None:
    truth = {t: [1, 0, 0, 1] for t in nlp_model.SENTIPOLC_TASKS}
    truth = {k: __import__("numpy").array(v) for k, v in truth.items()}
    pred = {**truth, "opos": __import__("numpy").array([1, 1, 0, 1])}
    got = nlp_model.scores("sentipolc", truth, pred)
    # opos: class 1 F1 = 2·2/(2·2+1) = 0.8, class 0 F1 = 2·1/(2·1+1) = 0.667 → 0.7333
    assert got["positive_f"] == pytest.approx((0.8 + 2 / 3) / 2)
    assert got["negative_f"] == 1.0
    assert got["official"] == pytest.approx(((0.8 + 2 / 3) / 2 + 1) / 2)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("text\nhello\n", "lacks label"),
        ("text,label\nhello,angry\nbye,positive\n", "row 1: label must be one of"),
        ("", "lacks"),
    ],
)
def test_bad_files_are_refused_clearly(tmp_path: Path, content: str, fragment: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    r = CliRunner().invoke(
        app, ["nlp", "train", str(path), "--format", "csv", "--model", str(tmp_path / "m")]
    )
    assert r.exit_code == 1
    assert fragment in r.output


def test_analyse_command_prints_json() -> None:
    r = CliRunner().invoke(app, ["nlp", "analyse", "Servizio pessimo, vergogna!"])
    assert r.exit_code == 0, r.output
    assert '"language": "it"' in r.output and '"label": "negative"' in r.output
