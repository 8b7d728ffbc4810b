"""The public API is small and explicit: this pins it, so a change to it is a deliberate one."""

import importlib
import inspect
import pkgutil

import railguard
from railguard import errors


def test_public_api_is_pinned() -> None:
    assert railguard.__all__ == sorted(railguard.__all__)
    assert set(railguard.__all__) == {
        "Action", "ApprovalDenied", "ApprovalRequired", "CompiledPolicy", "ConfigurationError", "Context",
        "ContractViolation", "Decision", "Effect", "Engine", "EngineStats", "Explanation", "Facts", "Finding",
        "GuardBlocked", "GuardError", "Mode", "PolicyError", "PolicyTestError", "RailguardError", "RuleHit",
        "RuleTrace", "Severity", "StoreError", "ToolSpec", "Trust", "Verdict", "__version__", "available_packs",
        "current_context", "load_policy", "run", "Stop", "refusal",
        # loaded on first use
        "Approvals", "KillSwitch", "install_approvals", "install_killswitch", "permitted_tools", "Store",
        "open_store", "RedactionPolicy", "Tracing", "configure_tracing", "model_call", "record_confidence",
        "tool_call", "trace_engine", "GuardedToolkit", "ToolOutcome", "guarded",
        "BudgetRule", "Budgets", "LimitRule", "Limits", "LoopRules", "Loops", "Saga", "Unavailable", "idempotent",
        "resilient_call", "install_cushions", "Provenance", "install_provenance", "init", "RemoteEngine", "attach",
    }  # fmt: skip
    for name in railguard.__all__:
        assert hasattr(railguard, name), name


def test_import_stays_light() -> None:
    import subprocess
    import sys

    code = "import sys, railguard; print(sorted(m for m in ('sqlalchemy', 'opentelemetry.sdk') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_all_is_exactly_what_the_package_exposes() -> None:
    """Nothing public leaks (a helper import, a typing name) and nothing in __all__ is missing."""
    eager = {
        name
        for name, value in vars(railguard).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    lazy = set(railguard._LAZY)
    assert eager | lazy | {"__version__"} == set(railguard.__all__)
    for name in sorted(lazy):  # each lazy name resolves to the object its module defines
        module = importlib.import_module(railguard._LAZY[name])
        assert getattr(railguard, name) is getattr(module, name), name


def _library_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(railguard.__path__, "railguard."):
        if info.name.endswith("__main__"):
            continue  # running it is what importing it does
        try:
            importlib.import_module(info.name)
        except ImportError:  # an optional extra that is not installed
            continue
        names.append(info.name)
    return names


def test_every_public_exception_lives_in_errors_and_is_in_its_tree() -> None:
    tree = errors.__doc__ or ""
    for module_name in _library_modules():
        for name, value in vars(importlib.import_module(module_name)).items():
            if name.startswith("_") or not (
                inspect.isclass(value) and issubclass(value, railguard.RailguardError)
            ):
                continue
            assert value.__module__ == "railguard.errors", f"{module_name}.{name} is not defined in errors.py"
            assert value.__name__ in tree.split(), f"{value.__name__} is missing from the tree in errors.py"
    for name in railguard.__all__:
        value = getattr(railguard, name)
        if inspect.isclass(value) and issubclass(value, BaseException):
            assert value is getattr(errors, name)


def test_a_denial_is_not_a_pending_approval() -> None:
    assert not issubclass(railguard.ApprovalDenied, railguard.ApprovalRequired)
    assert issubclass(railguard.ApprovalDenied, railguard.GuardError)
