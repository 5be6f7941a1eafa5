"""Every kind of exception the reconciliation can report has words and an action in the report."""

from __future__ import annotations

from ingest.apps.finance import exceptions
from ingest.core import paypal


def test_every_exception_kind_has_a_label_and_what_to_do():
    assert set(exceptions.KIND_LABELS) == set(exceptions.EXCEPTION_KINDS)
    assert set(exceptions.EXCEPTION_ACTIONS) == set(exceptions.EXCEPTION_KINDS)
    assert all("_" not in label for label in exceptions.KIND_LABELS.values())


def test_every_adjustment_class_is_an_exception_kind():
    assert set(paypal.ADJUSTMENT_CODES) <= set(exceptions.EXCEPTION_KINDS)
