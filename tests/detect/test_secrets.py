"""Secret formats: each kind fires on a synthetic token in context, and look-alikes do not."""

from __future__ import annotations

import random
import string

import pytest

from railguard.detect.secrets import SECRET_KINDS, find_secrets
from railguard.detect.secrets._credential_rules import CREDENTIAL_RULES
from railguard.detect.secrets._rules import SECRET_RULES
from railguard.detect.secrets._saas_rules import SAAS_RULES
from railguard.detect.secrets._scanner import BACKENDS, Scanner
from railguard.detect.secrets._token_rules import TOKEN_RULES

_RNG = random.Random(7)
_ALNUM = string.ascii_letters + string.digits


def rand(n: int, alphabet: str = _ALNUM) -> str:
    return "".join(_RNG.choice(alphabet) for _ in range(n))


PASSWORD = "Tq8#vLm2pZx9"
KEY_BODY = "\n".join(rand(64, _ALNUM + "+/") for _ in range(5))
# (kind, text, the secret inside it)
POSITIVES = [
    ("aws_access_key", "AWS_ACCESS_KEY_ID={v}", "AKIA" + rand(16, string.ascii_uppercase + "234567")),
    ("aws_secret_key", "aws_secret_access_key = {v}", rand(40, _ALNUM + "/+")),
    ("github_token", "git clone https://x:{v}@github.com/o/r", "ghp_" + rand(36)),
    ("github_token", "GH={v}", "github_pat_" + rand(22) + "_" + rand(59)),
    ("gitlab_token", "token {v} ok", "glpat-" + rand(20)),
    ("slack_token", '{{"slack": "{v}"}}', "xoxb-2750193846-8317402956-" + rand(24)),
    (
        "slack_webhook",
        "post to {v}",
        f"https://hooks.slack.com/services/T{rand(8).upper()}/B{rand(8).upper()}/{rand(24)}",
    ),
    ("stripe_key", "stripe.api_key = '{v}'", "sk_live_" + rand(24)),
    ("openai_key", "OPENAI_API_KEY={v}", "sk-proj-" + rand(80, _ALNUM + "-_")),
    ("openai_key", "key: {v}", "sk-" + rand(48)),
    ("anthropic_key", "ANTHROPIC_API_KEY={v}", "sk-ant-api03-" + rand(93, _ALNUM + "-_") + "AA"),
    ("google_api_key", "maps?key={v}&q=1", "AIza" + rand(35)),
    (
        "gcp_service_account",
        '{{"type": "service_account", "private_key_id": "{v}"}}',
        rand(40, "0123456789abcdef"),
    ),
    (
        "azure_key",
        "DefaultEndpointsProtocol=https;AccountName=a;AccountKey={v};",
        rand(86, _ALNUM + "+/") + "==",
    ),
    ("twilio_key", "sid {v}", "SK" + rand(32, "0123456789abcdef")),
    ("sendgrid_key", "SENDGRID={v}", f"SG.{rand(22)}.{rand(43)}"),
    ("npm_token", "//registry.npmjs.org/:_authToken={v}", "npm_" + rand(36)),
    ("pypi_token", "password = {v}", "pypi-AgEIcHlwaS5vcmc" + rand(80)),
    ("huggingface_token", "HF_TOKEN={v}", "hf_" + rand(34, string.ascii_letters)),
    (
        "jwt",
        "Cookie: session={v}",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0." + rand(43, _ALNUM + "-_"),
    ),
    (
        "private_key",
        "key:\n{v}\nend",
        f"-----BEGIN RSA PRIVATE KEY-----\n{KEY_BODY}\n-----END RSA PRIVATE KEY-----",
    ),
    ("private_key", '"k": "{v}"', "-----BEGIN OPENSSH PRIVATE KEY-----\\n" + KEY_BODY.replace("\n", "\\n")),
    ("connection_string", "DATABASE_URL=postgres://app:{v}@db.internal:5432/app", PASSWORD),
    ("connection_string", "mongodb+srv://svc:{v}@cluster0.ab1cd.mongodb.net/db", PASSWORD),
    ("connection_string", "REDIS_URL=redis://:{v}@cache:6379/0", PASSWORD),
    ("connection_string", "jdbc:sqlserver://h:1433;databaseName=x;user=etl;password={v};", PASSWORD),
    ("connection_string", "Server=tcp:h,1433;Database=d;User Id=u;Password={v};", PASSWORD),
    ("basic_auth_url", "pip install --index-url https://deploy:{v}@pypi.corp.net/simple x", PASSWORD),
    ("generic_secret", 'api_key = "{v}"', rand(24)),
    ("generic_secret", "export SERVICE_TOKEN={v}", rand(32)),
    ("generic_secret", '{{"client_secret": "{v}", "id": 3}}', rand(30)),
    ("generic_secret", "db:\n  password: {v}\n", PASSWORD),
    ("generic_secret", "curl -H 'Authorization: Bearer {v}' https://api", rand(40, _ALNUM + "-_.")),
    ("generic_secret", "mysql --password={v} -u root", PASSWORD),
]


