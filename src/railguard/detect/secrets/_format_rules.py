"""Vendor token formats with no separator or an unusual structure, which no shape rule can tell from
other random text: a fixed literal (`AKCp`, `4b1d`, `JQQJ99` inside Azure's annotated keys) or a
structure (`<org id>!<token>`, `access_token$<env>$<id>$<hex>`) carries the evidence. Formats are from
the vendors' public documentation. RE2 syntax, bounded repeats; group 1 is the secret."""

from __future__ import annotations

import re

from railguard.detect.secrets._scanner import Rule
from railguard.detect.secrets._token_rules import _SHAPE_ONLY
from railguard.detect.secrets._token_rules import _token as _kind_token

# One priority per kind (overlaps are ranked by kind): api_token's is the shape rules' 49, so a JWT or a
# named value that also covers the span wins; private and Azure keys keep theirs.
_PRIORITY = {"api_token": _SHAPE_ONLY, "azure_key": 90, "private_key": 100}


def _token(
    kind: str, pattern: str, prefix_len: int, confidence: float = 0.95, hint: str | None = None
) -> Rule:
    # Stage 1 looks for the literal and 8 characters of what follows: long counted repeats cost Hyperscan
    # more than the rule saves (a superset; stage 2 runs the full pattern).
    literal = re.match(r"[A-Za-z0-9_\-]+(?:\\[.$|])?[A-Za-z0-9_\-]*", pattern)
    if hint is None and literal is not None and len(literal.group()) >= 2:
        rest = pattern[literal.end() :]
        repeat = re.match(r"(\[[^\]]+\])\{(\d+)(?:,\d*)?\}", rest)
        hint = literal.group() + repeat.group(1) + "{8}" if repeat and int(repeat.group(2)) >= 8 else None
    return _kind_token(kind, pattern, prefix_len, confidence, _PRIORITY[kind], hint)


_URLSAFE = "A-Za-z0-9_\\-"
_UUID = r"[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}"


FORMAT_RULES = (
    # Azure's common annotated security keys (DevOps PATs, storage keys): 52 random characters, the
    # fixed signature JQQJ99, then 26 more holding the provider tag (AZDO, AZSt...).
    _token("azure_key", r"[A-Za-z0-9]{52}JQQJ99[A-Za-z0-9]{26}", 0, hint=r"JQQJ99[A-Za-z0-9]{8}"),
    _token("api_token", r"access_token\$(?:production|sandbox|development)\$[a-z0-9]{16}\$[a-f0-9]{32}", 24),
    _token("api_token", r"00D[A-Za-z0-9]{12,15}![A-Za-z0-9._]{80,200}", 0, hint=r"00D[A-Za-z0-9]{12,15}!"),
    _token(
        "api_token", r"0\." + _UUID + r"\.[A-Za-z0-9]{30}:[A-Za-z0-9+/]{22}==", 0, hint=r"0\.[a-f0-9]{8}-"
    ),
    _token(
        "api_token",
        r"(?:prod|dev|preview):[a-z0-9]{2,20}(?:-[a-z0-9]{2,20}){1,3}\|[A-Za-z0-9+/=_\-]{40,400}",
        0,
        hint=r"(?:prod|dev|preview):[a-z0-9\-]{6,64}\|",
    ),
    _token("api_token", r"A{20,24}[A-Za-z0-9%]{60,200}", 0, hint=r"A{20}[A-Za-z0-9%]{8}"),  # X/Twitter bearer
    _token("api_token", r"EAA[A-Z][A-Za-z0-9]{90,300}", 3, 0.9),  # Meta Graph API
    _token("api_token", r"AAP[KT][" + _URLSAFE + r"]{80,300}", 4, 0.9),  # ArcGIS
    _token("api_token", r"AKCp[A-Za-z0-9]{60,80}", 4, 0.9),  # JFrog API key
    _token("api_token", r"cmVmdGtuOjAxOj[A-Za-z0-9]{30,100}", 14),  # JFrog reference token ("reftkn:01:")
    _token("api_token", r"dG9rO[A-Za-z0-9+/]{40,120}={0,2}", 5),  # Intercom (base64 of "tok:...")
    _token("api_token", r"cio[A-Za-z0-9]{32}", 3, 0.85),  # crates.io
    _token("api_token", r"4b1d[A-Za-z0-9]{38}", 4, 0.85),  # ClickHouse Cloud key secret
    _token("api_token", r"AQVN[" + _URLSAFE + r"]{35,40}", 4, 0.9),  # Yandex Cloud API key
    _token("api_token", r"YC[A-Za-z0-9_\-]{38}", 2, 0.8),  # Yandex Cloud static key secret
    _token("api_token", r"t1\.9eu[" + _URLSAFE + r"]{40,400}\.[" + _URLSAFE + r"]{40,200}", 6),  # Yandex IAM
    _token("api_token", r"sl\.(?:u\.)?[" + _URLSAFE + r"]{100,}", 3),  # Dropbox short-lived token
    _token("api_token", r"fc-[a-f0-9]{32}", 3, 0.85),  # Firecrawl
    _token("api_token", r"fw_[A-Za-z0-9]{24}", 3, 0.85),  # Fireworks AI
    _token("api_token", r"as-[A-Za-z0-9]{22}", 3, 0.8),  # Modal token secret
    _token("api_token", r"ser\.[A-Za-z0-9]{22}", 4, 0.85),  # Flagsmith server-side key
    _token("api_token", r"xx" + _UUID, 2, 0.8),  # Coveo
    _token("api_token", r"[12]/\d{13,20}/\d{13,20}:[a-f0-9]{32}", 0, 0.9),  # Asana, two-id form
    # Unleash: <project>:<environment>.<64 hex> (the usual environment names, which anchor stage 1)
    _token(
        "api_token",
        r"(?:\*|[a-z0-9_\-]{1,40}):(?:production|development|staging|default|test|prod|dev|qa|sandbox)"
        r"\.[a-f0-9]{64}",
        0,
        0.85,
        hint=r":(?:production|development|staging|default|test|prod|dev|qa|sandbox)\.[a-f0-9]{8}",
    ),
    # age identities beyond the classic form (post-quantum `AGE-SECRET-KEY-PQ-1...`).
    _token(
        "private_key",
        r"AGE-SECRET-KEY-[A-Z0-9]{1,8}-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{50,}",
        15,
        0.99,
        hint=r"AGE-SECRET-KEY-[A-Z0-9]{1,8}-1",
    ),
)
