"""Credentials that only their surroundings reveal, in the syntaxes the name-equals-value rules miss:

- a user flag followed by a password flag on one command line (`-U sa -P ...`, `-u web -p ...`,
  `-D <dn> -w ...`, `-username admin -password ...`), whatever the program;
- config directives written `name value` (redis.conf, nslcd, mosquitto bridges, UCI `option`, network
  devices: `snmp-server community`, `tacacs-server key`, `username ... password 0 ...`, IPsec `: PSK`);
- a secret-named string and a literal as a call's two arguments (`define('DB_PASSWORD', '...')`,
  `Header.Set("X-Api-Secret", "...")`) or as a subscript assignment (`os.environ["TOKEN"] = "..."`);
- a secret-named key holding an object whose first value is the secret (`"github-oauth": {"host": "..."}`);
- XML that splits name and value (`<name>fs.s3a.secret.key</name><value>...</value>`) or puts attributes
  on the secret's element (`<Pass encoding="base64">...</Pass>`), and HCL variables' defaults;
- commands that take a password positionally (`net use ... <password> /user:`, `sqlplus user/pw@db`,
  `rabbitmqctl add_user u pw`, redis `AUTH u pw`), a secret fed through process substitution, `--key`;
- headers named for a key or token (`Fastly-Key`, `Ocp-Apim-Subscription-Key`);
- cookies set from script (`document.cookie = "..."`), signature cookies, URL-encoded session tokens;
- OTP seeds outside `otpauth://...secret=` (pyotp, oathtool, Google Authenticator's file and export
  URL) and printed recovery codes.

RE2 syntax, bounded repeats; group 1 is the secret."""

from __future__ import annotations

from railguard.detect.secrets._names import SECRET_NAME, VALUE
from railguard.detect.secrets._scanner import Rule, Validator, relaxed
from railguard.detect.secrets._validators import (
    Span,
    generic,
    looks_like_path,
    looks_like_words,
    not_placeholder,
    password,
    query_secret,
)

_IDENT = r"[A-Za-z0-9_.\-]{0,40}"
_NAMED = _IDENT + SECRET_NAME + _IDENT
_GENERIC = generic(8, 3.0)
_PASSWORDY = generic(6, 2.2)
_GENERIC_16 = generic(16, 3.0)


def cli_value(text: str, start: int, end: int) -> Span | None:
    """A password flag's value: not a number (`-p 8883` is a port), a word (`-p app` is mysql's database
    after a bare `-p`) or a path."""
    value = text[start:end]
    if value.isdigit() or looks_like_words(value) or looks_like_path(value):
        return None
    return password(text, start, end)


# Headers named like credentials that carry nonces or public values.
_NOT_CREDENTIAL_HEADERS = ("idempotency", "websocket", "public", "csrf", "xsrf", "cache", "partition", "sort")


def header_credential(text: str, start: int, end: int) -> Span | None:
    """The value of a header whose name ends in Key/Token/Secret, unless the name says nonce or public."""
    name = text[text.rfind("\n", 0, start) + 1 : start].lower()
    return None if any(word in name for word in _NOT_CREDENTIAL_HEADERS) else _GENERIC_16(text, start, end)


def recovery_codes(text: str, start: int, end: int) -> Span | None:
    """Printed codes: some carry digits (words in a list after such a heading are not codes)."""
    block = text[start:end]
    return (start, end) if sum(c.isdigit() for c in block) * 5 >= len(block.strip()) else None


# One priority per kind (overlaps are ranked by kind, see `SECRET_PRIORITY`): the kind's own.
_PRIORITY = {"generic_secret": 50, "aws_session_token": 88}


def _rule(pattern: str, validate: Validator, hint: str | None = None, kind: str = "generic_secret") -> Rule:
    return Rule(kind, pattern, validate, 0.8, _PRIORITY[kind], hint=relaxed(hint or pattern))


_FLAG_VALUE = r"(?:\"[^\"\n]{1,120}\"|'[^'\n]{1,120}'|[^\s\"']{1,120})"