@pytest.mark.parametrize(
    ("kind", "template", "secret"), POSITIVES, ids=[f"{k}-{i}" for i, (k, *_) in enumerate(POSITIVES)]
)
def test_each_kind_is_found_at_its_exact_position(kind: str, template: str, secret: str) -> None:
    text = template.format(v=secret)
    start = text.index(secret)
    findings = find_secrets(text)
    assert [(f.kind, f.start, f.end) for f in findings] == [(kind, start, start + len(secret))]


def test_every_declared_kind_has_a_positive_case() -> None:
    # Vendor kinds from _saas_rules have theirs in test_secrets_vendors.py; those of _token_rules and
    # _credential_rules in test_secrets_generalise.py.
    others = {rule.kind for rule in (*SAAS_RULES, *TOKEN_RULES, *CREDENTIAL_RULES)}
    assert {kind for kind, _, _ in POSITIVES} | others == SECRET_KINDS


LOOK_ALIKES = [
    "id=123e4567-e89b-12d3-a456-426614174000",
    "commit 3f786850e387550fdab836ed7e6dc881de23001b",
    "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "data: aGVsbG8gd29ybGQsIGhvdyBhcmUgeW91IHRvZGF5Pw==",
    "version 2.31.0 released 2024-05-01T12:00:00Z, order #1002345678",
    "token = get_token(user)\nmax_tokens=4096\npassword: str = field(repr=False)",
    'api_key = os.environ["API_KEY"]\nsecret = settings.SECRET_KEY',
    '{"token_type": "Bearer", "expires_in": 3600}',
    "tokenizer = AutoTokenizer.from_pretrained('bert-base-uncased')",
    "secret_name: my-app-secret",
    "postgres://localhost:5432/app and https://example.com/a?b=c",
    "Please rotate the secret token in the vault before the deploy.",
]

PLACEHOLDERS = [
    "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE",
    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "OPENAI_API_KEY=sk-" + "x" * 48,
    'api_key: "your-api-key-here"',
    "Authorization: Bearer <TOKEN>",
    "password=${SECRET}",
    "DB_PASSWORD=changeme",
    "GITHUB_TOKEN=ghp_" + "a" * 36,
    "DATABASE_URL=postgres://app:${DB_PASSWORD}@db:5432/app",
    "postgres://user:password@localhost/db",
    "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----",
    "jwt: eyJub3Rqd3QiOjF9.eyJzdWIiOiIxIn0.abcdefghijk",  # header without "alg"
]


@pytest.mark.parametrize("text", LOOK_ALIKES + PLACEHOLDERS)
def test_look_alikes_and_placeholders_do_not_fire(text: str) -> None:
    assert find_secrets(text) == []


def test_specific_kind_wins_over_generic_assignment() -> None:
    token = "ghp_" + rand(36)
    assert [f.kind for f in find_secrets(f"GITHUB_TOKEN={token}")] == ["github_token"]


def test_rejected_candidate_does_not_hide_a_later_one() -> None:
    text = f"password_file=db_password={PASSWORD}"
    [finding] = find_secrets(text)
    assert text[finding.start : finding.end] == PASSWORD


def test_offsets_are_character_offsets_in_non_ascii_text() -> None:
    token = "ghp_" + rand(36)
    text = f"héllo wörld — 日本語 {token} ✓"
    [finding] = find_secrets(text)
    assert text[finding.start : finding.end] == token


def test_lone_surrogates_do_not_break_scanning() -> None:
    token = "npm_" + rand(36)
    text = f"\ud800 {token} \udfff"
    [finding] = find_secrets(text)
    assert text[finding.start : finding.end] == token


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_backends_agree(backend: str) -> None:
    scanner = Scanner(SECRET_RULES, detector="secrets", backend=backend)
    reference = Scanner(SECRET_RULES, detector="secrets", backend="re2")
    assert scanner.backend.name == backend
    for _, template, secret in POSITIVES:
        text = template.format(v=secret)
        assert scanner.candidates(text) == reference.candidates(text)
