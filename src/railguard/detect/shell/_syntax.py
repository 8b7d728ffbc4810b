"""Tree-sitter parsing and word evaluation: what a bash word really is after quote removal.

`r''m`, `"rm"`, `'r'"m"`, `$'\\x72m'` and `\\rm` all evaluate to `rm`. Expansions we cannot know
(`$X`, `$(cmd)`) mark the word dynamic, so callers never trust a guessed value.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import tree_sitter

from railguard._bare_import import submodule
from railguard.detect.shell._params import expand_parameter, parameter_name

Node = tree_sitter.Node


@lru_cache(maxsize=1)
def _language() -> tree_sitter.Language:
    return tree_sitter.Language(submodule("tree_sitter_bash", "_binding").language())


_local = threading.local()  # a parser is not safe to share between threads; one each, built once


# tree-sitter-bash 0.25 / tree-sitter 0.26 crash the process (SIGSEGV) on `{` followed by some
# code points beyond the Basic Multilingual Plane (e.g. U+E0001, a "tag" character used to smuggle
# hidden text). They mean nothing to the shell grammar, so they are parsed as U+FFFD.
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def parse(script: str) -> tree_sitter.Tree:
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = tree_sitter.Parser(_language())
    if not script.isascii():
        script = _ASTRAL.sub("\ufffd", script)
    return parser.parse(script.encode("utf-8", "surrogatepass"))


_GLOB_CHARS = frozenset("*?[")  # a word with one of these unquoted is a pattern


def text_of(node: Node) -> str:
    raw = node.text
    return raw.decode("utf-8", "replace") if raw is not None else ""


@dataclass(eq=False, slots=True)
class Word:
    """An evaluated shell word. `dynamic`: holds an expansion we could not resolve; `glob`: has an
    unquoted `*`, `?` or `[`; `subs`: commands run by substitutions inside the word."""

    text: str
    dynamic: bool = False
    glob: bool = False
    subs: list[Exec] = field(default_factory=list)
    split: bool = False  # an unquoted expansion brought whitespace: the shell splits it into words
    brace: bool = False  # an unquoted `{a,b}`: the shell expands it into several words


@dataclass(eq=False, slots=True)
class Redirect:
    op: str  # ">", ">>", "<", "&>", ">&", "<>" ...
    target: Word | None
    fd: str = ""


@dataclass(eq=False, slots=True)
class Exec:
    """One simple command as the walker sees it, with the data-flow links the rules need."""

    words: list[Word]
    via: tuple[str, ...] = ()
    redirects: list[Redirect] = field(default_factory=list)
    stdin_text: str | None = None  # heredoc, herestring, or a literal echo piped in
    upstream: list[Exec] = field(default_factory=list)  # whose output we read
    consumers: list[Exec] = field(default_factory=list)  # who reads our output
    dynamic_operands: bool = False  # xargs and friends append arguments we cannot see
    selective: bool = False  # targets picked by a filtered `find`: only matching entries are hit
    cwd: str | None = None  # the directory after earlier `cd`s in the same command (None: the workspace)
    script_from_input: bool = False  # a shell whose script xargs takes from the input (`xargs sh -c`)
    loop: str = ""  # inside a loop: "for", "while", or "endless" (`while true`, `until false`)
    # Data-flow answers (`_flow.reaches`), kept once the walk is over and the links no longer change.
    memo: dict[tuple[object, bool], bool] | None = None

    @property
    def argv(self) -> list[str]:
        return [w.text for w in self.words]


SubstitutionHook = Callable[[Node, str], list[Exec]]
LiteralHook = Callable[[list[Exec]], str | None]

_SIMPLE_ESCAPES = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "a": "\a",
    "b": "\b",
    "e": "\x1b",
    "E": "\x1b",
    "f": "\f",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "?": "?",
}


def decode_ansi_c(body: str) -> str:
    """Decode the body of `$'...'` (without the quotes)."""
    out: list[str] = []
    i, n = 0, len(body)
    while i < n:
        ch = body[i]
        if ch != "\\" or i + 1 >= n:
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[nxt])
            i += 2
        elif nxt in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[nxt]
            j = i + 2
            while j < min(n, i + 2 + width) and body[j] in "0123456789abcdefABCDEF":
                j += 1
            out.append(chr(min(int(body[i + 2 : j], 16), 0x10FFFF)) if j > i + 2 else "\\" + nxt)
            i = j
        elif nxt in "01234567":
            j = i + 1
            while j < min(n, i + 4) and body[j] in "01234567":
                j += 1
            out.append(chr(int(body[i + 1 : j], 8)))
            i = j
        else:
            out.append("\\" + nxt)
            i += 2
    return "".join(out)


def unescape_unquoted(text: str) -> str:
    """Backslash removal for an unquoted word: `\\rm` -> `rm`, `a\\ b` -> `a b`."""
    if "\\" not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            if text[i + 1] != "\n":
                out.append(text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _dq(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in '$`"\\\n':
            if text[i + 1] != "\n":
                out.append(text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


class WordEvaluator:
    """Evaluates word nodes against the variables known so far in the script."""

    def __init__(
        self,
        env: dict[str, str],
        on_substitution: SubstitutionHook,
        var_subs: dict[str, list[Exec]],
        literal: LiteralHook | None = None,
    ) -> None:
        self.literal = literal  # the known output of a substitution (`$(echo /)`, `$(which rm)`)
        self.env = env
        self.on_substitution = on_substitution
        self.var_subs = var_subs  # variables assigned from a substitution: the commands behind them

    def evaluate(self, node: Node) -> Word:
        word = Word("")
        self._into(node, word, quoted=False)
        return word

    def _into(self, node: Node, word: Word, *, quoted: bool) -> None:
        kind = node.type
        if kind == "word" or kind == "number":
            raw = text_of(node)
            if not quoted and not _GLOB_CHARS.isdisjoint(raw):
                word.glob = True
            if not quoted and ("{" in raw or "," in raw):
                word.brace = True
            word.text += unescape_unquoted(raw) if not quoted else raw
        elif kind == "raw_string":
            word.text += text_of(node)[1:-1]
        elif kind == "ansi_c_string":
            word.text += decode_ansi_c(text_of(node)[2:-1])
        elif kind in ("string", "translated_string"):
            self._string(node, word)
        elif kind in ("simple_expansion", "expansion"):
            before = len(word.text)
            self._expansion(node, word, quoted=quoted)
            separators = self.env.get("IFS", "")
            if not quoted and any(c.isspace() or c in separators for c in word.text[before:]):
                word.split = True
        elif kind == "command_substitution" and text_of(node) in ("$(pwd)", "`pwd`", "$(pwd -P)"):
            word.text += "."  # the current directory: keeps `rm -rf "$(pwd)/dist"` resolvable
        elif kind in ("command_substitution", "process_substitution"):
            label = "<()" if kind == "process_substitution" else "$()"
            inner = self.on_substitution(node, label)
            known = self.literal(inner) if self.literal is not None and label == "$()" else None
            if known is not None:
                word.text += known.rstrip("\n")
                word.split = word.split or (not quoted and any(c.isspace() for c in known.strip()))
                return
            word.subs.extend(inner)
            word.dynamic = True
            word.text += "$(...)" if label == "$()" else "<(...)"
        elif kind == "arithmetic_expansion":
            word.dynamic = True
            word.text += "$((...))"
        elif kind == "concatenation" or node.named_child_count:
            self._children(node, word, quoted=quoted)
        else:
            raw = text_of(node)
            if not quoted and not _GLOB_CHARS.isdisjoint(raw):
                word.glob = True
            word.text += raw

    def _children(self, node: Node, word: Word, *, quoted: bool) -> None:
        """Evaluate children, keeping the literal bytes between them (grammar gaps, braces)."""
        cursor = node.start_byte
        source = node.text or b""
        for child in node.children:
            if child.start_byte > cursor:
                word.text += source[cursor - node.start_byte : child.start_byte - node.start_byte].decode(
                    "utf-8", "replace"
                )
            self._into(child, word, quoted=quoted)
            cursor = child.end_byte
        if node.end_byte > cursor:
            word.text += source[cursor - node.start_byte :].decode("utf-8", "replace")

    def _string(self, node: Node, word: Word) -> None:
        source = node.text or b""
        start = node.start_byte
        cursor = start + (2 if source.startswith(b'$"') else 1)
        end = node.end_byte - 1 if source.endswith(b'"') and len(source) > 1 else node.end_byte
        for child in node.named_children:
            if child.start_byte > cursor:
                word.text += _dq(source[cursor - start : child.start_byte - start].decode("utf-8", "replace"))
            if child.type == "string_content":
                word.text += _dq(text_of(child))
            else:
                self._into(child, word, quoted=True)
            cursor = max(cursor, child.end_byte)
        if end > cursor:
            word.text += _dq(source[cursor - start : end - start].decode("utf-8", "replace"))

    def _expansion(self, node: Node, word: Word, *, quoted: bool = False) -> None:
        raw = text_of(node)
        body = raw[2:-1] if raw.startswith("${") else raw[1:]
        for child in node.named_children:
            if child.type in ("command_substitution", "process_substitution"):
                word.subs.extend(self.on_substitution(child, "$()"))
        name = parameter_name(body)
        value = expand_parameter(body, self.env)
        if value is not None:
            word.text += value
            # `"${x[@]}"` yields one word per element even inside quotes
            if quoted and (name == "@" or name.endswith("[@]")) and not body.startswith("#"):
                word.split = word.split or any(c.isspace() for c in value)
        elif name in self.var_subs:
            word.subs.extend(self.var_subs[name])
            word.dynamic = True
            word.text += raw
        else:
            word.dynamic = True
            word.text += raw


def expand_words(words: list[Word], ifs: str = "") -> list[Word]:
    """Field splitting of unquoted expansions (on whitespace and a custom IFS) and `{a,b}` brace
    expansion, as bash does before running."""
    if not any(w.split or w.brace for w in words):
        return words
    out: list[Word] = []
    for word in words:
        text = word.text
        for separator in ifs if word.split else "":
            text = text.replace(separator, " ")
        pieces = text.split() if word.split and not word.dynamic else [word.text]
        for piece in pieces:
            for text in _brace(piece) if word.brace else [piece]:
                out.append(Word(text, word.dynamic, word.glob or any(c in text for c in "*?["), word.subs))
    return out


def _brace(text: str, depth: int = 0) -> list[str]:
    """One `{a,b,c}` group per pass, up to two nested passes and 32 results."""
    start = text.find("{")
    end = text.find("}", start + 1)
    if start < 0 or end < 0 or depth > 1:
        return [text]
    body = text[start + 1 : end]
    if "," not in body or "{" in body:
        return [text]
    results: list[str] = []
    for alternative in body.split(",")[:16]:
        results.extend(_brace(text[:start] + alternative + text[end + 1 :], depth + 1))
    return results[:32]
