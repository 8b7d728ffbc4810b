"""The simplest CEL conditions as Python closures, answering only when the answer is exactly CEL's.

Handing an action's variables to the `cel` runtime (converting each value) and running a program
costs several microseconds per rule; most rules are a few field comparisons. Those shapes — fields,
`==` `!=` `<` `<=` `>` `>=`, `in` a list, `startsWith` / `endsWith` / `contains`, `size()`, `has()`,
`!`, `&&`, `||`, string / int / double / bool literals and lists of them, and `matches` with a
pattern that is plain text — are compiled here into a closure over the Python values.

A closure answers only for operand types whose CEL result is known exactly (str with str, int in
int64 range with int, bool with bool, a double that is not NaN; an int with a double only while the
int is exact as a double; `==` across str / bool / null / number is false, as in CEL; `size` of
ASCII text, since CEL counts a string's UTF-8 bytes); a missing key, a map where a value is wanted,
anything CEL might turn into an error or convert differently makes it give up (`FALLBACK`), and the
CEL program decides the whole condition as before. Giving up is always allowed, so an answer is
CEL's or none at all. An operand of `&&` / `||` of another shape (a comprehension, arithmetic) is
kept opaque: short circuits that CEL takes too (`false && x` is false whatever `x` is, an error
included) still answer; reaching it gives up. Any other syntax is not compiled (None).
"""

from __future__ import annotations

import math
import re
import weakref
from collections.abc import Callable, Collection, Mapping
from typing import Any

__all__ = ["FALLBACK", "FastCondition", "compile_fast", "convertible"]

FALLBACK: Any = object()  # "ask the CEL program": this closure cannot answer exactly
FastCondition = Callable[[Mapping[str, Any]], Any]
Node = Callable[[Mapping[str, Any]], Any]

_I64 = (-(2**63), 2**63 - 1)
_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+\.\d+|\d+(?![\w.]))|(?P<str>\"[^\"\\\n]*\"|'[^'\\\n]*')"
    r"|(?P<esc>\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*')|(?P<id>[A-Za-z_]\w*)"
    r"|(?P<op>&&|\|\||==|!=|<=|>=|[<>!().\[\],{}?:])|(?P<other>\S))"
)
# Where an operand of `&&` / `||` ends; `?` or `:` at its level would make it part of a ternary.
_OPERAND_END = frozenset({"&&", "||", ")", "]", ",", "}"})
_OPENS, _CLOSES = frozenset("([{"), frozenset(")]}")
_UNSCANNED = ("'''", '"""', "//")  # triple-quoted strings, comments
_RESERVED = frozenset({"in", "as", "break", "const", "continue", "else", "for", "function", "if",
                       "import", "let", "loop", "package", "namespace", "return", "var", "void",
                       "while"})  # fmt: skip
_METHODS = {"startsWith": str.startswith, "endsWith": str.endswith, "contains": str.__contains__}
_ORDER = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
          ">=": lambda a, b: a >= b}  # fmt: skip


class _Fallback(Exception):
    """Raised inside a closure: the CEL program decides."""


class _NotSupported(Exception):
    """The expression has a shape this module does not compile."""


class _ConstList:
    """A list known at load (a policy list, a literal): its items as a set, all of one kind."""

    __slots__ = ("items", "kind", "size")

    def __init__(self, items: list[Any], kind: type | None) -> None:
        self.items, self.kind, self.size = frozenset(items), kind, len(items)


_NONE = type(None)
_NUMBERS = (int, float)


def _scalar_kind(value: Any) -> type | None:
    """The type a value is compared as, or None when CEL might treat it otherwise."""
    kind = type(value)
    if kind is str or kind is bool or kind is _NONE:
        return kind
    if kind is int:
        return int if _I64[0] <= value <= _I64[1] else None
    if kind is float:
        return None if math.isnan(value) else float
    return None


_CONVERTIBLE = frozenset({int, float, bool, _NONE, bytes})


def convertible(values: Mapping[str, Any], trusted: Collection[str] = ()) -> bool:
    """Whether the `cel` binding converts every value (a set or an object fails the conversion: that
    failure must stay the outcome, so such a check does not take the closures). `trusted`: variables
    known to hold plain values (the built-in detectors' facts), not walked."""
    stack: list[Any] = [v for k, v in values.items() if k not in trusted]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str:
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    return False
        elif kind is dict:
            for key in item:
                if type(key) is str:
                    stack.append(key)
                elif type(key) is not int or not _I64[0] <= key <= _I64[1]:
                    return False
            stack.extend(item.values())
        elif kind is list or kind is tuple:
            stack.extend(item)
        elif kind not in _CONVERTIBLE:
            return False
    return True


