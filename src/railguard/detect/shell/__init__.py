"""Shell command analysis: which commands would really run, and what they would do.

    analysis = analyze_command("sudo bash -c 'rm -rf ~/*'", workspace="/home/u/app", home="/home/u")
    analysis.verdict          # "block"
    analysis.to_fact()        # the CEL variable `shell`

Parsing is tree-sitter-bash; wrappers, `bash -c`, `eval`, substitutions and heredocs are followed.
Anything not understood makes `unparsed` true and the verdict at least "ask".
"""

from __future__ import annotations

from railguard.detect.shell._analyze import analyze_cached
from railguard.detect.shell._model import ShellAnalysis, ShellFinding, SimpleCommand

__all__ = ["ShellAnalysis", "ShellFinding", "SimpleCommand", "analyze_command"]


def analyze_command(command: str, *, workspace: str | None = None, home: str | None = None) -> ShellAnalysis:
    """Analyze one shell command line (or script). Pure, cached on its arguments, never raises."""
    if not isinstance(command, str):
        command = str(command)
    return analyze_cached(command, workspace, home)
