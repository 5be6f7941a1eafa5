"""Great Expectations imported with its unused heavy modules deferred (``gx_import``): the same
validation results, and the deferral still holding after our suites build and run.

Each side runs in a fresh interpreter, since an import happens once per process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ingest.core.validate.gx_import import DEFERRED

TESTS = Path(__file__).resolve().parent.parent

# Runs every shipped PayPal and payments check on rows with a planted defect for each, and
# reports the outcomes and which deferred modules are still unexecuted.
CHILD = """
import dataclasses, json, sys, types

sys.path[:0] = [sys.argv[2], sys.argv[2] + "/unit"]
from ingest.core.validate import gx_import

if sys.argv[1] == "eager":
    gx_import.DEFERRED = ()
from support.helpers import paypal_transaction
from test_validate import PAYPAL_DEFECTS, PIPELINES, payment, run_suite
from ingest.core.settings import EXPECTATIONS_DIR
from ingest.core.validate.suite import load_suite

paypal = [paypal_transaction(transaction_id=f"GOOD{n}") for n in range(5)]
defects = enumerate(PAYPAL_DEFECTS.values())
paypal += [paypal_transaction(transaction_id=f"BAD{n}", **info) for n, info in defects]
payments = [payment(1), payment(2, transaction_status="bogus"), payment(3, currency_code="US$"),
            payment(4, total_cost="-5.00"), payment(5, transaction_id=1)]
outcomes = {}
for name, records in (("paypal_transactions", paypal), ("payment_transactions", payments)):
    # GX's engine: the Arrow one (the default) does not import GX at all.
    outcome = run_suite(name, records, load_suite(EXPECTATIONS_DIR / f"{PIPELINES[name].suite}.json", "gx"))
    outcomes[name] = {
        "checks": [dataclasses.asdict(check) for check in outcome.checks],
        "bad_positions": {str(k): v for k, v in sorted(outcome.bad_positions.items())},
    }
unexecuted = [n for n in ("altair", "jsonschema", "scipy.stats")
              if n in sys.modules and type(sys.modules[n]) is not types.ModuleType]
print(json.dumps({"outcomes": outcomes, "unexecuted": unexecuted}))
"""


def validate_in_a_fresh_process(mode: str) -> dict:
    run = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(TESTS)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.splitlines()[-1])


def test_deferring_gx_modules_changes_no_validation_result_and_the_deferral_holds():
    eager = validate_in_a_fresh_process("eager")
    deferred = validate_in_a_fresh_process("deferred")

    # The planted defects were found (the comparison below is not of two empty results)...
    assert len(eager["outcomes"]["paypal_transactions"]["bad_positions"]) >= 5
    assert eager["outcomes"]["payment_transactions"]["bad_positions"]
    # ...and every check came out the same, row for row.
    assert deferred["outcomes"] == eager["outcomes"]
    # Without the deferral GX executes them all; with it, none of them ran for our suites. A GX
    # release that uses one while importing or validating fails here, not as a slow cold start.
    assert eager["unexecuted"] == []
    assert deferred["unexecuted"] == list(DEFERRED)
