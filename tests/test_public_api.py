"""The public API is small and explicit: this pins it, so a change to it is a deliberate one."""

import railguard


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
