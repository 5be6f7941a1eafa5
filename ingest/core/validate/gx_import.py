"""Great Expectations, imported without executing the modules our suites never use.

``import great_expectations`` imports every expectation GX ships, and three of them import heavy
libraries at module level: the KL-divergence expectation imports ``altair`` (charts, which pulls
in ``jsonschema`` and ``rfc3987_syntax``) and ``scipy.stats``, the JSON-schema metric imports
``jsonschema``. Those took 3.4 s of an 8.1 s import on a 2-core machine: most of a Lambda cold
start, whose Init phase is capped at 10 s.

The standard library's documented mechanism for this is ``importlib.util.LazyLoader``: a module
it loads is created at once but executed only when one of its attributes is first used. The
finder below gives ``DEFERRED`` modules that loader while GX is imported, then steps aside; an
expectation that does use one (a KL-divergence check) loads it then, transparently.

``tests/unit/test_gx_import.py`` checks that validation results are identical with and without
the deferral and that the deferred modules stay unexecuted after our suites build and run, so a
GX release that starts to use one at import time fails a test, not a cold start.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
import types
from collections.abc import Sequence

DEFERRED = ("altair", "jsonschema", "scipy.stats")
"""Modules GX imports when it starts that no expectation of our suites executes."""

_lock = threading.Lock()


class _DeferringFinder(importlib.abc.MetaPathFinder):
    """Finds ``names`` with the other finders and wraps their loaders in ``LazyLoader``."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = frozenset(names)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.names:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is None:
                continue
            if spec.loader is None or not hasattr(spec.loader, "exec_module"):
                return None  # a namespace package or an old-style loader: import it as usual
            spec.loader = importlib.util.LazyLoader(spec.loader)
            return spec
        return None


def import_great_expectations() -> types.ModuleType:
    """``great_expectations``, imported with ``DEFERRED`` modules left unexecuted until used."""
    with _lock:
        if "great_expectations" in sys.modules:
            return sys.modules["great_expectations"]
        finder = _DeferringFinder(DEFERRED)
        sys.meta_path.insert(0, finder)
        try:
            import great_expectations
        finally:
            sys.meta_path.remove(finder)
        return great_expectations
