"""``compare_mechanisms()``: run each detox method on one model and measure what it changed.

For every (method, seed) -- and for DINM every (seed, instance), one single-record edit each, as
in the paper -- the edited model goes through :func:`~interp.compare.measure.measure_edit`; the
unedited model goes through the same measurements as the reference (its edit is empty, so its
flow terms and weight diffs are zero by construction). Rows are gathered into a
:class:`~interp.compare.result.MechanismComparison`, whose claims test the published findings.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tqdm.auto import tqdm

from interp.compare.data import comparison_data, profile_for
from interp.compare.measure import measure_edit
from interp.compare.result import MechanismComparison

__all__ = ["DEFAULT_METHODS", "compare_mechanisms"]

DEFAULT_METHODS = ("dinm", "sft", "dpo", "vaccine")


@dataclass
class _NoEdit:
    """The base model as an 'edit' of itself: the reference row."""

    model: Any
    seconds: float = 0.0


def _one_pass(records: list[Any], config: Any, seed: int) -> list[Any]:
    """The ``steps * batch_size`` records one training run reads, drawn with `seed` (all of them
    when there are fewer). The same as drawing the batches from the whole set, without scoring
    the rest (DPO scores every pair with its reference model before the first step)."""
    import random

    need = getattr(config, "steps", 0) * getattr(config, "batch_size", 0)
    return random.Random(seed).sample(records, need) if 0 < need < len(records) else records


def _sae_features(name: str, model: Any, records: list[Any], n: int = 10) -> tuple[Any, list[int], list[int]] | None:
    """The shipped SAE of `name` with its `n` top refusal and `n` top compliance features (the two
    ends of the response contrast on 64 records), or None when no SAE ships for the model."""
    from interp.steering import load_sae, refusal_features
    from interp.steering.sae import SHIPPED_SAES

    if name not in SHIPPED_SAES:
        return None
    sae = load_sae(name, device=str(model.cfg.device))
    ranking = refusal_features(model, sae, records[:64], rank_by="response", n_contexts=0, progress=False)
    features = [int(f) for f in ranking.table["feature"]]
    return sae, features[:n], features[-n:]


@dataclass
class _Job:
    """One unit of work of the comparison: a model to edit (``"base"``: none) and measure."""

    method: str
    seed: int
    instance: str = ""
    train: Any = None
    edit_fn: Any = None  # resolved by the caller: a method registered in a notebook runs on Ray too

    @property
    def label(self) -> str:
        return f"{self.method} seed {self.seed}" + (f" record {self.instance}" if self.instance else "")


def _run_job(job: _Job, *, model: Any, options: dict[str, dict[str, Any]], common: dict[str, Any]) -> tuple[
        dict[str, Any], dict[str, Any], list[tuple[str, str]]]:
    """Edit `model` as `job` says and measure the result: (row, details, samples). Seeds torch
    with the job's seed first, so a job gives the same numbers alone, in a loop or on Ray."""
    import torch

    torch.manual_seed(job.seed)
    if job.method == "base":
        edit: Any = _NoEdit(model)
    else:
        edit = job.edit_fn(model, job.train, seed=job.seed, progress=False, **options[job.method])
    measured = measure_edit(model, edit, seed=job.seed, **common)
    row = {"method": job.method, "seed": job.seed, "instance": job.instance, **measured.row}
    if getattr(edit, "region", None) is not None:
        row["edited_layer"] = edit.region.layer
    return row, measured.details, measured.samples


def _check_methods(methods: Sequence[str]) -> list[str]:
    from interp.edits import EDIT_METHODS

    methods = [methods] if isinstance(methods, str) else list(methods)
    unknown = [m for m in methods if m not in EDIT_METHODS or m in ("harmful_finetune", "scale_toxic_keys")]
    if unknown or not methods:
        raise ValueError(f"compare_mechanisms: unknown detox methods {unknown or methods}; valid: "
                         f"{sorted(set(EDIT_METHODS) - {'harmful_finetune', 'scale_toxic_keys'})} (the attack and "
                         "key scaling run on every edited model as the permanence tests)")
    return methods


