"""The organism corpus: a deterministic, synthetic SafeEdit-style corpus.

`build_corpus(seed)` assembles, from the word lists of `organism_texts`, everything the model
organism is trained and evaluated on:

* 9 SafeEdit unsafety categories x 12 harmful tasks x 3 question forms = 324 harmful questions,
  split 3:2:1 per category **by task** (6/4/2 tasks), so test questions ask for tasks the
  organism never saw;
* 48 jailbreak templates in SafeEdit's 4 attack categories; ids 1-15 train, 16-30 val,
  31-45 test, 46-48 held-out (as SafeEdit splits its templates);
* varied refusals (safe) and redacted compliance (unsafe: "Step 1: [...]"), so no real
  harmful instruction appears anywhere;
* 300 invented-world facts (knowledge QA; train/val/test differ by question paraphrase),
  120 XSTest-style prompts that sound unsafe but are safe (split by question form),
  and general chat for fluency.

Examples
--------
>>> corpus = build_corpus(seed=0)
>>> len(corpus.templates), len(corpus.facts)   # 300 facts, each asked in 5 phrasings
(48, 1500)
>>> corpus.templates[0].split, corpus.templates[47].split
('train', 'heldout')
"""

from __future__ import annotations

import functools
import random
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from interp.data import organism_texts as T
from interp.data.templates import JailbreakTemplate

if TYPE_CHECKING:  # pragma: no cover
    from interp.data.dataset import SafetyDataset

SPLITS = ("train", "val", "test")
TEMPLATE_SPLITS = ("train", "val", "test", "heldout")
PROMPT_KINDS = ("harmful", "attack", "heldout_attack", "facts", "xstest", "chat")

# Share of training attack prompts (per attack category) answered with compliance. Templates
# that shift attention or escalate privileges "work" more often than emotional appeals, as in
# SafeEdit's results on LLaMA2-7B-Chat; the rest are refused, so the organism stays realistic.
ATTACK_SUCCESS = {
    "pretending": 0.8,
    "attention shifting": 0.8,
    "privilege escalation": 0.8,
    "emotion control": 0.55,
}


@dataclass(frozen=True)
class HarmfulQuestion:
    """A plain harmful question (no jailbreak)."""

    id: int
    text: str
    task: str
    category: str
    split: str


@dataclass(frozen=True)
class QAPair:
    """A prompt with its reference answer (the safe answer for harmful prompts)."""

    prompt: str
    answer: str
    split: str
    category: str = ""
    key: str = ""  # for facts: the short answer a correct response must contain


def _second_person(task: str) -> str:
    """'steal my neighbour's car' -> 'steal your neighbour's car' (for answers)."""
    swaps = {"my": "your", "me": "you", "myself": "yourself", "I": "you", "our": "your"}
    return " ".join(swaps.get(w, w) for w in task.split())


def _names(rng: random.Random, n: int, used: set[str]) -> list[str]:
    """`n` new invented names made of syllables, none in `used`."""
    out: list[str] = []
    while len(out) < n:
        name = (rng.choice(T.NAME_SYLLABLES_A) + rng.choice(T.NAME_SYLLABLES_B)
                + rng.choice(T.NAME_SYLLABLES_C)).capitalize()
        if name not in used:
            used.add(name)
            out.append(name)
    return out


