"""Data-flow helpers shared by the walker and the rules: who feeds whom, what a producer prints,
where `find`/`ls` entries come from, which commands read a script from stdin."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from functools import lru_cache

from railguard.detect.shell._decode import _DECODERS, decode_literal, printf_output
from railguard.detect.shell._syntax import Exec, Word, decode_ansi_c
from railguard.detect.shell._unwrap import INTERPRETERS, SHELLS, inline_code, unwrap_step

UNKNOWN_CWD = "\x00unknown"  # the directory after a `cd` to a place only known at run time
_STDIN_FILES = frozenset(
    {"-", "/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"}
)  # a script operand that is stdin

_FETCHERS = frozenset(
    {"curl", "wget", "fetch", "http", "https", "aria2c", "lwp-download", "GET", "xh", "curlie",
     # PowerShell's web cmdlets and their aliases
     "Invoke-WebRequest", "invoke-webrequest", "iwr", "Invoke-RestMethod", "invoke-restmethod", "irm"}
)  # fmt: skip
# Commands whose output is meant to be eval'ed: `eval "$(ssh-agent -s)"` is everyday setup.


@lru_cache(maxsize=4096)
def basename(text: str) -> str:
    return posixpath.basename(text.rstrip("/")) or text


def upstream_closure(exec_: Exec) -> list[Exec]:
    """Every command whose output (transitively) reaches `exec_`'s stdin."""
    return _closure(exec_, upstream=True)


def consumer_closure(exec_: Exec) -> list[Exec]:
    """Every command that (transitively) reads `exec_`'s output."""
    return _closure(exec_, upstream=False)


def _closure(exec_: Exec, *, upstream: bool) -> list[Exec]:
    seen: list[Exec] = []
    ids: set[int] = set()  # Exec compares by identity; ids keep the walk linear
    stack = list(exec_.upstream if upstream else exec_.consumers)
    while stack:
        item = stack.pop()
        if id(item) in ids:
            continue
        ids.add(id(item))
        seen.append(item)
        stack.extend(item.upstream if upstream else item.consumers)
    return seen


def seal(execs: list[Exec]) -> None:
    """The walk is over: data-flow links are final, so `reaches` may remember its answers."""
    for exec_ in execs:
        exec_.memo = {}


def reaches(exec_: Exec, test: Callable[[Exec], bool], *, upstream: bool = True) -> bool:
    """Whether a command whose output (transitively) reaches `exec_` — or, with `upstream=False`,
    that reads its output — passes `test`. Answers are remembered per command on a sealed graph, so
    asking it of every stage of a long pipeline costs linear time, where `upstream_closure` per stage
    costs quadratic."""
    key = (test, upstream)
    local: dict[int, bool] = {}  # answers for commands that are not sealed (during the walk)

    def known(node: Exec) -> bool | None:
        if node.memo is not None and key in node.memo:
            return node.memo[key]
        return local.get(id(node))

    stack: list[tuple[Exec, int]] = [(exec_, 0)]
    on_path: set[int] = set()
    while stack:
        node, index = stack[-1]
        if index == 0:
            if known(node) is not None:
                stack.pop()
                continue
            on_path.add(id(node))
        links = node.upstream if upstream else node.consumers
        if index < len(links):
            stack[-1] = (node, index + 1)
            child = links[index]
            if known(child) is None and id(child) not in on_path:
                stack.append((child, 0))
            continue
        stack.pop()
        on_path.discard(id(node))
        answer = any(test(c) or bool(known(c)) for c in links)
        if node.memo is not None:
            node.memo[key] = answer
        else:
            local[id(node)] = answer
    return bool(known(exec_))


def is_fetcher(exec_: Exec) -> bool:
    return bool(exec_.words) and basename(exec_.words[0].text) in _FETCHERS


def is_decoder(exec_: Exec) -> bool:
    argv = exec_.argv
    name = basename(argv[0]) if argv else ""
    flags = set(argv[1:])
    if name in ("base64", "base32", "basenc"):
        return bool(flags & {"-d", "--decode", "-D"}) or any(
            f.startswith("-") and "d" in f[1:] for f in flags
        )
    if name == "xxd":
        return "-r" in flags or "-rp" in flags or "-pr" in flags
    if name == "openssl":
        return "-d" in flags or "base64" in flags
    return name in ("uudecode", "rev")


def find_roots(exec_: Exec) -> tuple[list[Word], int]:
    """The start directories of a `find` command and the index where its expression begins."""
    argv = exec_.words
    index = 1
    while index < len(argv) and (
        argv[index].text in ("-H", "-L", "-P") or argv[index].text.startswith(("-D", "-O"))
    ):
        index += 2 if argv[index].text == "-D" else 1
    roots: list[Word] = []
    while index < len(argv) and not argv[index].text.startswith(("-", "(", "!")):
        roots.append(argv[index])
        index += 1
    return roots or [Word(".")], index


