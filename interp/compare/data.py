"""The data of one comparison, split so that nothing evaluated was trained on, and each model's
measured settings (the methods' options that work on it, from docs/EDITS.md)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["PROFILES", "ComparisonData", "comparison_data", "profile_for"]

#: Per-model settings. Organism (sized for ``make demo``, 10 min on 2 cores): SFT 50 steps, DPO 20
#: (its default 100 over-train: KQA -48), Vaccine at ``interp.edits.vaccine``'s measured lr 2e-4,
#: batch 4, 30 steps; a 10 %-harmful attack of 20 steps. SmolLM2: SFT with retention answers at lr
#: 1e-5 (refusal-only SFT/DPO made it refuse 79-90 % of safe prompts), DPO at lr 5e-6 with prompts
#: cut to 512 tokens (memory), Vaccine at SFT's settings; 12 evaluation records and an attack of
#: 20 steps at lr 2e-5. Batches of 4 (SFT, Vaccine), 2 pairs (DPO) and 2 (attack): ``interp compare``
#: takes 55 min on 2 CPU cores (74 min at twice these batches; benchmarks/RESULTS.md). The attack at
#: 20 x 2 still breaks the base (DS 83.3 -> 41.7, n = 12).
PROFILES: dict[str, dict[str, Any]] = {
    "organism": {
        "methods": {"dinm": {}, "sft": {"steps": 50}, "dpo": {"steps": 20},
                    "vaccine": {"steps": 30, "batch_size": 4, "lr": 2e-4}},
        "attack": {"steps": 20, "n_samples": 160, "harmful_ratio": 0.1},
        "keys": {"k": 7, "factor": 10.0},
        "n_eval": 20, "n_benign": 30, "probe_records": 400, "max_new_tokens": 32, "layer_sweep": True,
    },
    "smollm2-135m-instruct": {
        "methods": {"dinm": {}, "sft": {"steps": 20, "lr": 1e-5, "batch_size": 4},
                    "dpo": {"steps": 20, "lr": 5e-6, "batch_size": 2, "max_length": 512},
                    "vaccine": {"steps": 20, "lr": 1e-5, "batch_size": 4}},
        "attack": {"steps": 20, "n_samples": 60, "harmful_ratio": 0.2, "lr": 2e-5, "batch_size": 2,
                   "max_length": 512},
        "keys": {"k": 7, "factor": 10.0},
        "n_eval": 12, "n_benign": 50, "probe_records": None, "max_new_tokens": 48, "layer_sweep": False,
    },
}


def profile_for(name: str) -> dict[str, Any]:
    """The settings of a known model; a local folder or another name gets SmolLM2's (a real chat model).
    Add an entry to :data:`PROFILES` under a model's ``cfg.model_name`` to give it its own."""
    return PROFILES.get(name, PROFILES["smollm2-135m-instruct"])


@dataclass
class ComparisonData:
    """Records and prompts of one comparison.

    Attributes
    ----------
    train : list
        Records SFT / DPO / Vaccine and the attack train on (plus retention pairs for real models).
    instances : list
        DINM's single-record edits (one edit per instance).
    eval_records : list
        SafeEdit evaluation records: in neither `train` nor `instances`.
    benign : list of str
        Safe prompts that merely sound unsafe (over-refusal).
    probe_records : list
        Records the toxicity probe is trained on.
    alignment_pairs : list of (prompt, response)
        The alignment data whose Harmful Embedding Drift is measured.
    attack_benign : list, optional
        The attack's benign samples (None: the training records' knowledge constraints; real
        models: the fact questions, since a few dozen records cannot fill the mix).
    source : str
    """

    train: list[Any]
    instances: list[Any]
    eval_records: list[Any]
    benign: list[str]
    probe_records: list[Any]
    alignment_pairs: list[tuple[str, str]]
    source: str
    attack_benign: list[Any] | None = None

    @property
    def flow_prompts(self) -> list[str]:
        return [r.adversarial_prompt for r in self.eval_records]


def comparison_data(name: str, model: Any, *, n_instances: int, n_eval: int | None = None,
                    dataset: Any = None, seed: int = 0) -> ComparisonData:
    """Split the data of model `name` (``"organism"`` or a real model) for one comparison.

    Organism: train split for training and the probe; test split for DINM's instances (first
    `n_instances`) and evaluation (the next `n_eval`); the corpus's XSTest-style test prompts.
    Real models: `dataset` (default SmolLM2's shipped SafeEdit-format records) split into DINM
    instances, evaluation records and training records; XSTest-style prompts from the real sets.
    """
    profile = profile_for(name)
    n_eval = n_eval or profile["n_eval"]
    rng = random.Random(seed)
    attack_benign = None
    if name == "organism" and dataset is None:
        from interp.data import load_dataset
        from interp.data.organism_corpus import build_corpus

        train = list(load_dataset("organism", split="train"))
        test = list(load_dataset("organism", split="test"))
        instances, eval_records = test[:n_instances], test[n_instances:n_instances + n_eval]
        benign = [p.prompt for p in build_corpus(0).prompts("xstest", "test")][: profile["n_benign"]]
        k = profile["probe_records"]
        probe_records = rng.sample(train, k) if k and k < len(train) else train
        source = f"organism SafeEdit-style corpus: train split {len(train)}, test split {len(test)}"
    else:
        from interp.data import load_dataset, real_prompt_sets

        if dataset is None:
            import interp.data

            dataset = load_dataset(Path(interp.data.__file__).parent / "files" / "smollm2_safeedit.json")
            source = "SmolLM2's shipped SafeEdit-format records (its own answers to HarmBench questions)"
        else:
            source = f"user dataset ({len(dataset)} records)"
        records = list(dataset)
        if len(records) < n_instances + n_eval + 4:
            raise ValueError(f"comparison_data: {len(records)} records; need at least {n_instances + n_eval + 4} "
                             f"(n_instances={n_instances}, n_eval={n_eval}, 4 to train on)")
        instances, eval_records = records[:n_instances], records[n_instances:n_instances + n_eval]
        train = records[n_instances + n_eval:]
        xstest = real_prompt_sets(profile["n_benign"], seed=seed)["xstest-style"]
        benign = [p.text for p in xstest][: profile["n_benign"]]
        probe_records = train
        from interp.data import load_fact_questions

        attack_benign = list(load_fact_questions())
    pairs = [(r.adversarial_prompt, r.safe_generation) for r in train[:32]]
    return ComparisonData(train=train, instances=instances, eval_records=eval_records, benign=benign,
                          probe_records=probe_records, alignment_pairs=pairs, source=source,
                          attack_benign=attack_benign)
