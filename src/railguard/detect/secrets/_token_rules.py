"""Prefixed tokens: more vendors' documented formats, and the shape most vendors now share, so that an
unseen vendor's token is still found: a short lower- or mixed-case prefix and `_`/`-`, then a long
random tail mixing upper case, lower case and digits (`pplx-...`, `gsk_...`, `rnd_...`). Patterns are
RE2 syntax with bounded repeats; group 1 is the secret."""

from __future__ import annotations

import re

from railguard.detect.secrets._scanner import Rule
from railguard.detect.secrets._validators import hex_token, prefixed_token, vendor_bounded

_URLSAFE = "A-Za-z0-9_\\-"
# Below generic_secret: when a name or header also announces the value, that finding is the more
# specific one (the span is redacted either way).
_SHAPE_ONLY = 49
_UUID = r"[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}"


_LONG_REPEAT = re.compile(r"\{(\d+)(?:,\d*)?\}")


def _stage1(pattern: str) -> str | None:
    """The literal prefix and the first 8 characters of its first long repeat: a superset of the
    pattern that Hyperscan matches at a fraction of the cost of the long bounded repeats (measured:
    the full patterns doubled stage 1's time)."""
    repeat = _LONG_REPEAT.search(pattern)
    if repeat is None or int(repeat.group(1)) < 8:
        return None
    head = pattern[: repeat.start()]
    return head + "{8}" if head.count("(") == head.count(")") and len(head) > 4 else None


def _token(
    kind: str,
    pattern: str,
    prefix_len: int,
    confidence: float = 0.99,
    priority: int = 90,
    hint: str | None = None,
) -> Rule:
    return Rule(
        kind,
        "(" + pattern + ")",
        vendor_bounded(prefix_len),
        confidence,
        priority,
        hint=hint or _stage1(pattern),
    )