def compile_fast(expr: str, constants: Mapping[str, Any]) -> FastCondition | None:
    """A closure deciding `expr` (already macro-expanded) over the variables' Python values, or None
    when the expression has another shape. `constants`: the policy's lists, by name."""
    try:
        tokens = _tokenize(expr)
        parser = _Parser(tokens, constants)
        node = parser.parse_or()
        if parser.pos != len(tokens) or node is _opaque:
            return None
    except _NotSupported:
        return None

    def decide(values: Mapping[str, Any]) -> Any:
        try:
            result = node(values)
        except _Fallback:
            return FALLBACK
        return result if type(result) is bool else FALLBACK

    return decide


def _tokenize(expr: str) -> list[tuple[str, str]]:
    """Tokens, an escaped string (`esc`) or an unknown character (`other`) included: they can only
    be inside an operand left to CEL. Raw, byte and triple-quoted strings and comments are not
    tokenized (their ends are not found the same way): the whole expression is left to CEL."""
    if any(mark in expr for mark in _UNSCANNED):
        raise _NotSupported
    tokens: list[tuple[str, str]] = []
    pos, end = 0, len(expr.rstrip())
    while pos < end:
        m = _TOKEN.match(expr, pos)
        if m is None or m.end() == pos:
            raise _NotSupported
        kind = m.lastgroup
        assert kind is not None
        start = m.start(kind)
        if kind in ("str", "esc") and start > 0 and (expr[start - 1].isalnum() or expr[start - 1] == "_"):
            raise _NotSupported  # r"..", b'..': a prefixed string
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    return tokens


