"""Generation, judges, rates and SafeEdit metrics.

* :mod:`.generate` -- ``generate`` (batched, KV-cached, hook-aware)
* :mod:`.judges` -- one judge protocol, ``judge(responses, prompts=None) -> Verdicts``; the
  shipped judges carry their measured error; :func:`default_judge` picks one per model
* :mod:`.rates` -- :class:`Rate`: raw share, n, Wilson interval, judge-corrected share
* :mod:`.text_metrics` -- n-gram entropy, SafeEdit labels and shares, answer matching (no model)
* :mod:`.results` -- result types; :mod:`.safety` -- :func:`evaluate_safety`;
  :mod:`.model_rates` -- :func:`refusal_rate`, :func:`over_refusal`, :func:`unsafe_rate`,
  :func:`qa_accuracy`; :mod:`.behaviour` -- :func:`behaviour_row`; :mod:`.build` --
  :func:`build_safeedit`
"""

from interp.evaluate.behaviour import BehaviourRow, PromptSetResult, behaviour_row
from interp.evaluate.build import REFUSAL_PREFIX, REFUSE_SYSTEM, build_safeedit
from interp.evaluate.generate import generate
from interp.evaluate.judges import (
    GOLD_LABELS,
    JUDGE_LABELS,
    LABELS,
    REFUSAL_PHRASES,
    AgreementReport,
    ClassifierJudge,
    DetectionScores,
    HFClassifierJudge,
    Judge,
    JudgeError,
    JudgeReport,
    LabelledResponse,
    OrganismJudge,
    RealTextJudge,
    RefusalJudge,
    Verdicts,
    check_judge,
    default_judge,
    fit_organism_judge,
    fit_real_judge,
    fit_text_classifier,
    judge_agreement,
    judge_report,
    load_labelled_responses,
    organism_judge,
    real_judge,
    resolve_judge,
    train_default_judge,
)
from interp.evaluate.model_rates import over_refusal, qa_accuracy, refusal_rate, unsafe_rate
from interp.evaluate.rates import Rate, estimate_rate, rogan_gladen, wilson_interval
from interp.evaluate.results import MetricDetail, QAResult, RateResult, SafetyScores
from interp.evaluate.safety import SAFETY_FIELDS, evaluate_safety, judged_rate
from interp.evaluate.text_metrics import (
    answer_matches,
    dg_average,
    ngram_entropy,
    normalize_answer,
    safety_labels,
    safety_share,
    text_ngram_entropy,
    word_tokenize,
)

__all__ = [
    "generate",
    # judges
    "Judge", "Verdicts", "LABELS", "JUDGE_LABELS", "GOLD_LABELS", "check_judge", "default_judge", "resolve_judge",
    "RefusalJudge", "REFUSAL_PHRASES", "ClassifierJudge", "fit_text_classifier", "HFClassifierJudge",
    "OrganismJudge", "organism_judge", "fit_organism_judge", "train_default_judge",
    "RealTextJudge", "real_judge", "fit_real_judge", "LabelledResponse", "load_labelled_responses",
    "DetectionScores", "JudgeError", "JudgeReport", "judge_report", "AgreementReport", "judge_agreement",
    # rates
    "Rate", "estimate_rate", "wilson_interval", "rogan_gladen",
    # metrics
    "MetricDetail", "SafetyScores", "RateResult", "QAResult", "evaluate_safety", "SAFETY_FIELDS", "judged_rate", "refusal_rate", "over_refusal",
    "unsafe_rate", "qa_accuracy", "safety_labels", "safety_share", "dg_average", "ngram_entropy",
    "text_ngram_entropy", "word_tokenize", "normalize_answer", "answer_matches",
    # real prompt sets, SafeEdit-format records from a model's own answers
    "BehaviourRow", "PromptSetResult", "behaviour_row", "REFUSAL_PREFIX", "REFUSE_SYSTEM", "build_safeedit",
]
