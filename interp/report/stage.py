"""The stage report: behaviour card, toxic-layer location and probe scores of one model.

``interp report`` (the README's main job) calls :func:`build_stage_report` and writes
:meth:`StageReport.to_html`: one self-contained HTML file (plotly.js inline, works offline;
model text HTML-escaped).
"""

from __future__ import annotations

import platform
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from interp.report import figures

LOCATE_METHODS = ("response_mean", "last_token", "easyedit")


@dataclass
class StageReport:
    """Everything measured for the report, plus the figures drawn from it."""

    model_name: str
    meta: dict[str, Any]
    card: Any | None
    locations: dict[str, Any]
    probe: Any
    layer_toxicity: list[dict[str, float]]
    top_value_vectors: Any
    figures: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        lines = [f"model: {self.model_name} ({self.meta['n_layers']} layers)"]
        if self.card is not None:
            lines.append(str(self.card))
        for method, summary in self.locations.items():
            lines.append(f"located layers ({method}, n={len(summary)}): {summary}")
        lines.append(f"toxicity probe held-out accuracy: {100 * self.probe.accuracy:.1f} %")
        return "\n".join(lines)

    def to_html(self, path: str | Path | None = None) -> str | Path:
        """Render the report; write it to `path` (returning the path) or return the HTML."""
        import jinja2

        env = jinja2.Environment(loader=jinja2.PackageLoader("interp.report", "templates"),
                                 autoescape=True)
        figs = {}
        for i, (name, fig) in enumerate(self.figures.items()):
            figs[name] = fig.to_html(full_html=False, include_plotlyjs=(i == 0),
                                     config={"displaylogo": False})
        html = env.get_template("stage.html.j2").render(
            r=self, figs=figs,
            card_table=None if self.card is None else self.card.to_frame().to_html(index=False),
            scores_table=None if self.card is None else self.card.scores.to_frame().to_html(),
            top_table=self.top_value_vectors.to_html(index=False, float_format="%.3f"),
        )
        if path is None:
            return html
        Path(path).write_text(html, encoding="utf-8")
        return Path(path)

    def _repr_html_(self) -> str:
        return str(self.to_html())


def build_stage_report(
    model: Any = "organism",
    *,
    dataset: Any = None,
    probe_dataset: Any = None,
    n_records: int = 60,
    seed: int = 0,
    device: str | None = None,
    progress: bool = True,
) -> StageReport:
    """Measure a model with the instruments of this stage and gather the report.

    Parameters
    ----------
    model : str or HookedTransformer, default="organism"
        A name or folder for :func:`interp.load_model`, or a loaded model.
    dataset : SafetyDataset, optional
        Records to locate on; default the organism's test split.
    probe_dataset : SafetyDataset, optional
        Records the toxicity probe is trained on; default the organism's train split.
    n_records : int, default=60
        Records located per method (a seeded sample of `dataset`).
    seed : int, default=0
    """
    import torch

    import probes
    from interp.data import load_dataset
    from interp.locate import locate_over
    from interp.models import load_model

    start = time.perf_counter()
    name = model if isinstance(model, str) else getattr(model.cfg, "model_name", "model")
    if isinstance(model, str):
        model = load_model(model, device=device)
    dataset = dataset if dataset is not None else load_dataset("organism", split="test")
    probe_dataset = (probe_dataset if probe_dataset is not None
                     else load_dataset("organism", split="train"))
    rng = random.Random(seed)
    picked = [dataset[i] for i in sorted(rng.sample(range(len(dataset)),
                                                    min(n_records, len(dataset))))]

    card = None
    if name == "organism":
        from interp.organism.card import organism_card

        card = organism_card(model, seed=seed, progress=progress, device=device)
    locations = {m: locate_over(model, picked, method=m, progress=progress, device=device)
                 for m in LOCATE_METHODS}
    probe = probes.train_toxicity_probe(model, probe_dataset, seed=seed, progress=progress,
                                        device=device)
    n_layers = model.cfg.n_layers
    layer_tox = [probes.region_toxicity(model, probe, layer).to_dict() for layer in range(n_layers)]
    modal = locations["response_mean"].layer_counts.most_common(1)[0][0]
    cos = probes.value_vector_toxicity(model, probe, modal)
    report = StageReport(
        model_name=name,
        meta={"n_layers": n_layers, "d_model": model.cfg.d_model, "d_mlp": model.cfg.d_mlp,
              "seed": seed, "device": str(model.cfg.device), "dtype": str(model.cfg.dtype),
              "torch": torch.__version__, "python": platform.python_version(),
              "records located": len(picked), "probe records": len(probe_dataset),
              "modal layer": modal, "seconds": round(time.perf_counter() - start, 1)},
        card=card, locations=locations, probe=probe, layer_toxicity=layer_tox,
        top_value_vectors=probes.top_toxic_value_vectors(model, probe, k=10),
    )
    report.figures = {
        "layer distribution": figures.layer_distribution(locations, n_layers),
        "layer distances": figures.layer_distances(locations),
        "region toxicity": figures.region_toxicity_by_layer(layer_tox),
        "value vectors": figures.value_vector_histogram(cos.tolist(), modal),
    }
    return report