TOKEN_RULES: tuple[Rule, ...] = (
    _token("postman_key", r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}", 5),
    _token("supabase_token", r"sbp_(?:oauth_)?[a-f0-9]{40}", 4),
    _token("supabase_token", r"sb_secret_[" + _URLSAFE + r"]{24,64}", 10),
    _token("planetscale_token", r"pscale_(?:pw|tkn|oauth)_[" + _URLSAFE + r"=.]{32,64}", 10),
    # Terraform Cloud / Enterprise: <14 chars>.atlasv1.<60-70 chars>
    _token(
        "terraform_token", r"[A-Za-z0-9]{14}\.atlasv1\.[" + _URLSAFE + r"=]{60,70}", 0, hint=r"\.atlasv1\."
    ),
    _token("pulumi_token", r"pul-[a-f0-9]{40}", 4),
    _token("flyio_token", r"fo1_[" + _URLSAFE + r"]{43}", 4),
    _token("flyio_token", r"FlyV1 fm\d_[A-Za-z0-9+/=_\-]{40,}", 10),
    _token("render_token", r"rnd_[A-Za-z0-9]{32}", 4),
    # age's secret key is Bech32 (upper-case data alphabet, 58 characters after the separator `1`).
    _token("private_key", r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}", 16, priority=100),
    _token("replicate_token", r"r8_[A-Za-z0-9]{37}", 3),
    _token("groq_key", r"gsk_[A-Za-z0-9]{52}", 4),
    _token(
        "tailscale_key",
        r"tskey-[a-z]{3,8}-[A-Za-z0-9]{6,30}-[A-Za-z0-9]{16,64}",
        6,
        hint=r"tskey-[a-z]{3,8}-",
    ),
    _token(
        "dynatrace_token", r"dt0[a-z]\d{2}\.[A-Z0-9]{24}\.[A-Z0-9]{64}", 7, hint=r"dt0[a-z]\d{2}\.[A-Z0-9]{8}"
    ),
    _token("figma_token", r"fig[dou]_[" + _URLSAFE + r"]{40,}", 5),
    _token("airtable_token", r"pat[A-Za-z0-9]{14}\.[a-f0-9]{64}", 3, hint=r"pat[A-Za-z0-9]{14}\.[a-f0-9]{8}"),
    _token("contentful_token", r"CFPAT-[" + _URLSAFE + r"]{43}", 6),
    _token("netlify_token", r"nf[pcou]_[A-Za-z0-9]{36}", 4),
    _token("dockerhub_token", r"dckr_(?:pat|oat)_[" + _URLSAFE + r"]{27,}", 9),
    _token("buildkite_token", r"bkua_[a-f0-9]{40}", 5),
    _token("rubygems_key", r"rubygems_[a-f0-9]{48}", 9),
    _token("alibaba_key", r"LTAI[A-Za-z0-9]{12,20}", 4, 0.9),
    _token("tencent_key", r"AKID[A-Za-z0-9]{32}", 4, 0.9),
    _token("langsmith_key", r"lsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}", 8),
    _token("pinecone_key", r"pcsk_[A-Za-z0-9]{4,8}_[A-Za-z0-9]{50,80}", 5, hint=r"pcsk_[A-Za-z0-9]{4,8}_"),
    _token("xai_key", r"xai-[A-Za-z0-9]{80}", 4),
    _token("perplexity_key", r"pplx-[A-Za-z0-9]{48}", 5),
    _token("sourcegraph_token", r"sgp_(?:[a-f0-9]{16}_|local_)?[a-f0-9]{40}", 4, hint=r"sgp_[a-f0-9l]"),
    _token("prefect_key", r"pn[ub]_[A-Za-z0-9]{36}", 4),
    _token("onepassword_token", r"ops_eyJ[A-Za-z0-9+/=_\-]{100,}", 7),
    _token("shippo_token", r"shippo_(?:live|test)_[a-f0-9]{40}", 12),
    _token("flutterwave_key", r"FLW(?:SEC|PUB)K(?:_TEST)?-[a-f0-9]{32}-X", 8),
    _token("easypost_key", r"EZ[AT]K[A-Za-z0-9]{54}", 4),
    _token("scalingo_token", r"tk-us-[" + _URLSAFE + r"]{48}", 6),
    _token("infracost_key", r"ico-[A-Za-z0-9]{32}", 4),
    _token("readme_key", r"rdme_[a-z0-9]{70}", 5),
    _token("duffel_token", r"duffel_(?:live|test)_[" + _URLSAFE + r"=]{43}", 12),
    _token("frameio_token", r"fio-u-[" + _URLSAFE + r"=]{64}", 6),
    _token("bitbucket_token", r"ATBB[A-Za-z0-9]{32}", 4),
    _token("mapbox_token", r"[st]k\.eyJ[" + _URLSAFE + r"]{20,}\.[" + _URLSAFE + r"]{20,}", 3),
    _token("langfuse_key", r"sk-lf-" + _UUID, 6),
    _token("plaid_token", r"access-(?:sandbox|development|production)-" + _UUID, 7),
    _token("clojars_token", r"CLOJARS_[a-z0-9]{60}", 8),
    _token("adafruit_key", r"aio_[A-Za-z0-9]{28}", 4),
    _token("typeform_token", r"tfp_[" + _URLSAFE + r"=.]{59}", 4),
    _token("nuget_key", r"oy2[a-z0-9]{43}", 3, 0.9),
    _token("harness_token", r"pat\.[" + _URLSAFE + r"]{22}\.[a-f0-9]{24}\.[A-Za-z0-9]{20}", 4),
    _token("asana_token", r"[12]/\d{13,20}:[a-f0-9]{32}", 0, 0.9),
    # `sk-` and 32 hex characters: the key shape of several model APIs.
    _token("api_token", r"sk-[a-f0-9]{32}", 3, 0.9, _SHAPE_ONLY),
    Rule(
        "api_token",
        # A hex token behind a short lower-case prefix and `_` (`bkua_`, `shippo_live_`); `-` is left out:
        # `node-<hash>` and `app-<hash>.js` are digests.
        r"((?:[a-z][a-z0-9]{1,9}_){1,2}[a-f0-9]{32,80})",
        hex_token,
        0.75,
        _SHAPE_ONLY,
        hint=r"[a-z0-9]_[a-f0-9]{32}",
    ),
    Rule(
        "api_token",
        # Any prefixed random token. Vendor prefixes are single-case (`pplx-`, `CFPAT-`), which keeps
        # base64 digests (`sha256=zuuue4knoyJ-UwPP...`) out; `prefixed_token` judges the tail.
        r"((?:[a-z][a-z0-9]{1,9}[_\-]|[A-Z][A-Z0-9]{1,9}[_\-]){1,3}[A-Za-z0-9][" + _URLSAFE + r"]{29,250})",
        prefixed_token,
        0.8,
        _SHAPE_ONLY,
        hint=r"[A-Za-z0-9][_\-][A-Za-z0-9_\-]{30}",
    ),
)
