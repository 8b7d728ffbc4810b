"""The shell analyzer's answer for a command run in a fixed project folder, for the per-class shell tests."""

from __future__ import annotations

from railguard.detect.shell import analyze_command

WS, HOME = "/home/u/app", "/home/u"


def verdict(command: str) -> str:
    return analyze_command(command, workspace=WS, home=HOME).verdict


def rules(command: str) -> set[str]:
    return {f.rule for f in analyze_command(command, workspace=WS, home=HOME).findings}