CONTEXT_RULES: tuple[Rule, ...] = (
    _rule(
        r"\s-(?:u|U|D|l|user|username)[\s=]+" + _FLAG_VALUE + r"(?:\s+-{1,2}[A-Za-z][A-Za-z0-9\-]{0,15}"
        r"(?:[\s=]+[^\s\-][^\s]{0,60})?){0,3}\s+-(?:p|P|w|pass|password|pw)[\s=]?[\"']?([^\s\"'\-][^\s\"']{3,200})",
        cli_value,
        hint=r"\s-(?:u|U|D|l|user|username)[\s=][^\n]*\s-(?:p|P|w|pass|password|pw)[\s=]?[\"']?[^\s\"'\-]",
    ),
    _rule(
        r"(?im)^[ \t]*(?:(?:tacacs|radius)-server[ \t]+key|snmp-server[ \t]+community|"
        r"username[ \t]+\S{1,40}(?:[ \t]+privilege[ \t]+\d{1,2})?[ \t]+(?:password|secret)|"
        r"enable[ \t]+(?:password|secret)|requirepass|masterauth|bindpw|"
        r"option[ \t]+[a-z_]*(?:key|password|secret|psk)[a-z_]*|"
        r"[a-z_]*(?:password|passwd|secret|authtok)[a-z_]*)"
        r"[ \t]+(?:[0-9][ \t]+)?[\"']?([^\s\"']{6,200})",
        _PASSWORDY,
        hint=r"(?im)^[ \t]*[a-z_\- \t]*(?:key|community|password|passwd|secret|authtok|requirepass"
        r"|masterauth|bindpw|psk)[a-z_]{0,20}[ \t]+[^\s=:]",
    ),
    # Headers named for a key or token (`Fastly-Key`, `Ocp-Apim-Subscription-Key`, `X-Auth-Token`); nonces
    # and CSRF tokens aside. (`Authorization: <any scheme> <credential>` is in the base rules.)
    _rule(
        r"(?m)^[ \t>]*(?:[A-Z][A-Za-z0-9]*-){0,4}(?:[A-Za-z0-9]*Key|Token|Secret|KEY|TOKEN|SECRET)[ \t]*:[ \t]*"
        r"[\"']?([A-Za-z0-9_\-.~+/]{16,}=*)",
        header_credential,
        hint=r"(?m)^[ \t>]*(?:[A-Z][A-Za-z0-9]*-){0,4}[A-Za-z0-9]*(?:Key|Token|Secret|KEY|TOKEN|SECRET)[ \t]*:",
    ),
    _rule(r"\blftp\b[^\n]{0,100}?\s-u\s+[^,\s]{1,60},([^\s\"']{4,200})", password),
    _rule(
        r"\bsnmp(?:walk|get|getnext|bulkwalk|bulkget|set|table|trap|df|status)\b[^\n]{0,80}?\s-[cAX]\s+"
        r"[\"']?([^\s\"']{4,200})",
        _PASSWORDY,
    ),
    _rule(r"\bsimple_bind(?:_s)?\(\s*[\"'][^\"'\n]{1,200}[\"']\s*,\s*[\"']([^\"'\s]{4,200})[\"']", password),
    # Redis ACL: `>password` adds a password (`ACL SETUSER u on >pw ~keys +@read`, aclfile `user u on >pw`).
    _rule(
        r"(?im)^\s*(?:ACL\s+SETUSER|user)\s+\S{1,60}(?:\s+[^\s>]{1,40}){0,6}\s+>([^\s]{4,200})",
        password,
        hint=r"(?i)(?:ACL\s+SETUSER|user)\s+\S{1,60}\s[^\n]{0,200}\s>",
    ),
    _rule(r"(?i):\s*PSK\s+[\"']([^\"'\n]{4,200})[\"']", password),
    _rule(r"\bnmcli\b[^\n]{0,200}?\s(?:password|wifi-sec\.psk)\s+[\"']?([^\s\"']{6,200})", _PASSWORDY),
    _rule(r"(?m)^\s*Key Content\s*:\s*(\S[^\n]{3,62})$", password, hint=r"Key Content\s*:"),
    _rule(r"--(?:requirepass|masterauth)[\s=]+[\"']?" + VALUE, _PASSWORDY),
    _rule(
        r"(?i)\(\s*[rbuf]?[\"']" + _NAMED + r"[\"']\s*,\s*[rbuf]?[\"']([^\"'\s]{6,200})[\"']",
        _GENERIC,
        hint=r"(?i)\(\s*[rbuf]?[\"'][A-Za-z0-9_.\-]{0,40}(?:secret|token|pass|pwd|key|credential|auth)",
    ),
    _rule(
        r"(?i)\[\s*[\"']" + _NAMED + r"[\"']\s*\]\s*=\s*[rbuf]?[\"']([^\"'\s]{6,200})[\"']",
        _GENERIC,
        hint=r"[\"']\s*\]\s*=\s*[rbuf]?[\"']",
    ),
    _rule(
        r"(?i)[\"'][A-Za-z0-9_.\-]{0,30}(?:" + SECRET_NAME + r"|oauth)[A-Za-z0-9_.\-]{0,30}[\"']\s*:\s*\{\s*"
        r"[\"'][^\"'\n]{1,100}[\"']\s*:\s*[\"']([^\"'\s]{8,200})[\"']",
        _GENERIC,
        hint=r"(?i)(?:secret|token|pass|pwd|key|auth|credential)[A-Za-z0-9_.\-]{0,30}[\"']\s*:\s*\{",
    ),
    _rule(
        r"(?i)<(?:name|key)>[^<\n]{0,60}?" + SECRET_NAME + r"[^<\n]{0,60}</(?:name|key)>\s{0,40}"
        r"<(?:value|string)>([^<\s]{4,400})</",
        password,
        hint=r"(?i)</(?:name|key)>\s{0,40}<(?:value|string)>",
    ),
    _rule(
        r"(?i)<[a-z0-9_:.\-]{0,40}?" + SECRET_NAME + r"[a-z0-9_.\-]{0,40}\s[^<>\n]{1,120}>([^<\s]{4,400})</",
        password,
        hint=r"(?i)<[a-z0-9_:.\-]*(?:secret|token|pass|pwd|key|credential|auth|psk|pw)[a-z0-9_.\-]*\s[^<>\n]+>[^<\s]{4}",
    ),
    _rule(
        r"(?i)\bvariable\s+\"" + _NAMED + r"\"\s*\{[^{}]{0,300}?\bdefault\s*=\s*\"([^\"\s]{4,200})\"",
        _PASSWORDY,
        hint=r"(?i)\bvariable\s+\"",
    ),
    _rule(r"(?i)\bnet\s+use\s+(?:[A-Z]:\s+)?\\\\\S{1,200}\s+([^\s/]\S{3,200})\s+/user:", password),
    _rule(
        r"\b(?:sqlplus|rman|expdp|impdp|sqlldr)\s+(?:-[A-Za-z]+\s+)?[A-Za-z0-9_$#]{1,30}/([^@\s/\"']{4,200})@",
        password,
    ),
    _rule(r"\brabbitmqctl\s+(?:add_user|change_password)\s+\S{1,60}\s+[\"']?([^\s\"']{4,200})", password),
    _rule(
        r">\s*AUTH\s+(?:[A-Za-z0-9_\-]{1,40}\s+)?([^\s\"']{6,200})\s*(?:\n|$)", _PASSWORDY, hint=r">\s*AUTH\s"
    ),
    _rule(
        r"(?i)--?[a-z\-]{0,20}(?:key|secret|token|password)[a-z\-]{0,20}\s+<\(\s*(?:echo|printf\s+%s)\s+[\"']?"
        r"([^\s\"')]{8,200})",
        _GENERIC,
    ),
    _rule(r"(?:^|\s)--key[=\s]+[\"']?([^\s\"'\-][^\s\"']{15,200})", generic(16, 3.0)),
    _rule(
        r"(?i)\bcookie\s*=\s*[\"'][^\"'\n]{0,200}?[a-z0-9_\-.]{0,30}(?:sess|sid|token|auth|jwt)[a-z0-9_\-.]{0,30}"
        r"=([^;\s\"']{16,})",
        generic(16, 3.0),
        hint=r"(?i)\bcookie\s*=\s*[\"']",
    ),
    _rule(r"(?i)[\s;:][A-Za-z0-9_\-]{0,30}-signature=([A-Za-z0-9_\-~.%+/]{40,}={0,2})", query_secret),
    _rule(
        r"(?i)[?&]x-amz-security-token=([A-Za-z0-9%_\-.~]{100,})",
        not_placeholder,
        kind="aws_session_token",
    ),
    # OTP seeds
    _rule(r"\b(?:TOTP|HOTP)\(\s*[rbuf]?[\"']([A-Z2-7]{16,128}=*)[\"']", not_placeholder),
    _rule(r"\boathtool\b[^\n]{0,80}?\s([A-Z2-7]{16,128})\b", not_placeholder),
    _rule(r"otpauth-migration://offline\?data=([A-Za-z0-9%+/=_\-]{20,})", not_placeholder),
    _rule(
        r"(?m)^([A-Z2-7]{16,128})\r?\n\" (?:RATE_LIMIT|WINDOW_SIZE|TOTP_AUTH|DISALLOW_REUSE|HOTP_COUNTER)",
        not_placeholder,
        hint=r"\n\" (?:RATE_LIMIT|WINDOW_SIZE|TOTP_AUTH|DISALLOW_REUSE|HOTP_COUNTER)",
    ),
    _rule(
        r"(?i)(?:recovery|backup|scratch|emergency)(?:[ _\-]verification)?[ _\-]codes?\b[^\n]{0,60}\n"
        r"((?:[ \t]*(?:\d{1,2}[.)][ \t]*)?[A-Za-z0-9]{4,5}[ \-]?[A-Za-z0-9]{4,5}[ \t]*(?:\r?\n|$)){1,16})",
        recovery_codes,
        hint=r"(?i)(?:recovery|backup|scratch|emergency)(?:[ _\-]verification)?[ _\-]codes?\b",
    ),
    _rule(
        r"(?i)(?:recovery|backup)[_\-]?codes[\"']?\s*[:=]\s*\[\s*"
        r"((?:[\"'][A-Za-z0-9]{4,5}[ \-]?[A-Za-z0-9]{4,5}[\"']\s*,?\s*){1,16})\]",
        recovery_codes,
    ),
)
