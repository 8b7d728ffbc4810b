"""The public API is small and explicit: this pins it, so a change to it is a deliberate one."""

import railguard


def test_public_api_is_pinned() -> None:
    assert railguard.__all__ == sorted(railguard.__all__)
    assert set(railguard.__all__) == {
        "Action", "ApprovalDenied", "ApprovalRequired", "CompiledPolicy", "ConfigurationError", "Context",
        "ContractViolation", "Decision", "Effect", "Engine", "EngineStats", "Explanation", "Facts", "Finding",
        "GuardBlocked", "GuardError", "Mode", "PolicyError", "PolicyTestError", "RailguardError", "RuleHit",
        "RuleTrace", "Severity", "StoreError", "ToolSpec", "Trust", "Verdict", "__version__", "available_packs",
        "current_context", "load_policy", "run",
    }  # fmt: skip
    for name in railguard.__all__:
        assert hasattr(railguard, name), name
