"""Issue 30: one rule decides what an out-of-distribution result may show (model.disclosure)."""

from types import SimpleNamespace

from model.disclosure import OOD_PREFIX, is_out_of_distribution, may_show_result, suitability_text
from model.ood_gate import OODVerdict

REASON = "head size 3989 ml is not that of an infant of 28-44 weeks"


def _result(reasons=None, gate=True):
    return SimpleNamespace(probability=0.91, ood=OODVerdict(reasons=list(reasons or [])) if gate else None)


def test_out_of_distribution_result_is_shown_only_when_asked_for():
    ood = _result([REASON])
    assert is_out_of_distribution(ood)
    assert not may_show_result(ood, show_anyway=False)
    assert may_show_result(ood, show_anyway=True)
    assert suitability_text(ood) == f"{OOD_PREFIX}: {REASON}"


def test_in_distribution_or_ungated_results_are_shown_and_nothing_without_a_result():
    for result in (_result([]), _result(gate=False)):
        assert may_show_result(result, show_anyway=False) and suitability_text(result) == ""
    assert not may_show_result(None, show_anyway=True) and suitability_text(None) == ""
