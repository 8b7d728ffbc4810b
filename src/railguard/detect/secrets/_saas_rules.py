"""Tokens of SaaS and cloud vendors beyond the first rule set: a fixed prefix or a checkable shape
when the vendor has one, else the vendor's name as the variable or header name next to a value of
the vendor's shape (`DD_API_KEY=<32 hex>`). Patterns are RE2 syntax with bounded or simple repeats;
group 1 is the secret. Formats are from the vendors' public documentation."""

from __future__ import annotations

from railguard.detect.secrets._scanner import Rule
from railguard.detect.secrets._validators import (
    discord_bot,
    not_placeholder,
    telegram_bot,
    vendor,
    vendor_bounded,
)

_URLSAFE = "A-Za-z0-9_\\-"


def keyed(name: str, value: str) -> str:
    """`<name>...= value`, `"<name>": "value"`, `<name>: value` (YAML, headers). Only the name is
    case-insensitive: the value keeps its exact alphabet (lower-case hex stays lower-case)."""
    head = r"(?i:" + name + r")[A-Za-z0-9_.\-]{0,20}[\"']?\s*(?::=|=>|[:=])\s*[\"']?"
    return head + "(" + value + r")(?:[^A-Za-z0-9_\-]|$)"


def _token(kind: str, pattern: str, prefix_len: int, confidence: float = 0.99) -> Rule:
    return Rule(kind, "(" + pattern + ")", vendor_bounded(prefix_len), confidence, 90)


def _context(kind: str, name: str, value: str, confidence: float = 0.9) -> Rule:
    # Below the prefixed rules, above generic_secret: the name tells whose secret it is.
    return Rule(kind, keyed(name, value), vendor(0), confidence, 88)


