"""Compare detox methods by what they change inside a model: :func:`compare_mechanisms`.

* :mod:`.data` -- each model's splits and measured settings (:data:`PROFILES`)
* :mod:`.measure` -- :func:`measure_edit`: every measurement of one edited model
* :mod:`.claims` -- the published claims, tested with intervals
* :mod:`.result` -- :class:`MechanismComparison` (table, summary, claims, figures, JSON, HTML)
* :mod:`.run` -- :func:`compare_mechanisms`
"""

from interp.compare.claims import Claim, evaluate_claims
from interp.compare.data import PROFILES, ComparisonData, comparison_data
from interp.compare.measure import measure_edit
from interp.compare.result import MechanismComparison
from interp.compare.run import DEFAULT_METHODS, compare_mechanisms

__all__ = ["Claim", "ComparisonData", "DEFAULT_METHODS", "MechanismComparison", "PROFILES", "compare_mechanisms",
           "comparison_data", "evaluate_claims", "measure_edit"]