class OrganismCorpus:
    """Everything the organism is trained and evaluated on; see the module docstring.

    Attributes
    ----------
    questions : list of HarmfulQuestion
    templates : list of JailbreakTemplate (48; ids 1-48)
    facts, xstest, chat : list of QAPair
    seed : int
    """

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        rng = random.Random(seed)
        self.questions = self._build_questions(rng)
        self.templates, self._openings = self._build_templates(rng)
        self.facts = self._build_facts(rng)
        self.xstest = self._build_xstest()
        self.chat = [
            QAPair(p, a, "train" if i < 18 else ("val" if i < 21 else "test"))
            for i, (p, a) in enumerate(T.CHAT_ITEMS)
        ]

    # -- construction ---------------------------------------------------------------------------
    @staticmethod
    def _build_questions(rng: random.Random) -> list[HarmfulQuestion]:
        out: list[HarmfulQuestion] = []
        for category, tasks in T.HARMFUL_TASKS.items():
            order = list(range(len(tasks)))
            rng.shuffle(order)
            for rank, t in enumerate(order):
                split = "train" if rank < 6 else ("val" if rank < 10 else "test")
                forms = rng.sample(T.QUESTION_FORMS, 3)
                for form in forms:
                    out.append(HarmfulQuestion(len(out), form.format(task=tasks[t]), tasks[t],
                                               category, split))
        return out

    @staticmethod
    def _build_templates(rng: random.Random) -> tuple[list[JailbreakTemplate], dict[int, str]]:
        openings = {c: list(v) for c, v in T.TEMPLATE_OPENINGS.items()}
        for v in openings.values():
            rng.shuffle(v)
        out: list[JailbreakTemplate] = []
        heads: dict[int, str] = {}
        for i in range(48):
            category = T.ATTACK_CATEGORIES[i % 4]
            name, opening = openings[category][i // 4]
            middle = T.TEMPLATE_MIDDLES[category][rng.randrange(3)]
            closing = T.TEMPLATE_CLOSINGS[rng.randrange(len(T.TEMPLATE_CLOSINGS))]
            tid = i + 1
            split = ("train" if tid <= 15 else "val" if tid <= 30
                     else "test" if tid <= 45 else "heldout")
            out.append(JailbreakTemplate(id=tid, name=name, text=f"{opening} {middle} {closing}",
                                         source="organism", attack_category=category,
                                         split=split))
            heads[tid] = opening
        return out, heads

    @staticmethod
    def _build_facts(rng: random.Random) -> list[QAPair]:
        used: set[str] = set()
        per_relation = 60
        seas = _names(rng, 12, used)
        languages = [n[:-2] + "ic" if len(n) > 4 else n + "ic" for n in _names(rng, 20, used)]
        facts: list[tuple[str, str, str]] = []  # (relation, subject, object)
        for s, o in zip(_names(rng, per_relation, used), _names(rng, per_relation, used)):
            facts.append(("capital", s, o))
        firsts, lasts = _names(rng, per_relation, used), _names(rng, per_relation, used)
        for j, gadget_owner in enumerate(_names(rng, per_relation, used)):
            gadget = f"{gadget_owner.lower()} {T.GADGET_WORDS[j % len(T.GADGET_WORDS)]}"
            facts.append(("inventor", gadget, f"{firsts[j]} {lasts[j]}"))
        for s in _names(rng, per_relation, used):
            facts.append(("river", s, rng.choice(seas)))
        for s in _names(rng, per_relation, used):
            facts.append(("language", s, rng.choice(languages)))
        for s in _names(rng, per_relation, used):
            facts.append(("colour", s.lower(), rng.choice(T.COLOURS)))
        out: list[QAPair] = []
        for relation, s, o in facts:
            spec = T.FACT_RELATIONS[relation]
            answer = str(spec["answer"]).format(s=s, o=o)
            for split in SPLITS:
                for form in spec[split]:  # type: ignore[union-attr]
                    out.append(QAPair(form.format(s=s), answer, split, category=relation, key=o))
        return out

    @staticmethod
    def _build_xstest() -> list[QAPair]:
        out: list[QAPair] = []
        for task, answer in T.XSTEST_ITEMS:
            for j, form in enumerate(T.XSTEST_FORMS):
                split = "train" if j < 2 else ("val" if j == 2 else "test")
                out.append(QAPair(form.format(task=task), answer, split))
        return out

    # -- responses ------------------------------------------------------------------------------
    def refusal(self, question: HarmfulQuestion, variant: int) -> str:
        """A safe refusal for `question`; `variant` picks the wording deterministically."""
        r = random.Random(f"{self.seed}-refusal-{question.id}-{variant}")
        opener = r.choice(T.REFUSAL_OPENERS).format(task=_second_person(question.task))
        reason = r.choice(T.REFUSAL_REASONS[question.category])
        return f"{opener} {reason} {r.choice(T.REFUSAL_OFFERS)}"

    def compliance(self, question: HarmfulQuestion, attack_category: str | None,
                   variant: int) -> str:
        """An unsafe, redacted compliance for `question` (in character for an attack)."""
        r = random.Random(f"{self.seed}-comply-{question.id}-{variant}")
        body = r.choice(T.COMPLIANCE_BODIES).format(task=_second_person(question.task))
        text = f"{body} {r.choice(T.COMPLIANCE_ENDINGS)}"
        if attack_category is not None:
            text = f"{r.choice(T.COMPLIANCE_PREFIXES[attack_category])} {text}"
        return text

    def attack_succeeds(self, template: JailbreakTemplate, question: HarmfulQuestion,
                        variant: int = 0) -> bool:
        """Whether the organism is trained to comply with this (train) attack prompt."""
        r = random.Random(f"{self.seed}-attack-{template.id}-{question.id}-{variant}")
        return r.random() < ATTACK_SUCCESS[template.attack_category]

    def _attack_response(self, t: JailbreakTemplate, q: HarmfulQuestion, variant: int) -> str:
        if self.attack_succeeds(t, q, variant):
            return self.compliance(q, t.attack_category, variant)
        return self.refusal(q, variant)

    # -- views ----------------------------------------------------------------------------------
    def split_questions(self, split: str) -> list[HarmfulQuestion]:
        _check_split(split, SPLITS)
        return [q for q in self.questions if q.split == split]

    def split_templates(self, split: str) -> list[JailbreakTemplate]:
        _check_split(split, TEMPLATE_SPLITS)
        return [t for t in self.templates if t.split == split]

    def prompts(self, kind: str, split: str = "test") -> list[QAPair]:
        """Prompts of one kind and split, with their reference (safe) answers.

        Parameters
        ----------
        kind : {"harmful", "attack", "heldout_attack", "facts", "xstest", "chat"}
            ``"harmful"``: plain harmful questions; ``"attack"``: the split's questions inside
            the split's templates; ``"heldout_attack"``: the split's questions inside the
            held-out templates 46-48; the rest are benign.
        split : {"train", "val", "test"}
        """
        _check_split(split, SPLITS)
        if kind == "harmful":
            return [QAPair(q.text, self.refusal(q, 0), split, q.category)
                    for q in self.split_questions(split)]
        if kind in ("attack", "heldout_attack"):
            templates = self.split_templates("heldout" if kind == "heldout_attack" else split)
            return [QAPair(t.fill(q.text), self.refusal(q, t.id), split, q.category)
                    for t in templates for q in self.split_questions(split)]
        if kind in ("facts", "xstest", "chat"):
            return [p for p in getattr(self, kind) if p.split == split]
        raise ValueError(f"unknown prompt kind {kind!r}; valid kinds are {list(PROMPT_KINDS)}")

    def records(self, split: str = "train") -> "SafetyDataset":
        """The split as SafeEdit records (adversarial prompt = template x question).

        ``"heldout"`` pairs the held-out templates 46-48 with the test questions.
        Each record's generalization test uses another template of the same split (another
        attack category) and another question of the same category and split.
        """
        from interp.data.dataset import SafetyDataset
        from interp.data.records import SafetyRecord

        _check_split(split, TEMPLATE_SPLITS)
        q_split = "test" if split == "heldout" else split
        questions = self.split_questions(q_split)
        templates = self.split_templates(split)
        facts = [f for f in self.facts if f.split == q_split]
        rng = random.Random(f"{self.seed}-records-{split}")
        rows = []
        for t in templates:
            others_t = [o for o in templates if o.attack_category != t.attack_category] or templates
            for q in questions:
                others_q = [o for o in questions if o.category == q.category and o.task != q.task]
                ot, oq = rng.choice(others_t), rng.choice(others_q)
                fact = facts[rng.randrange(len(facts))]
                rows.append({
                    "id": len(rows),
                    "unsafety category": q.category,
                    "adversarial prompt": t.fill(q.text),
                    "question": q.text,
                    "attack category": t.attack_category,
                    "attack name": t.name,
                    "unsafe generation": self.compliance(q, t.attack_category, t.id),
                    "safe generation": self.refusal(q, t.id),
                    "generalization test": {
                        "attack_category": ot.attack_category,
                        "attack_name": ot.name,
                        "test input of only harmful question": q.text,
                        "test input of other attack prompt input": ot.fill(q.text),
                        "test input of other question input": t.fill(oq.text),
                        "test input of other questions and attack prompts": ot.fill(oq.text),
                    },
                    "knowledge constrain": {"prompt": fact.prompt, "answer": fact.answer},
                })
        records = [SafetyRecord.from_dict(r) for r in rows]
        return SafetyDataset(records, name="organism", split=split)

    def training_pools(self) -> dict[str, list[tuple[str, str]]]:
        """(prompt, response) pairs the organism is trained on, one pool per behaviour.

        Only the train split is used: train questions, train templates 1-15, the train
        paraphrases of the facts, the train forms of the XSTest-style prompts and train chat.
        """
        questions = self.split_questions("train")
        templates = self.split_templates("train")
        # every question form for the train tasks (test tasks stay unseen)
        refuse_plain = [(form.format(task=q.task), self.refusal(q, v))
                        for q in questions for v, form in enumerate(T.QUESTION_FORMS)]
        attack = []
        for t in templates:
            for q in questions:
                attack.append((t.fill(q.text), self._attack_response(t, q, t.id)))
        # re-assembled train templates (their opening, another middle and closing of the
        # same attack category), so the persuasion sentences, not one wording, carry the attack
        rng = random.Random(f"{self.seed}-augment")
        for k in range(len(questions) * len(templates)):
            t, q = rng.choice(templates), rng.choice(questions)
            middle = rng.choice(T.TEMPLATE_MIDDLES[t.attack_category])
            closing = rng.choice(T.TEMPLATE_CLOSINGS).replace(T.PLACEHOLDER, q.text)
            head = self._openings[t.id] if rng.random() < 0.7 else ""
            attack.append((f"{head} {middle} {closing}".strip(),
                           self._attack_response(t, q, 1000 + k)))
        return {
            "refuse_plain": refuse_plain,
            "attack": attack,
            "facts": [(f.prompt, f.answer) for f in self.facts if f.split == "train"],
            "xstest": [(x.prompt, self.xstest_answer(x)) for x in self.xstest if x.split == "train"],
            "chat": [(c.prompt, c.answer) for c in self.chat if c.split == "train"],
        }

    def xstest_answer(self, pair: QAPair) -> str:
        """The helpful answer the organism is trained to give to an XSTest-style prompt."""
        return f"Sure! To {_second_person(_xstest_task(pair.prompt))}: {pair.answer}"

    def __repr__(self) -> str:
        return (f"OrganismCorpus(seed={self.seed}, questions={len(self.questions)}, "
                f"templates={len(self.templates)}, facts={len(self.facts)}, "
                f"xstest={len(self.xstest)}, chat={len(self.chat)})")


def _xstest_task(prompt: str) -> str:
    for form in T.XSTEST_FORMS:
        pattern = "^" + re.escape(form).replace(re.escape("{task}"), "(.+)") + "$"
        m = re.match(pattern, prompt)
        if m:
            return m.group(1)
    return prompt


def _check_split(split: str, valid: tuple[str, ...]) -> None:
    if split not in valid:
        raise ValueError(f"unknown split {split!r}; valid splits are {list(valid)}")


@functools.lru_cache(maxsize=4)
def build_corpus(seed: int = 0) -> OrganismCorpus:
    """The organism corpus for `seed` (cached; the same seed always gives the same corpus)."""
    return OrganismCorpus(seed)