SAAS_RULES: tuple[Rule, ...] = (
    _token("digitalocean_token", r"do[opr]_v1_[a-f0-9]{64}", 7),
    _token("shopify_token", r"shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}", 6),
    _token("mailgun_key", r"key-[a-f0-9]{32}", 4, 0.9),
    _token("mailgun_key", r"[a-f0-9]{32}-[a-f0-9]{8}-[a-f0-9]{8}", 0, 0.85),
    _context("mailgun_key", r"mailgun[a-z_\-]{0,12}(?:api[_\-]?key|key|secret)", r"[a-f0-9]{32}"),
    _token("mailchimp_key", r"[a-f0-9]{32}-us\d{1,2}", 0, 0.9),
    # `sq0idp-` is an application id, public by design; access tokens and client secrets are the secrets.
    _token("square_token", r"sq0(?:atp|csp)-[" + _URLSAFE + r"]{22,43}", 7),
    _token("square_token", r"EAAA[" + _URLSAFE + r"]{60}", 4, 0.85),
    _token("heroku_key", r"HRKU-[" + _URLSAFE + r"]{20,80}", 5),
    _context(
        "heroku_key",
        r"heroku[a-z_\-]{0,12}(?:api[_\-]?key|token|key)",
        r"[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}",
    ),
    _context(
        "datadog_key",
        r"(?:dd|datadog)[_\-.]?(?:api|app(?:lication)?)[_\-.]?key",
        r"[a-f0-9]{40}|[a-f0-9]{32}",
    ),
    _token("newrelic_key", r"NR(?:AK|AA|II|IQ|RA)-[A-Za-z0-9]{27,32}", 5),
    _token("newrelic_key", r"NRJS-[a-f0-9]{19}", 5),
    _token("newrelic_key", r"[a-f0-9]{36}NRAL", 0, 0.95),
    _context(
        "newrelic_key",
        r"new[_\-.]?relic[_\-.]?(?:license|api|insert|query)[_\-.]?key",
        r"[A-Za-z0-9\-]{32,40}",
    ),
    Rule(
        "sentry_token",
        r"https?://([a-f0-9]{32})(?::[a-f0-9]{32})?@[A-Za-z0-9.\-]{3,100}(?::\d{1,5})?/(?:[\w.\-]{1,40}/){0,3}\d{1,12}",
        not_placeholder,
        0.9,
        90,
    ),
    _token("sentry_token", r"sntrys_eyJ[A-Za-z0-9_\-+/=]{40,}", 7),
    _token("sentry_token", r"sntryu_[a-f0-9]{64}", 7),
    Rule(
        "discord_token",
        r"([MNO][" + _URLSAFE + r"]{23,27}\.[" + _URLSAFE + r"]{6,7}\.[" + _URLSAFE + r"]{27,40})",
        discord_bot,
        0.95,
        90,
        # No literal to anchor on; a shorter stage-1 superset costs Hyperscan less (measured +13%).
        hint=r"[MNO][" + _URLSAFE + r"]{23,27}\.",
    ),
    _token(
        "discord_webhook",
        r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d{17,20}/[" + _URLSAFE + r"]{60,70}",
        40,
    ),
    Rule("telegram_bot_token", r"(\d{8,10}:AA[" + _URLSAFE + r"]{33})", telegram_bot, 0.95, 90),
    _token("linear_key", r"lin_(?:api|oauth)_[A-Za-z0-9]{40}", 8),
    _token("notion_token", r"secret_[A-Za-z0-9]{43}", 7, 0.9),
    _token("notion_token", r"ntn_[A-Za-z0-9]{46}", 4),
    _token("doppler_token", r"dp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,44}", 6),
    _token("vault_token", r"hv[sbr]\.[" + _URLSAFE + r"]{24,}", 4),
    _context("vault_token", r"vault[_\-]?token", r"s\.[A-Za-z0-9]{24}"),
    _token("databricks_token", r"dapi[a-f0-9]{32}(?:-\d)?", 4),
    _token("atlassian_token", r"AT(?:ATT|CTT)3[" + _URLSAFE + r"=]{150,250}", 5),
    Rule("okta_token", r"\bSSWS\s+(00[" + _URLSAFE + r"]{40})\b", vendor(2), 0.95, 90),
    Rule(
        "okta_token",
        # The name may sit a few YAML lines above the value (okta:\n  client:\n    token: ...).
        r"(?i:okta)[\s\S]{0,80}?(?i:token|key)[\"']?\s*[:=]\s*[\"']?(00[" + _URLSAFE + r"]{40})\b",
        vendor(2),
        0.9,
        88,
    ),
    _context(
        "cloudflare_token",
        r"(?:cloudflare|cf)[_\-.]?(?:api[_\-.]?)?(?:token|key)",
        r"[" + _URLSAFE + r"]{40}",
    ),
    _context(
        "cloudflare_token",
        r"(?:cloudflare|cf)[_\-.]?(?:global[_\-.]?)?(?:api[_\-.]?)?key|x-auth-key",
        r"[a-f0-9]{37}",
    ),
    _token("cloudflare_token", r"v1\.0-[a-f0-9]{24}-[a-f0-9]{146}", 5),  # Origin CA key
    _token("grafana_token", r"glc_[A-Za-z0-9+/]{32,400}={0,2}", 4),
    _token("grafana_token", r"glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}", 5),
    _token("grafana_token", r"eyJrIjoi[A-Za-z0-9+/]{40,200}={0,2}", 8, 0.9),
    _context("twilio_key", r"twilio[a-z_\-]{0,12}(?:auth[_\-]?token|token|secret)", r"[a-f0-9]{32}"),
    _token("google_oauth", r"GOCSPX-[" + _URLSAFE + r"]{28}", 7),
    _token("google_oauth", r"ya29\.[" + _URLSAFE + r"]{30,}", 5),
    _token("google_oauth", r"1//0[" + _URLSAFE + r"]{40,}", 4, 0.9),
    _token("firebase_key", r"AAAA[" + _URLSAFE + r"]{7}:APA91b[" + _URLSAFE + r"]{120,160}", 4),
    _token(
        "aws_session_token",
        r"(?:IQoJb3JpZ2luX2Vj|FwoGZXIvYXdzE|FQoGZXIvYXdzE|AQoDYXdzE)[A-Za-z0-9/+=]{100,}",
        9,
    ),
    _context(
        "aws_session_token",
        r"aws[_\-.]?session[_\-.]?token|x-amz-security-token|aws[_\-.]?security[_\-.]?token",
        r"[A-Za-z0-9/+=]{100,}",
    ),
)
