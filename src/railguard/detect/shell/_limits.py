"""Hard caps that keep the shell analysis bounded, and the cheap scan that applies them before parsing.

tree-sitter-bash's parse time grows with the square of a single pipeline's length (`a|a|a|...`), and
every simple command costs the rules a few microseconds. So the caps are checked twice: a linear
lexical scan before parsing refuses inputs that are surely past them (in milliseconds), and the walker
counts exactly while it walks. Past a cap `InputTooLarge` is raised: the engine turns it into the
policy's `on_error` (block by default) — a command is never analyzed in part and judged on that part.
"""

from __future__ import annotations

import re

from railguard.detect._budget import InputTooLarge

MAX_COMMAND_CHARS = 100_000  # characters of one command line or script
MAX_COMMANDS = 500  # simple commands, including those in substitutions and re-parsed scripts
MAX_PIPELINE_STAGES = 256  # stages of one pipeline
MAX_WORDS = 4_000  # words of all the simple commands (arguments included)
MAX_DESTINATIONS = 256  # URLs and hosts the commands connect to (each is parsed and classified)
MAX_NESTING = 64  # substitutions, subshells, groups, compound statements, `bash -c` levels in one another
MAX_SCRIPT_LEVELS = 8  # scripts run by scripts run by ... (`bash -c "eval '...'"`), the top level included
MAX_EXPANSIONS = 256  # scripts parsed again (`bash -c`, `eval`, heredocs fed to a shell, aliases ...)
MAX_PARSED_CHARS = 4 * MAX_COMMAND_CHARS  # text parsed in all, the command and every re-parsed script
MAX_WALK_STEPS = 20_000  # syntax nodes walked (a `for` loop walks its body once per literal value)

# Quoted strings and heredoc openers are skipped (a `|` in them is data); everything else that can end
# a command or a pipeline stage is a token. Every alternative starts with its own character and no
# repetition nests an ambiguous one, so the standard engine runs in linear time here (and ~20x faster
# per match than re2's Python binding, which matters on a 100 KB command).
_TOKENS = re.compile(
    r"'[^']*'?"
    r'|"(?:[^"\\]|\\.)*"?'
    r"|\\[\s\S]"
    r"|<<-?[ \t]*(?:'[^'\n]*'|\"[^\"\n]*\"|[A-Za-z0-9_.-]+)"
    r"|#[^\n]*"
    r"|\|\||&&|\|&?|;;?|&|\n[ \t\n]*(?:#[^\n]*\n[ \t\n]*)*"
)
_HEREDOC_WORD = re.compile(r"<<(-?)[ \t]*['\"]?([^'\"\n]*)")


def check_size(script: str) -> None:
    """Refuse a script that is surely past a cap, without parsing it. Counts are lower bounds: the
    scan skips quoted text and heredoc bodies, so it never refuses what the walker would accept."""
    if len(script) > MAX_COMMAND_CHARS:
        raise InputTooLarge("the shell command's length (characters)", len(script), MAX_COMMAND_CHARS)
    if len(script) < 2 * MAX_PIPELINE_STAGES - 1:
        return  # too short to pass any cap the scan checks (the pipeline cap needs the most: `a|a|...`)
    separators = stages = words = 0
    skip_to = 0
    for match in _TOKENS.finditer(script):
        start = match.start()
        if start < skip_to:
            continue
        words += len(script[skip_to:start].split())  # the unquoted text since the last token
        skip_to = match.end()
        token = match.group(0)
        head = token[0]
        if head in "'\"\\#":
            words += head != "#"
            continue
        if token.startswith("<<"):
            skip_to = _heredoc_end(script, match.end(), token)
            continue
        if token in ("|", "|&"):
            stages += 1
            if stages >= MAX_PIPELINE_STAGES:
                raise InputTooLarge("a pipeline's stages", stages + 1, MAX_PIPELINE_STAGES)
        else:
            stages = 0
        separators += 1
        if separators >= 2 * MAX_COMMANDS:  # blank and comment lines aside, each separator ends a command
            raise InputTooLarge("the shell command's simple commands", separators + 1, MAX_COMMANDS)
    words += len(script[skip_to:].split())
    if words > 2 * MAX_WORDS:  # quoted strings count once, and `a'b'c` may count thrice: refuse at twice
        raise InputTooLarge("the shell command's words", words, MAX_WORDS)


def _heredoc_end(script: str, after: int, token: str) -> int:
    """Where the body of the heredoc opened by `token` ends (the end of the text when it never does)."""
    match = _HEREDOC_WORD.match(token)
    word = match.group(2).strip() if match is not None else ""
    body = script.find("\n", after)
    if not word or body < 0:
        return after
    end = script.find("\n" + word + "\n", body)
    if end < 0 and match is not None and match.group(1):
        end = script.find("\t" + word + "\n", body)  # `<<-` allows tabs before the delimiter
    return len(script) if end < 0 else end + len(word) + 1
