"""Credentials in the files and commands an agent reads, beyond `name = value`: env setters without `=`,
name/value pairs (Kubernetes env, ECS, browser cookie exports), base64 `user:password` (docker
config.json, .npmrc), secrets in URL query strings (API keys, signed-URL signatures), password
arguments of common CLIs, PEM keys base64-encoded again, and chat-ops webhook URLs. RE2 syntax, bounded
repeats; group 1 is the secret."""

from __future__ import annotations

from railguard.detect.secrets._names import SECRET_NAME, VALUE
from railguard.detect.secrets._scanner import Rule
from railguard.detect.secrets._validators import (
    b64_private_key,
    basic_credential,
    generic,
    password,
    query_secret,
    unescaped,
    vendor_bounded,
)

_IDENT = r"[A-Za-z0-9_.\-]{0,40}"
_SESSION_NAME = r"(?:sess|sid\b|jwt)"

CREDENTIAL_RULES: tuple[Rule, ...] = (
    # fish `set -x NAME value`, csh `setenv NAME value`, Windows `setx NAME value`
    Rule(
        "generic_secret",
        r"(?i)\b(?:setx|setenv|set\s+-[a-z]*[xU][a-z]*)\s+[A-Za-z0-9_]{0,40}"
        + SECRET_NAME
        + r"[A-Za-z0-9_]{0,40}"
        r"\s+[\"']?" + VALUE,
        generic(8, 3.0),
        0.7,
        50,
        hint=r"(?i)\b(?:setx|setenv|set\s+-[a-z]*[xU])",
    ),
    # `- name: DB_PASSWORD\n  value: ...` (Kubernetes, compose), `{"name": "API_KEY", "value": "..."}` (ECS,
    # cookie exports): the name and the value are two fields.
    Rule(
        "generic_secret",
        r"(?i)\bname[\"']?\s*[:=]\s*[\"']?"
        + _IDENT
        + r"(?:"
        + SECRET_NAME
        + r"|"
        + _SESSION_NAME
        + r")"
        + _IDENT
        + r"[\"']?\s*,?\s{0,20}[\"']?value[\"']?\s*[:=]\s*[\"']?"
        + VALUE,
        unescaped(generic(8, 3.0)),
        0.7,
        50,
        # Stage 1 looks for the value field only: the name/value pattern is slow for Hyperscan to compile.
        hint=r"(?i)value[\"']?\s*[:=]\s*[\"']?[^\s\"'`,;()\[\]{}<>]{6}",
    ),
    # Cookies sent with curl (`-b 'sessionid=...'`, `--cookie`).
    Rule(
        "generic_secret",
        r"(?i)(?:^|\s)(?:-b|--cookie)[\s=]+[\"']?(?:[^\n\"']{0,200}?[;\s])?"
        r"[a-z0-9_\-.]{0,30}(?:sess|sid|token|auth|jwt)[a-z0-9_\-.]{0,30}=([^;\s\"']{16,})",
        generic(16, 3.0),
        0.75,
        55,
        hint=r"(?i)(?:^|\s)(?:-b|--cookie)[\s=]",
    ),
    # docker config.json `"auth": "<base64 user:pass>"`, .npmrc `_auth=<base64 user:pass>`
    Rule(
        "generic_secret",
        r"(?i)[\"']?\b_?auth[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9+/]{8,400}={0,2})",
        basic_credential,
        0.85,
        55,
    ),
    # API keys, tokens and signatures in a URL's query string.
    Rule(
        "generic_secret",
        r"(?i)[?&](?:x-(?:amz|goog)-signature|signature|sig|api[_\-]?key|apikey|key|access[_\-]?token|"
        r"auth[_\-]?token|token|auth|client[_\-]?secret|secret|password|passwd|pwd|private[_\-]?token)="
        r"([A-Za-z0-9_\-.~%]{16,})",
        query_secret,
        0.75,
        55,
    ),
    # .netrc `default login ... password ...` (`machine` entries are in the base rules).
    Rule("generic_secret", r"\bdefault\s+login\s+\S+\s+password\s+(\S+)", password, 0.85, 55),
    # Password arguments of CLIs that take them positionally or after a short flag.
    Rule(
        "generic_secret",
        r"\bredis-cli\b[^\n;|&]{0,200}?\s-a\s+[\"']?([^\s\"']{4,})",
        password,
        0.8,
        55,
        hint=r"\bredis-cli\b",
    ),
    Rule(
        "generic_secret",
        r"\bhtpasswd\s+(?:-[a-zA-Z]+\s+){0,4}(?:\S+\s+)?\S+\s+[\"']?([^\s\"'-][^\s\"']{3,})[\"']?(?:\s|$)",
        password,
        0.8,
        55,
        hint=r"\bhtpasswd\s+(?:-[a-zA-Z]+\s+){0,4}-[a-zA-Z]*b",
    ),
    Rule(
        "generic_secret",
        r"\bpoetry\s+config\s+http-basic\.\S+\s+\S+\s+[\"']?([^\s\"']{4,})",
        password,
        0.85,
        55,
    ),
    # A setter or loader called with a literal: `set_api_key("...")`, `Account.from_key('0x...')` (getters
    # take names, so only these verbs).
    Rule(
        "generic_secret",
        r"(?i)\b(?:set|use|with|from|load)_?(?:api_?|private_?|access_?)?(?:key|token|secret|password|passwd)\s*"
        r"\(\s*[rbuf]?[\"']([^\"'\s]{8,200})[\"']",
        generic(8, 3.0),
        0.7,
        50,
        hint=r"(?i)\b(?:set|use|with|from|load)_?(?:api_?|private_?|access_?)?(?:key|token|secret|passw(?:or)?d)\s*\(",
    ),
    Rule("private_key", r"(LS0tLS1CRUdJTi[A-Za-z0-9+/]{60,}={0,2})", b64_private_key, 0.95, 100),
    Rule(
        "webhook_url",
        r"(https://[a-z0-9\-]{1,60}\.webhook\.office\.com/webhookb2/[a-f0-9\-]{36}@[a-f0-9\-]{36}/IncomingWebhook/"
        r"[a-f0-9]{32}/[a-f0-9\-]{36}(?:/[" + "A-Za-z0-9_\\-" + r"]{1,80})?)",
        vendor_bounded(30),
        0.95,
        95,
        hint=r"\.webhook\.office\.com/webhookb2/",
    ),
    Rule(
        "webhook_url",
        r"(https://hooks\.zapier\.com/hooks/catch/\d{3,12}/[a-z0-9]{5,12}/?)",
        vendor_bounded(30),
        0.9,
        95,
    ),
)
