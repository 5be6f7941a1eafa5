"""Every kind of exception the reconciliation can report has words and an action in the report."""

from __future__ import annotations

from ingest.apps.finance import reconcile, report
from ingest.core import paypal


def test_every_exception_kind_has_a_label_and_what_to_do():
    assert set(report.KIND_LABELS) == set(reconcile.EXCEPTION_KINDS)
    assert set(report.EXCEPTION_ACTIONS) == set(reconcile.EXCEPTION_KINDS)
    assert all("_" not in label for label in report.KIND_LABELS.values())


def test_every_adjustment_class_is_an_exception_kind():
    assert set(paypal.ADJUSTMENT_CODES) <= set(reconcile.EXCEPTION_KINDS)
