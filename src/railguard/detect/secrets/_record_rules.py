"""Secrets whose name and value sit in separate fields or in fixed-position formats:

- name/value records in JSON (HAR headers and cookies, Postman environments, browser cookie exports,
  CloudFormation `OutputKey`/`OutputValue`, parameter lists): the record's name says secret, session
  or authorization, and its value field (a scheme word first, for headers) holds the secret;
- Netscape `cookies.txt` lines (seven tab-separated fields, the value last);
- Go's printed header maps (`Authorization:[Bearer ...]`);
- `.pgpass` lines (`host:port:database:user:password`);
- ODBC/ADO.NET passwords in braces (`Pwd={...;...}`, which may hold `;`);
- YAML block scalars under a secret-like key (`token: |` and the value on the next line).

RE2 syntax, bounded repeats; group 1 is the secret."""

from __future__ import annotations

from railguard.detect.secrets._context_rules import _rule
from railguard.detect.secrets._names import SECRET_NAME
from railguard.detect.secrets._scanner import Rule
from railguard.detect.secrets._validators import generic, password

_IDENT = r"[A-Za-z0-9_.\-]{0,40}"
_KEY_LIKE = generic(8, 3.0)
_COOKIE_LIKE = generic(16, 3.0)
# Record names that announce a credential: secret-like names, authorization headers, session cookies.
_CREDENTIAL_NAME = (
    _IDENT + r"(?:" + SECRET_NAME + r"|authorization|auth|session|sessid|sid|jwt|cookie)" + _IDENT
)
_SCHEME = r"(?:(?i:bearer|token|basic|bot|apikey|sso-key|digest)\s+)?"


RECORD_RULES: tuple[Rule, ...] = (
    _rule(
        r"(?i)[\"'](?:name|key|outputkey|parameterkey|header|variable|id)[\"']\s*:\s*[\"']"
        + _CREDENTIAL_NAME
        + r"[\"'][^{}]{0,240}?[\"'](?:value|outputvalue|parametervalue|secret)[\"']\s*:\s*[\"']"
        + _SCHEME
        + r"([^\"'\s]{8,400})[\"']",
        _KEY_LIKE,
        hint=r"(?i)[\"'](?:value|outputvalue|parametervalue|secret)[\"']\s*:\s*[\"']",
    ),
    # A recorded `Cookie` header: the session-like cookie inside it.
    _rule(
        r"(?i)[\"'](?:name|key|header)[\"']\s*:\s*[\"'](?:set-)?cookie[\"'][^{}]{0,120}?[\"']value[\"']\s*:\s*[\"']"
        r"[^\"'\n]{0,300}?\b[a-z0-9_\-.]{0,30}(?:sess|sid|token|auth|jwt)[a-z0-9_\-.]{0,30}=([^;\s\"']{16,400})",
        _COOKIE_LIKE,
        hint=r"(?i)[\"'](?:name|key|header)[\"']\s*:\s*[\"'](?:set-)?cookie[\"']",
    ),
    _rule(
        r"(?m)^(?:#HttpOnly_)?\.?[A-Za-z0-9.\-]{1,253}\t(?:TRUE|FALSE)\t[^\t\n]{1,200}\t(?:TRUE|FALSE)\t\d{1,12}\t"
        r"[^\t\n]{1,200}\t([^\t\s]{16,400})",
        _COOKIE_LIKE,
        hint=r"\t(?:TRUE|FALSE)\t\d+\t",
    ),
    _rule(
        r"(?i)\b(?:authorization|proxy-authorization|[a-z0-9\-]{0,30}(?:api-?key|token|secret))\s*:\s*\[\s*"
        + _SCHEME
        + r"([A-Za-z0-9_\-.~+/]{8,400}={0,2})\s*\]",
        generic(8, 2.5),
        hint=r"(?i)(?:authorization|key|token|secret)\s*:\s*\[",
    ),
    _rule(
        r"(?m)^(?:\*|localhost|[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63}){1,8}|[0-9.]{7,15}):(?:\*|\d{1,5}):"
        r"[^:\s]{1,63}:[^:\s]{1,63}:([^\s]{4,200})$",
        password,
        hint=r"(?m):(?:\*|\d+):[^:\s]+:[^:\s]+:[^\s]{4,}$",
    ),
    _rule(
        r"(?i)(?:uid|user id|user|server|driver|dsn|data source)\s*=[^\n]{0,300}?;\s*(?:pwd|password)\s*=\s*"
        r"\{([^{}\n]{1,200})\}",
        password,
        hint=r"(?i)(?:pwd|password)\s*=\s*\{",
    ),
    _rule(
        r"(?im)^[ \t]*" + _IDENT + SECRET_NAME + _IDENT + r"[ \t]*:[ \t]*[|>][+\-]?[1-9]?[ \t]*\r?\n[ \t]+"
        r"([^\s#][^\s]{7,400})",
        _KEY_LIKE,
        hint=r"(?m):[ \t]*[|>][+\-]?[1-9]?[ \t]*\r?\n[ \t]+[^\s#]",
    ),
)
