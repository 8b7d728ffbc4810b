"""Secrets assigned in source code in the forms the name-equals-value rules miss:

- typed declarations (`const TOKEN: &str = "..."`, `val KEY: String = "..."`, `var key string = "..."`,
  Bicep `param adminPassword string = '...'`), whatever the language;
- a literal wrapped in a conversion call (`String::from("...")`, `[]byte("...")`, `SecretStr("...")`);
- a token split over lines with `+` (`"sk_live_ab" +\\n "cdef"`): the continuation piece;
- JSON-escaped code (notebook cells: `os.environ[\\"TOKEN\\"] = \\"...\\"`);
- Bicep/ARM's `@secure()` parameters, whose name need not say secret.

RE2 syntax, bounded repeats; group 1 is the secret."""

from __future__ import annotations

from railguard.detect.secrets._context_rules import _rule
from railguard.detect.secrets._names import SECRET_NAME
from railguard.detect.secrets._scanner import Rule
from railguard.detect.secrets._validators import Span, generic, password, unescaped

_IDENT = r"[A-Za-z0-9_.\-]{0,40}"
_NAMED = _IDENT + SECRET_NAME + _IDENT
_KEY_LIKE = generic(8, 3.0)
_PASSWORD_LIKE = generic(6, 2.2)
_QUOTED = r"[rbuf@]?[\"'`]([^\"'`\s]{6,200})[\"'`]"


def named_literal(text: str, start: int, end: int) -> Span | None:
    """A literal after a secret-like name: the laxer password bar when the name says password."""
    before = text[max(0, start - 80) : start].lower()
    check = _PASSWORD_LIKE if any(word in before for word in ("passw", "pwd", "passphrase")) else _KEY_LIKE
    return check(text, start, end)


# Conversions that wrap a literal without changing it (Rust, Go, Java, Python, JS, pydantic).
_WRAPPERS = (
    r"(?:String::from|String\.valueOf|std::string|SecretStr(?:ing)?|SecureString|Secret|Buffer\.from|"
    r"\[\]byte|bytes|bytearray|str|String|Some|atob|b64decode|base64\.b64decode|"
    r"base64\.StdEncoding\.DecodeString|Encoding\.UTF8\.GetBytes)"
)
_TYPE = r"&?(?:'static\s+)?[A-Za-z_][A-Za-z0-9_:<>\[\]]{0,30}\??"


LITERAL_RULES: tuple[Rule, ...] = (
    # `NAME: Type = "..."` (Rust, Kotlin, Swift, TypeScript) and `NAME Type = "..."` (Go, Bicep, C).
    _rule(
        r"(?i)" + _NAMED + r"(?:\s*:\s*" + _TYPE + r"|\s+(?:string|str|securestring))\s*=\s*" + _QUOTED,
        named_literal,
        hint=r"(?i)(?:secret|token|pass|pwd|key|credential|auth|psk|pw|sk)[A-Za-z0-9_.\-]*(?:\s*:\s*[^=\n]{1,40}"
        r"|\s+(?:string|str|securestring))\s*=\s*[rbuf@]?[\"'`]",
    ),
    _rule(
        r"(?i)"
        + _NAMED
        + r"[\"']?\s*(?::\s*"
        + _TYPE
        + r"\s*)?(?::=|=)\s*(?:new\s+)?"
        + _WRAPPERS
        + r"\(\s*"
        + _QUOTED
        + r"\s*\)",
        named_literal,
        hint=r"(?i)(?:secret|token|pass|pwd|key|credential|auth|psk|pw|sk)[^\n]{0,60}=\s*(?:new\s+)?"
        + _WRAPPERS
        + r"\(\s*[rbuf@]?[\"'`]",
    ),
    # The second piece of a literal continued with `+` on the next line.
    _rule(
        r"(?i)" + _NAMED + r"[^=\n]{0,40}=\s*[rbuf@]?[\"'][^\"'\n]{4,200}[\"']\s*\+\s*\r?\n\s*"
        r"[\"']([^\"'\s]{6,200})[\"']",
        _KEY_LIKE,
        hint=r"[\"']\s*\+\s*\r?\n\s*[\"']",
    ),
    # JSON-escaped code: `os.environ[\"TOKEN\"] = \"...\"` in a notebook's `source` lines.
    _rule(
        r"(?i)\[\s*\\[\"']" + _NAMED + r"\\[\"']\s*\]\s*=\s*[rbuf]?\\[\"']([^\"'\\\s]{6,200})\\[\"']",
        unescaped(_KEY_LIKE),
        hint=r"\\[\"']\s*\]\s*=\s*[rbuf]?\\[\"']",
    ),
    # Bicep: a `@secure()` parameter's default is a secret whatever its name.
    _rule(
        r"@secure\(\)\s*\r?\n\s*param\s+[A-Za-z_][A-Za-z0-9_]{0,60}\s+[A-Za-z]{3,12}\s*=\s*'([^'\n]{4,200})'",
        password,
        hint=r"@secure\(\)\s*\r?\n\s*param\s",
    ),
)