class _Parser:
    """Recursive descent over CEL's precedence: `||` < `&&` < relations < unary `!` < member."""

    def __init__(self, tokens: list[tuple[str, str]], constants: Mapping[str, Any]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.constants = constants

    def peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.pos >= len(self.tokens):
            raise _NotSupported
        token = self.tokens[self.pos]
        if expected is not None and token[1] != expected:
            raise _NotSupported
        self.pos += 1
        return token

    def parse_or(self) -> Node:
        return self.parse_junction("||", self.parse_and, True)

    def parse_and(self) -> Node:
        return self.parse_junction("&&", self.parse_relation, False)

    def parse_junction(self, op: str, parse: Callable[[], Node], decisive: bool) -> Node:
        node = self.operand(parse)
        while self.peek() == op:
            self.take()
            node = _junction(node, self.operand(parse), decisive)
        return node

    def operand(self, parse: Callable[[], Node]) -> Node:
        """An operand of `&&` / `||`; one of another shape is left to CEL (`_opaque`): `false && x`
        is false and `true || x` true whatever `x` is, so the closure may still answer."""
        start = self.pos
        try:
            node = parse()
            if self.peek() is None or self.peek() in _OPERAND_END:
                return node
        except _NotSupported:
            pass
        self.pos, depth = start, 0
        while self.pos < len(self.tokens):
            text = self.tokens[self.pos][1]
            if depth == 0 and text in _OPERAND_END:
                break
            if depth == 0 and text in ("?", ":"):
                raise _NotSupported  # a ternary: not an operand of `&&` / `||`
            depth += (text in _OPENS) - (text in _CLOSES)
            self.pos += 1
        if self.pos == start:
            raise _NotSupported
        return _opaque

    def parse_relation(self) -> Node:
        node = self.parse_unary()
        op = self.peek()
        if op in ("==", "!=", "<", "<=", ">", ">=", "in"):
            self.take()
            right = self.parse_unary()
            node = _in(node, right) if op == "in" else _compare(op, node, right)
            if self.peek() in ("==", "!=", "<", "<=", ">", ">=", "in"):
                raise _NotSupported  # chained relations: left to CEL
        return node

    def parse_unary(self) -> Node:
        if self.peek() == "!":
            self.take()
            return _not(self.parse_unary())
        return self.parse_member()

    def parse_member(self) -> Node:
        node = self.parse_primary()
        while self.peek() == ".":
            self.take()
            kind, name = self.take()
            if kind != "id":
                raise _NotSupported
            if self.peek() == "(":
                self.take()
                arg = self.parse_or()
                self.take(")")
                node = _method(name, node, arg)
            else:
                node = _select(node, name)
        return node

    def parse_primary(self) -> Node:
        kind, text = self.take()
        if kind == "num":
            return _literal(float(text) if "." in text else _int_literal(text))
        if kind == "str":
            return _literal(text[1:-1])
        if text == "(":
            node = self.parse_or()
            self.take(")")
            return node
        if text == "[":
            items: list[Any] = []
            while self.peek() != "]":
                kind, item = self.take()
                if kind == "num":
                    items.append(float(item) if "." in item else _int_literal(item))
                elif kind == "str":
                    items.append(item[1:-1])
                elif item in ("true", "false"):
                    items.append(item == "true")
                else:
                    raise _NotSupported
                if self.peek() == ",":
                    self.take()
                elif self.peek() != "]":
                    raise _NotSupported
            self.take("]")
            return _literal(items)
        if kind != "id" or text in _RESERVED:
            raise _NotSupported
        if text in ("true", "false"):
            return _literal(text == "true")
        if text == "null":
            return _literal(None)
        if self.peek() == "(":
            return self.parse_call(text)
        if text in self.constants:
            return _literal(self.constants[text])
        return _variable(text)

    def parse_call(self, name: str) -> Node:
        self.take("(")
        if name == "size":
            arg = self.parse_or()
            self.take(")")
            return _size(arg)
        if name == "has":  # has(x.f): only a field selection is valid
            operand = self.parse_primary()
            fields = []
            while self.peek() == ".":
                self.take()
                kind, field = self.take()
                if kind != "id" or self.peek() == "(":
                    raise _NotSupported
                fields.append(field)
            self.take(")")
            if not fields:
                raise _NotSupported
            for field in fields[:-1]:
                operand = _select(operand, field)
            return _has(operand, fields[-1])
        raise _NotSupported


def _opaque(_values: Mapping[str, Any]) -> Any:
    raise _Fallback


def _int_literal(text: str) -> int:
    value = int(text)
    if value > _I64[1]:
        raise _NotSupported
    return value


def _literal(value: Any) -> Node:
    if type(value) is list:  # a constant list: a set when its items are one comparable kind
        kinds = {_scalar_kind(v) for v in value}
        if len(kinds) > 1 or None in kinds or _NONE in kinds:
            raise _NotSupported
        frozen = _ConstList(value, kinds.pop() if kinds else None)
        return lambda _values: frozen
    if type(value) is float and math.isnan(value):
        raise _NotSupported
    node: Node = lambda _values: value  # noqa: E731
    if type(value) is str:
        _TEXTS[node] = value
    return node


# The string constants' nodes, with their text: `x == "block"` compares without calling them.
_TEXTS: weakref.WeakKeyDictionary[Node, str] = weakref.WeakKeyDictionary()


def _variable(name: str) -> Node:
    return _path((name,))


# The field paths (`shell.verdict`) of the selection nodes built by `_path`, so a selection on one
# extends the path instead of stacking another closure on it.
_PATHS: weakref.WeakKeyDictionary[Node, tuple[str, ...]] = weakref.WeakKeyDictionary()


def _path(path: tuple[str, ...]) -> Node:
    """`a.b.c` over the variables in one call: each step exactly `_select`'s (a value that is not a
    map, or a missing key, leaves the condition to the runtime)."""
    if len(path) == 2:
        first, second = path

        def field(values: Mapping[str, Any]) -> Any:
            if type(values) is not dict:
                raise _Fallback
            try:
                value = values[first]
                if type(value) is not dict:
                    raise _Fallback
                return value[second]
            except KeyError:
                raise _Fallback from None

        node: Node = field
    else:

        def fields(values: Mapping[str, Any]) -> Any:
            value: Any = values
            for name in path:
                if type(value) is not dict:
                    raise _Fallback
                try:
                    value = value[name]
                except KeyError:
                    raise _Fallback from None
            return value

        node = fields
    _PATHS[node] = path
    return node


def _map(operand: Node, values: Mapping[str, Any]) -> dict[str, Any]:
    value = operand(values)
    if type(value) is not dict:
        raise _Fallback
    return value


def _select(operand: Node, field: str) -> Node:
    path = _PATHS.get(operand)
    if path is not None:
        return _path((*path, field))

    def select(values: Mapping[str, Any]) -> Any:
        try:
            return _map(operand, values)[field]
        except KeyError:
            raise _Fallback from None

    return select


def _has(operand: Node, field: str) -> Node:
    return lambda values: field in _map(operand, values)


def _size(operand: Node) -> Node:
    def size(values: Mapping[str, Any]) -> int:
        value = operand(values)
        kind = type(value)
        if kind is list or kind is dict or (kind is str and value.isascii()):  # CEL: a string's bytes
            return len(value)
        if kind is _ConstList:
            return value.size
        raise _Fallback

    return size


def _method(name: str, operand: Node, arg: Node) -> Node:
    test = _METHODS.get(name)
    if name == "matches":
        test = _literal_regex(arg)
    if test is None:
        raise _NotSupported

    def call(values: Mapping[str, Any]) -> bool:
        value, other = operand(values), arg(values)
        if type(value) is not str or type(other) is not str:
            raise _Fallback
        return test(value, other)

    return call


def _exact_numbers(a: int | float, b: int | float) -> None:
    """An int and a double compare the same in Python and CEL while the int is exact as a double."""
    whole = a if type(a) is int else b
    if not -_EXACT <= whole <= _EXACT:
        raise _Fallback


_EXACT = 2**53


_REGEX_SYNTAX = frozenset("\\.+*?()|[]{}^$")


def _literal_regex(arg: Node) -> Callable[[str, str], bool] | None:
    """`matches` with a constant pattern that is plain text, maybe anchored at the start (`^/etc/`):
    RE2 finds it where `startswith` / `in` does. Any other pattern is left to the runtime's RE2."""
    try:
        pattern = arg({})  # a constant answers without any variable
    except _Fallback:
        return None
    if type(pattern) is not str:
        return None
    text = pattern[1:] if pattern.startswith("^") else pattern
    if not text or any(ch in _REGEX_SYNTAX or not ch.isprintable() for ch in text):
        return None
    if pattern.startswith("^"):
        return lambda value, _pattern: value.startswith(text)
    return lambda value, _pattern: text in value


def _compare(op: str, left: Node, right: Node) -> Node:
    if op in ("==", "!="):
        negate = op == "!="
        text = _TEXTS.get(right)
        if text is not None:
            return _equal_text(left, text, negate)

        def equal(values: Mapping[str, Any]) -> bool:
            a, b = left(values), right(values)
            kind, other = _scalar_kind(a), _scalar_kind(b)
            if kind is None or other is None:
                raise _Fallback
            if kind is not other:  # CEL: values of two kinds are unequal, but 1 == 1.0
                if kind in _NUMBERS and other in _NUMBERS:
                    _exact_numbers(a, b)
                    return (a != b) if negate else (a == b)
                return negate
            return (a != b) if negate else (a == b)

        return equal
    order = _ORDER[op]

    def compare(values: Mapping[str, Any]) -> bool:
        a, b = left(values), right(values)
        kind = _scalar_kind(a)
        other = _scalar_kind(b)
        if kind is not other:
            if kind in _NUMBERS and other in _NUMBERS:
                _exact_numbers(a, b)
                return order(a, b)
            raise _Fallback
        if kind is None or kind is bool or kind is _NONE:
            raise _Fallback
        return order(a, b)

    return compare


def _equal_text(left: Node, text: str, negate: bool) -> Node:
    """`==` / `!=` with a string constant on the right: exactly `_compare`'s answer, in one call."""

    def equal_text(values: Mapping[str, Any]) -> bool:
        a = left(values)
        if type(a) is str:
            return (a != text) if negate else (a == text)
        if _scalar_kind(a) is None:
            raise _Fallback
        return negate  # CEL: values of two kinds are unequal

    return equal_text


def _in(item: Node, container: Node) -> Node:
    def member(values: Mapping[str, Any]) -> bool:
        a, b = item(values), container(values)
        kind = _scalar_kind(a)
        if kind is None or kind is _NONE:
            raise _Fallback
        if type(b) is _ConstList:
            if b.items and b.kind is not kind:
                raise _Fallback
            return a in b.items
        if type(b) is not list:
            raise _Fallback
        for v in b:
            if _scalar_kind(v) is not kind:
                raise _Fallback
        return a in b

    return member


def _not(operand: Node) -> Node:
    def negate(values: Mapping[str, Any]) -> bool:
        value = operand(values)
        if type(value) is not bool:
            raise _Fallback
        return not value

    return negate


def _junction(left: Node, right: Node, decisive: bool) -> Node:
    """`&&` (decisive: false) and `||` (decisive: true). CEL: `false && x` is false and `true || x`
    true whatever `x` is (an error included); otherwise the right operand is the answer."""

    def junction(values: Mapping[str, Any]) -> bool:
        a = left(values)
        if type(a) is not bool:
            raise _Fallback
        if a is decisive:
            return decisive
        b = right(values)
        if type(b) is not bool:
            raise _Fallback
        return b

    return junction