def compare_mechanisms(
    model: Any = "organism",
    methods: Sequence[str] = DEFAULT_METHODS,
    *,
    dataset: Any = None,
    n_instances: int = 3,
    n_eval: int | None = None,
    seeds: Sequence[int] = (0,),
    attack: bool = True,
    layer_sweep: bool | None = None,
    method_options: dict[str, dict[str, Any]] | None = None,
    attack_options: dict[str, Any] | None = None,
    key_options: dict[str, Any] | None = None,
    device: str | None = None,
    executor: Any = None,
    progress: bool = True,
) -> MechanismComparison:
    """Apply each detox method to `model` and measure what it changed inside, with uncertainty.

    Parameters
    ----------
    model : str or HookedTransformer, default="organism"
        ``"organism"``, ``"smollm2-135m-instruct"``, a local HF folder, or a loaded model (its
        ``cfg.model_name`` picks the settings profile, see :data:`~interp.compare.data.PROFILES`).
    methods : sequence of str, default=("dinm", "sft", "dpo", "vaccine")
        Registered edit methods (:data:`interp.edits.EDIT_METHODS`).
    dataset : SafetyDataset, optional
        SafeEdit-format records of a real model (default: SmolLM2's shipped records; the
        organism uses its own splits).
    n_instances : int, default=3
        DINM edits per seed, each on one record (mean and interval over them, as in the paper).
    n_eval : int, optional
        Evaluation records (default the profile's: 20 organism, 12 SmolLM2).
    seeds : sequence of int, default=(0,)
    attack : bool, default=True
        Run the harmful fine-tuning attack on every model (permanence and HED).
    layer_sweep : bool, optional
        Also run :func:`interp.edits.layer_sweep` on the DINM instances for the claim "the
        located layer edits best" (default: the profile's; on for the organism).
    method_options : dict of str to dict, optional
        Options per method, merged over the profile's (e.g. ``{"sft": {"steps": 50}}``).
    attack_options, key_options : dict, optional
        Options of :func:`interp.edits.harmful_finetune` and :func:`interp.edits.scale_toxic_keys`,
        merged over the profile's.
    device : str, optional
    executor : {"serial", "ray"} or executor object, optional
        How the (method, seed, record) tasks run (:mod:`interp.executors`): one after another
        here (default), or as Ray tasks (``RAY_ADDRESS`` when set, else a local cluster; pass a
        :class:`~interp.executors.RayExecutor` for ``num_gpus``, retries, ...). Each task seeds
        itself, so both give the same numbers. A task that fails is reported in ``.failures``
        and the others are kept; only a failure of the base model's measurements raises.
    progress : bool, default=True

    Returns
    -------
    MechanismComparison
        ``.table`` (one row per model: method, seed, instance), ``.summary()``, ``.claims``,
        ``.figures``, ``.to_json()``, ``.to_html()``.

    Examples
    --------
    >>> result = interp.compare_mechanisms()            # doctest: +SKIP
    >>> result.claims                                    # doctest: +SKIP
    >>> result.to_html("report.html")                    # doctest: +SKIP
    """
    import probes
    import torch

    from interp.edits import get_edit
    from interp.executors import get_executor
    from interp.locate import Region, locate_over
    from interp.models import load_model

    start = time.perf_counter()
    methods = _check_methods(methods)
    runner = get_executor(executor)
    if isinstance(n_instances, bool) or not isinstance(n_instances, int) or n_instances < 1:
        raise ValueError(f"n_instances must be a positive int, got {n_instances!r}")
    seeds = [seeds] if isinstance(seeds, int) else list(seeds)
    if not seeds or any(isinstance(s, bool) or not isinstance(s, int) for s in seeds):
        raise ValueError(f"seeds must be a non-empty sequence of int, got {seeds!r}")
    name = model if isinstance(model, str) else getattr(model.cfg, "model_name", "model")
    profile = profile_for(name)
    options = {m: {**profile["methods"].get(m, {}), **(method_options or {}).get(m, {})} for m in methods}
    attack_opts = {**profile["attack"], **(attack_options or {})}
    key_opts = {**profile["keys"], **(key_options or {})}
    if isinstance(model, str):
        model = load_model(model, device=device)
    data = comparison_data(name, model, n_instances=n_instances, n_eval=n_eval, dataset=dataset, seed=seeds[0])
    torch.manual_seed(seeds[0])

    if progress:
        tqdm.write("compare mechanisms: probe and location")
    probe = probes.train_toxicity_probe(model, data.probe_records, seed=seeds[0], progress=False)
    located = locate_over(model, data.eval_records, progress=False)
    layer = located.layer_counts.most_common(1)[0][0]
    region = Region(layer)
    base_tox = probes.region_toxicity(model, probe, region)
    common = dict(sae_features=_sae_features(name, model, data.probe_records), probe=probe, region=region,
                  records=data.eval_records, benign=data.benign, flow_prompts=data.flow_prompts,
                  attack_data=data.train, attack_options=attack_opts, attack_benign=data.attack_benign,
                  alignment_pairs=data.alignment_pairs, key_options=key_opts, base_toxicity=base_tox,
                  max_new_tokens=profile["max_new_tokens"], attack=attack)
    stages = {"probe and location": time.perf_counter() - start}

    jobs = [_Job("base", seeds[0])]
    for method in methods:
        config_cls, fn = get_edit(method)
        for seed in seeds:
            if method == "dinm":
                jobs += [_Job(method, seed, str(getattr(r, "id", i)), r, fn) for i, r in enumerate(data.instances)]
            else:
                config = config_cls.from_options(dict(options[method]), method=method)
                jobs.append(_Job(method, seed, "", _one_pass(data.train, config, seed), fn))
    t = time.perf_counter()
    outcomes = runner.map(_run_job, jobs, shared={"model": model, "options": options, "common": common},
                          labels=[j.label for j in jobs], desc="compare mechanisms", progress=progress)
    stages["edits and measurements"] = time.perf_counter() - t
    if not outcomes[0].ok:
        raise RuntimeError(f"compare_mechanisms: the base model's measurements failed (every comparison needs "
                           f"them): {outcomes[0].error}")
    rows, details, samples, failures = [], {}, {}, []
    for job, outcome in zip(jobs, outcomes):
        if not outcome.ok:
            failures.append({"method": job.method, "seed": job.seed, "instance": job.instance,
                             "error": outcome.error, "attempts": outcome.attempts})
            continue
        row, detail, sample = outcome.value
        rows.append(row)
        details[(job.method, job.seed, job.instance)] = detail
        samples.setdefault(job.method, sample)

    sweep = None
    if (profile["layer_sweep"] if layer_sweep is None else layer_sweep) and "dinm" in methods:
        from interp.edits import layer_sweep as run_layer_sweep

        t = time.perf_counter()
        sweep = run_layer_sweep(model, data.instances, seed=seeds[0], progress=progress, **options["dinm"])
        stages["layer sweep"] = time.perf_counter() - t

    import pandas as pd

    meta = {"model": name, "n_layers": model.cfg.n_layers, "d_model": model.cfg.d_model, "methods": methods,
            "seeds": seeds, "n_instances": n_instances, "n_eval": len(data.eval_records),
            "n_benign": len(data.benign), "n_train": len(data.train), "data": data.source,
            "located_layer": layer, "located_counts": dict(located.layer_counts),
            "probe_accuracy": probe.accuracy, "method_options": options, "attack_options": attack_opts,
            "key_options": key_opts, "device": str(model.cfg.device), "dtype": str(model.cfg.dtype),
            "torch": torch.__version__, "python": platform.python_version(),
            "stage_seconds": {k: round(v, 1) for k, v in stages.items()}, "executor": runner.name,
            "failures": failures,
            "seconds": round(time.perf_counter() - start, 1)}
    try:
        import transformer_lens

        meta["transformer_lens"] = transformer_lens.__version__
    except (ImportError, AttributeError):  # pragma: no cover
        pass
    return MechanismComparison(table=pd.DataFrame(rows), details=details, samples=samples, meta=meta,
                               layer_sweep=sweep)
