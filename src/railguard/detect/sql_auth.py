"""SQL that leaves a database account without a password or without authentication.

An account anyone can log in to is a standing door into every table it reaches, whoever asked for it:
`ALTER USER postgres PASSWORD NULL`, `ALTER USER root IDENTIFIED BY ''`, ClickHouse's
`IDENTIFIED WITH no_password`, `SET PASSWORD FOR x = ''`, `UPDATE mysql.user SET authentication_string=''`.
Kept apart from the parser: the grammar differs per engine and sqlglot reads most of these only as text,
and the shell analyzer checks it without importing sqlglot.
"""

from __future__ import annotations

import re2

_EMPTY = r"(?:''|\"\"|null\b)"
_AUTH_REMOVED = re2.compile(
    r"(?is)\b(?:alter|create)\s+(?:user|role|login)\b[^;]*?(?:"
    rf"\bpassword\s*=?\s*{_EMPTY}|\bidentified\s+(?:with\s+\w+\s+)?(?:by|as)\s*(?:''|\"\")|"
    r"\bidentified\s+with\s+no_password\b|\bnot\s+identified\b)|"
    r"\bset\s+password\b[^;]*?=\s*(?:password\s*\(\s*)?(?:''|\"\")|"
    r"\bupdate\s+[`\"]?mysql[`\"]?\s*\.\s*[`\"]?user[`\"]?\s+set\b[^;]*?"
    rf"\b(?:authentication_string|password)\s*=\s*{_EMPTY}"
)


def removes_authentication(text: str) -> bool:
    return bool(_AUTH_REMOVED.search(text))
