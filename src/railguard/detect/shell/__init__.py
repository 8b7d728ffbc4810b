"""Shell command analysis: which commands would really run, and what they would do.

    analysis = analyze_command("sudo bash -c 'rm -rf ~/*'", workspace="/home/u/app", home="/home/u")
    analysis.verdict          # "block"
    analysis.to_fact()        # the CEL variable `shell`

Parsing is tree-sitter-bash; wrappers, `bash -c`, `eval`, substitutions and heredocs are followed.
Anything not understood makes `unparsed` true and the verdict at least "ask".
"""

from __future__ import annotations

from railguard.detect._budget import InputTooLarge
from railguard.detect.shell._analyze import analyze_cached
from railguard.detect.shell._model import ShellAnalysis, ShellFinding, SimpleCommand

__all__ = ["InputTooLarge", "ShellAnalysis", "ShellFinding", "SimpleCommand", "analyze_command"]


def analyze_command(command: str, *, workspace: str | None = None, home: str | None = None) -> ShellAnalysis:
    """Analyze one shell command line (or script). Pure and cached on its arguments. Raises
    `InputTooLarge` for a command past the caps of `_limits` (length, nesting,
    pipeline stages, commands, re-parsed scripts): such a command is refused, never judged in part."""
    if not isinstance(command, str):
        command = str(command)
    return analyze_cached(command, workspace, home)
