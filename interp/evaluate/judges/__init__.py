"""Judges: one protocol (``judge(responses, prompts=None) -> Verdicts``), one per file.

* :mod:`.protocol` -- :class:`Judge` (base class), :class:`Verdicts`, :func:`check_judge`
* :mod:`.refusal` -- :class:`RefusalJudge` (refusal phrases)
* :mod:`.text_classifier` -- :class:`ClassifierJudge`, :func:`fit_text_classifier` (the one place
  text classifiers are fitted)
* :mod:`.hf_classifier` -- :class:`HFClassifierJudge` (a local Hugging Face classifier)
* :mod:`.organism` -- :class:`OrganismJudge`, :func:`organism_judge` (shipped)
* :mod:`.real_text` -- :class:`RealTextJudge`, :func:`real_judge` (shipped, for real models)
* :mod:`.labelled` -- hand-labelled responses; :mod:`.error` -- :func:`judge_report`, :class:`JudgeError`
* :mod:`.agreement` -- :func:`judge_agreement`; :mod:`.default` -- :func:`default_judge` (per model)
"""

from interp.evaluate.judges.agreement import AgreementReport, judge_agreement
from interp.evaluate.judges.default import default_judge, resolve_judge
from interp.evaluate.judges.error import DetectionScores, JudgeError, JudgeReport, judge_report
from interp.evaluate.judges.hf_classifier import HFClassifierJudge
from interp.evaluate.judges.labelled import (
    GOLD_LABELS,
    GOLD_TO_JUDGE,
    LabelledResponse,
    labelled_set_path,
    load_labelled_responses,
)
from interp.evaluate.judges.organism import (
    OrganismJudge,
    fit_organism_judge,
    organism_judge,
    organism_corpus_responses,
    train_default_judge,
)
from interp.evaluate.judges.protocol import LABELS, Judge, Verdicts, check_judge
from interp.evaluate.judges.real_text import (
    RealTextJudge,
    fit_real_judge,
    marked_text,
    real_judge,
    response_markers,
    shipped_judge_path,
)
from interp.evaluate.judges.refusal import REFUSAL_PHRASES, RefusalJudge
from interp.evaluate.judges.text_classifier import ClassifierJudge, fit_text_classifier

#: The three verdicts (kept under its stage-1 name too).
JUDGE_LABELS = LABELS

__all__ = [
    "LABELS", "JUDGE_LABELS", "Judge", "Verdicts", "check_judge",
    "RefusalJudge", "REFUSAL_PHRASES",
    "ClassifierJudge", "fit_text_classifier", "HFClassifierJudge",
    "OrganismJudge", "organism_judge", "fit_organism_judge", "organism_corpus_responses", "train_default_judge",
    "RealTextJudge", "real_judge", "fit_real_judge", "marked_text", "response_markers", "shipped_judge_path",
    "GOLD_LABELS", "GOLD_TO_JUDGE", "LabelledResponse", "load_labelled_responses", "labelled_set_path",
    "DetectionScores", "JudgeError", "JudgeReport", "judge_report",
    "AgreementReport", "judge_agreement", "default_judge", "resolve_judge",
]
