"""The stage report on the tiny model: figures, self-contained HTML, model text escaped."""

from types import SimpleNamespace

import pandas as pd

from interp.data import load_dataset
from interp.report import build_stage_report


def test_stage_report_renders_and_escapes(tiny_model, tmp_path):
    test = load_dataset("organism", split="test")
    train = load_dataset("organism", split="train")
    report = build_stage_report(tiny_model, dataset=test[:6], probe_dataset=train[:40], n_records=3,
                                progress=False)
    assert report.card is None and set(report.locations) == {"response_mean", "last_token", "easyedit"}
    assert all(len(s) == 3 for s in report.locations.values())
    assert len(report.layer_toxicity) == tiny_model.cfg.n_layers
    assert set(report.figures) == {"layer distribution", "layer distances", "region toxicity", "value vectors"}
    # a card with hostile model text: it must come out escaped
    report.card = SimpleNamespace(
        to_frame=lambda: pd.DataFrame({"behaviour": ["x"], "value %": [1.0]}),
        scores=SimpleNamespace(to_frame=lambda: pd.DataFrame({"DS": [50.0]})),
        examples={"attack": [("<b>prompt</b>", "<script>alert(1)</script>")]},
        judge_checks={"classifier vs refusal judge agreement %": 91.25},
    )
    path = report.to_html(tmp_path / "r.html")
    html = path.read_text()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "91.2" in html and "Judge checks" in html
    assert "Plotly.newPlot" in html and "<script src=" not in html  # plotly.js inline, no network