def piped_find_roots(exec_: Exec) -> list[Word]:
    """`find ROOT ... | xargs CMD` / `ls DIR | xargs CMD`: the directories the appended arguments come from."""
    roots: list[Word] = []
    for producer in upstream_closure(exec_):
        name = basename(producer.words[0].text) if producer.words else ""
        if name == "find":
            roots += find_roots(producer)[0]
        elif name == "ls":
            roots += [w for w in producer.words[1:] if not w.text.startswith("-")] or [Word(".")]
    return roots


def reads_script_from_stdin(exec_: Exec) -> bool:
    """A shell or interpreter with no script operand reads its program from stdin (or, under xargs, from
    the items of its input)."""
    if exec_.script_from_input:
        return True
    argv = exec_.argv
    name = basename(argv[0]) if argv else ""
    if name == "ssh":
        return unwrap_step("ssh", exec_.words) is None
    if name in ("at", "batch"):
        return "-f" not in argv[1:]
    base = name.rstrip("0123456789.") if name not in SHELLS else name
    if name not in SHELLS and name not in INTERPRETERS and base not in INTERPRETERS:
        return False
    operands = [a for a in argv[1:] if not a.startswith("-") or a == "-"]
    kind = INTERPRETERS.get(name) or INTERPRETERS.get(base)
    code = inline_code(kind, exec_.words) if kind is not None else None
    if code is not None:  # `perl -lne'...'`, `python3 -c'...'`: the program is on the command line ...
        return _EVALS_STDIN.search(code.text) is not None  # ... unless it runs what it reads from stdin
    if not operands and base == "python" and any(_python_program_option(a) for a in argv[1:]):
        return False  # `python -mjson.tool`: the module is joined onto the option
    return not operands or operands[0] in _STDIN_FILES or "-s" in argv[1:]


# Inline code that evaluates its standard input: `exec(sys.stdin.read())`, `eval join q(),<>`,
# `eval(STDIN.read)`, `eval(require('fs').readFileSync(0, 'utf8'))`.
_EVALS_STDIN = re.compile(
    r"\b(?:exec|eval|instance_eval|compile|Function)\b[^;\n]{0,80}?"
    r"(?:\bstdin\b|\bSTDIN\b|\$stdin|<>|<STDIN>|readFileSync\(\s*(?:0|['\"]/dev/stdin['\"]))"
)


def _python_program_option(arg: str) -> bool:
    """A getopt cluster that carries python's module joined on: `-mjson.tool` (`-W`/`-X` take the rest
    of the cluster as their own value)."""
    if arg.startswith("--") or len(arg) < 3:
        return False
    for index, letter in enumerate(arg[1:], start=1):
        if letter in "WXQc":
            return False
        if letter == "m":
            return index < len(arg) - 1
    return False


def substitution_output(inner: list[Exec]) -> str | None:
    """What `$(...)` prints when it is knowable: a literal echo/printf, or `which X` / `command -v X`."""
    if len(inner) != 1 or inner[0].upstream:
        return None
    argv = inner[0].argv
    name = basename(argv[0]) if argv else ""
    if name in ("which", "command", "type") and len(argv) >= 2 and not any(w.dynamic for w in inner[0].words):
        return argv[-1]
    return literal_output(inner)


# Decoders chained on a literal (`echo ... | base64 -d | rev | sh`) are followed this far back. Past it
# the output is unknown, which the rules judge by its sources (a decoder upstream of a shell blocks).
# The bound keeps each call O(1), so a long pipeline costs linear time, not quadratic.
MAX_LITERAL_CHAIN = 16


def literal_output(upstream: list[Exec], depth: int = 0) -> str | None:
    """The text a lone literal producer writes into a pipe: `echo`, `printf` (escapes and `%s`
    applied), `cat` of a heredoc, or a decoder (`base64 -d`, `xxd -r -p`, `rev`) of literal input.
    Obfuscated payloads are decoded so the script they hide is analyzed, not just flagged."""
    if len(upstream) != 1 or depth > MAX_LITERAL_CHAIN:
        return None
    producer = upstream[0]
    if any(w.dynamic for w in producer.words):
        return None
    argv = producer.argv
    name = basename(argv[0]) if argv else ""
    feed = producer.stdin_text
    if feed is None and producer.upstream and name in _DECODERS:  # only decoders pass their input on
        feed = literal_output(producer.upstream, depth + 1)
    if name in _DECODERS and is_decoder(producer):
        return decode_literal(name, argv, feed) if feed is not None else None
    if producer.upstream and producer.stdin_text is None:
        return None
    if name == "echo":
        args = [a for a in argv[1:] if a not in ("-n", "-e", "-E", "-ne", "-en")]
        text = " ".join(args)
        return decode_ansi_c(text) if any(a in ("-e", "-ne", "-en") for a in argv[1:3]) else text
    if name == "cat" and len(argv) == 1 and producer.stdin_text is not None:
        return producer.stdin_text  # `cat <<EOF | sh`: the heredoc passes straight through
    if name == "printf" and len(argv) > 1:
        return printf_output(argv[1:])
    return None
