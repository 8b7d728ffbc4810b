"""Secrets passed as command-line arguments by tools whose flags the generic `--name value` rule cannot
read: httpie's `-a user:password` and `-A bearer -a TOKEN`, `curl --oauth2-bearer`, `sshpass -p`,
openssl's `pass:` pass phrases and `-k`, `gh secret set --body`, and `<tool> config set <secret-like
key> <value>` (npm, yarn, pnpm, pip, poetry, git...).

RE2 syntax, bounded repeats; group 1 is the secret."""

from __future__ import annotations

from railguard.detect.secrets._context_rules import _rule, cli_value
from railguard.detect.secrets._names import SECRET_NAME
from railguard.detect.secrets._scanner import Rule
from railguard.detect.secrets._validators import generic, password

_ARG = r"[\"']?([^\s\"']{4,400})"


CLI_ARG_RULES: tuple[Rule, ...] = (
    _rule(
        # `-a` among the flags right after the command (httpie puts the method and URL after them).
        r"\b(?:http|https|xh|xhs)\s+(?:-{1,2}[A-Za-z][A-Za-z0-9\-]{0,20}(?:[\s=][^\s\-]\S{0,60})?\s+){0,3}"
        r"(?:-a|--auth)[\s=]+[\"']?(?:[^\s:\"'@]{1,64}:)?([^\s\"']{6,400})",
        cli_value,
        hint=r"\b(?:http|https|xh|xhs)\s+-",
    ),
    _rule(r"--oauth2-bearer[\s=]+" + _ARG, generic(8, 3.0)),
    _rule(r"\bsshpass\s+-p\s*" + _ARG, password),
    _rule(r"\s-pass(?:in|out|word)?\s+[\"']?pass:([^\s\"']{4,400})", password),
    _rule(
        r"\bopenssl\s+(?:enc|pkcs12|pkcs8|rsa|genrsa|genpkey|pkey|req|smime|cms|aes[\w\-]{0,12}|des[\w\-]{0,8})\b"
        r"[^\n]{0,300}?\s-k\s+[\"']?([^\s\"'\-][^\s\"']{3,400})",
        cli_value,
        hint=r"\bopenssl\s+(?:enc|pkcs12|pkcs8|rsa|genrsa|genpkey|pkey|req|smime|cms|aes|des)",
    ),
    _rule(
        r"\b(?:gh|glab)\s+(?:secret|variable)\s+set\s+\S{1,100}[^\n]{0,100}?\s(?:--body|-b)[\s=]+" + _ARG,
        generic(6, 2.2),
        hint=r"\b(?:gh|glab)\s+(?:secret|variable)\s+set\s",
    ),
    _rule(
        r"(?i)\bconfig\s+(?:set\s+|--(?:global|local|user)\s+)+[\"']?[^\s\"']{0,200}?(?:"
        + SECRET_NAME
        + r"|_authtoken|_auth)[^\s\"']{0,60}[\"']?[\s=]+"
        + _ARG,
        generic(8, 3.0),
        hint=r"(?i)\bconfig\s+(?:set|--global|--local|--user)\s",
    ),
)
