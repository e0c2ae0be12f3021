"""Generation, judges and SafeEdit metrics.

``generate`` (batched, KV-cached, hook-aware generation), the judges (``RefusalJudge``,
``ClassifierJudge``, ``HFClassifierJudge``, ``default_judge``, ``judge_agreement``) and the
metrics (``evaluate_safety`` -> ``SafetyScores``; ``refusal_rate``, ``over_refusal``,
``unsafe_rate``, ``qa_accuracy``; pure helpers ``safety_share``, ``ngram_entropy``, ...).
"""

from interp.evaluate.behaviour import BehaviourRow, PromptSetResult, behaviour_row
from interp.evaluate.build import REFUSAL_PREFIX, REFUSE_SYSTEM, build_safeedit
from interp.evaluate.generate import generate
from interp.evaluate.judges import (
    REFUSAL_PHRASES,
    AgreementReport,
    ClassifierJudge,
    HFClassifierJudge,
    Judge,
    RefusalJudge,
    check_judge,
    default_judge,
    judge_agreement,
    train_default_judge,
)
from interp.evaluate.real_judge import RealTextJudge, judge_report, load_labelled_responses, real_judge
from interp.evaluate.metrics import (
    MetricDetail,
    QAResult,
    RateResult,
    SafetyScores,
    answer_matches,
    dg_average,
    evaluate_safety,
    ngram_entropy,
    normalize_answer,
    over_refusal,
    qa_accuracy,
    refusal_rate,
    safety_labels,
    safety_share,
    text_ngram_entropy,
    unsafe_rate,
    word_tokenize,
)

__all__ = [
    "BehaviourRow",
    "PromptSetResult",
    "behaviour_row",
    "REFUSAL_PREFIX",
    "REFUSE_SYSTEM",
    "build_safeedit",
    "RealTextJudge",
    "judge_report",
    "load_labelled_responses",
    "real_judge",
    "generate",
    "Judge",
    "RefusalJudge",
    "ClassifierJudge",
    "HFClassifierJudge",
    "AgreementReport",
    "REFUSAL_PHRASES",
    "check_judge",
    "default_judge",
    "train_default_judge",
    "judge_agreement",
    "MetricDetail",
    "SafetyScores",
    "RateResult",
    "QAResult",
    "evaluate_safety",
    "refusal_rate",
    "over_refusal",
    "unsafe_rate",
    "qa_accuracy",
    "safety_labels",
    "safety_share",
    "dg_average",
    "ngram_entropy",
    "text_ngram_entropy",
    "word_tokenize",
    "normalize_answer",
    "answer_matches",
]
