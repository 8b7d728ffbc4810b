"""SaaS/cloud vendor tokens and the credential syntaxes added after the red-team set
(benchmarks/data/secrets_redteam.py): each is found at its exact position in a realistic context, and
its look-alikes (wrong shape, placeholder, missing context) stay quiet."""

from __future__ import annotations

import base64
import random
import string

import pytest

from railguard.detect.secrets import SECRET_KINDS, find_secrets
from railguard.detect.secrets._rules import SECRET_RULES
from railguard.detect.secrets._saas_rules import SAAS_RULES
from railguard.detect.secrets._scanner import BACKENDS, Scanner

_RNG = random.Random(18)
ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "-_"
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"


def rand(n: int, alphabet: str = ALNUM) -> str:
    return "".join(_RNG.choice(alphabet) for _ in range(n))


def discord_bot_token() -> str:
    user_id = base64.b64encode(b"802734519203947520").decode().rstrip("=")
    return f"{user_id}.{rand(6, URLSAFE)}.{rand(38, URLSAFE)}"


PUTTY = (
    "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: ci\nPublic-Lines: 2\n"
    f"{rand(64, B64)}\n{rand(20, B64)}\nPrivate-Lines: 1\n{rand(48, B64)}\nPrivate-MAC: {rand(64, HEX)}"
)
# (kind, template, secret): `{v}` marks the secret inside its context.
VENDOR_POSITIVES = [
    ("digitalocean_token", "DIGITALOCEAN_TOKEN={v}", "dop_v1_" + rand(64, HEX)),
    ("shopify_token", "X-Shopify-Access-Token: {v}", "shpat_" + rand(32, HEX)),
    ("mailgun_key", "api: {v}", "key-" + rand(32, HEX)),
    ("mailgun_key", "auth=('api', '{v}')", f"{rand(32, HEX)}-{rand(8, HEX)}-{rand(8, HEX)}"),
    ("mailchimp_key", "mc = Client('{v}')", rand(32, HEX) + "-us14"),
    ("square_token", "SQUARE_ACCESS_TOKEN={v}", "EAAA" + rand(60, URLSAFE)),
    ("square_token", "square: {v}", "sq0csp-" + rand(43, URLSAFE)),
    ("heroku_key", "HEROKU_API_KEY={v}", "3f6d2a1e-9b7c-4d5e-8f01-23456789abcd"),
    ("heroku_key", "heroku: {v}", "HRKU-AA" + rand(58, URLSAFE)),
    ("datadog_key", "DD_API_KEY={v}", rand(32, HEX)),
    ("datadog_key", "-H 'DD-APPLICATION-KEY: {v}'", rand(40, HEX)),
    ("newrelic_key", "NEW_RELIC_API_KEY={v}", "NRAK-" + rand(27, string.ascii_uppercase + string.digits)),
    ("newrelic_key", "license_key: {v}", rand(36, HEX) + "NRAL"),
    ("sentry_token", 'dsn="https://{v}@o4507.ingest.us.sentry.io/4507123"', rand(32, HEX)),
    ("sentry_token", "SENTRY_AUTH_TOKEN={v}", "sntryu_" + rand(64, HEX)),
    ("discord_token", "client.run('{v}')", discord_bot_token()),
    (
        "discord_webhook",
        "url: {v}",
        f"https://discord.com/api/webhooks/1187203948571029384/{rand(68, URLSAFE)}",
    ),
    ("telegram_bot_token", "https://api.telegram.org/bot{v}/getMe", f"7788990011:AA{rand(33, URLSAFE)}"),
    ("linear_key", "LINEAR_API_KEY={v}", "lin_api_" + rand(40)),
    ("notion_token", "NOTION_TOKEN={v}", "ntn_" + rand(46)),
    ("notion_token", "notion = Client(auth='{v}')", "secret_" + rand(43)),
    ("doppler_token", "DOPPLER_TOKEN={v}", "dp.st." + rand(43)),
    ("vault_token", "X-Vault-Token: {v}", "hvs." + rand(90, URLSAFE)),
    ("vault_token", "VAULT_TOKEN={v}", "s." + rand(24)),
    ("databricks_token", "token = {v}", "dapi" + rand(32, HEX) + "-2"),
    ("atlassian_token", "JIRA={v}", "ATATT3xFfGF0" + rand(170, URLSAFE) + "=" + rand(8, "0123456789ABCDEF")),
    ("okta_token", "Authorization: SSWS {v}", "00" + rand(40, URLSAFE)),
    ("okta_token", 'okta:\n  client:\n    token: "{v}"', "00" + rand(40, URLSAFE)),
    ("cloudflare_token", "CLOUDFLARE_API_TOKEN={v}", rand(40, URLSAFE)),
    ("cloudflare_token", "X-Auth-Key: {v}", rand(37, HEX)),
    ("grafana_token", "GRAFANA_TOKEN={v}", "glsa_" + rand(32) + "_" + rand(8, HEX)),
    ("grafana_token", "token: {v}", "glc_eyJvIjoi" + rand(100) + "="),
    ("google_oauth", '"client_secret": "{v}"', "GOCSPX-" + rand(28, URLSAFE)),
    ("google_oauth", "Authorization: Bearer {v}", "ya29.a0" + rand(120, URLSAFE)),
    ("firebase_key", "key={v}", f"AAAA{rand(7, URLSAFE)}:APA91b{rand(134, URLSAFE)}"),
    ("aws_session_token", "aws_session_token = {v}", "IQoJb3JpZ2luX2Vj" + rand(300, B64)),
    ("aws_session_token", "AWS_SESSION_TOKEN={v}", rand(200, B64)),
    ("twilio_key", "TWILIO_AUTH_TOKEN={v}", rand(32, HEX)),
]
# Formats added to kinds that already existed.
EXTENDED_POSITIVES = [
    ("slack_token", "SLACK_REFRESH={v}", "xoxe-1-" + rand(140)),
    ("slack_token", "token: {v}", "xoxe.xoxp-1-" + rand(140)),
    ("stripe_key", "STRIPE_WEBHOOK_SECRET={v}", "whsec_" + rand(32)),
    ("twilio_key", "account: {v}", "AC" + rand(32, HEX)),
    ("gitlab_token", "runner: {v}", "glrt-" + rand(20, URLSAFE)),
    ("gitlab_token", "deploy {v} now", "gldt-" + rand(20, URLSAFE)),
    ("gitlab_token", "CI={v}", "GR1348941" + rand(20, URLSAFE)),
    (
        "azure_key",
        "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey={v}",
        rand(43, B64) + "=",
    ),
    (
        "azure_key",
        "https://a.blob.core.windows.net/c/f?sv=2022-11-02&sp=r&sig={v}",
        rand(41) + "%2B" + rand(2) + "%3D",
    ),
    ("private_key", "{v}\n", PUTTY),
    (
        "private_key",
        "{v}",
        f"-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n{rand(64, B64)}\n{rand(64, B64)}\n=Ab12\n-----END PGP PRIVATE KEY BLOCK-----",
    ),
    ("connection_string", "snowflake://etl:{v}@acct/db", "Xk29!pqLw7"),
    ("basic_auth_url", "ldaps://cn=admin:{v}@ldap.corp.local", "Xk29!pqLw7"),
    ("basic_auth_url", "smb://svc:{v}@files/share", "Xk29!pqLw7"),
    ("generic_secret", "curl -u admin:{v} https://jenkins.local", "Xk29!pqLw7"),
    ("generic_secret", '<add key="DbPassword" value="{v}" />', "Xk29!pqLw7"),
    ("generic_secret", "<password>{v}</password>", "Xk29!pqLw7"),
    ("generic_secret", "machine api.corp.local login deploy password {v}", "Xk29!pqLw7"),
    ("generic_secret", "CREATE USER app IDENTIFIED BY '{v}';", "Xk29!pqLw7"),
    ("generic_secret", "export DB_PASS='{v}'", "Xk29!pqLw7"),
    ("generic_secret", "password: {v}", "hunter2x"),
    # A key may start with `/`: only name-like segments make a path (`PWD=/srv/app` stays quiet).
    (
        "aws_secret_key",
        "loaded aws_secret_access_key = {v} in 12 ms",
        "/gJeB3JklRmwLRfA+PLIoFvsGlUhOi4CJQjAVhsC",
    ),
    ("generic_secret", 'password = "{v}"', "Pa$s(w0rd;9"),
    ("generic_secret", "Cookie: theme=dark; sessionid={v}", rand(32, URLSAFE)),
]
ALL_POSITIVES = VENDOR_POSITIVES + EXTENDED_POSITIVES


@pytest.mark.parametrize(
    ("kind", "template", "secret"), ALL_POSITIVES, ids=[f"{k}-{i}" for i, (k, *_) in enumerate(ALL_POSITIVES)]
)
def test_each_format_is_found_at_its_exact_position(kind: str, template: str, secret: str) -> None:
    text = template.replace("{v}", secret)
    start = text.index(secret)
    assert [(f.kind, f.start, f.end) for f in find_secrets(text)] == [(kind, start, start + len(secret))]


def test_every_vendor_kind_has_a_positive_case_and_is_declared() -> None:
    vendor_kinds = {rule.kind for rule in SAAS_RULES}
    assert {kind for kind, _, _ in VENDOR_POSITIVES} == vendor_kinds
    assert vendor_kinds <= SECRET_KINDS


LOOK_ALIKES = [
    "heroku_app_id: 550e8400-e29b-41d4-a716-446655440000",  # a UUID without a key name
    "DD_SITE=datadoghq.eu DD_ENV=prod md5 d41d8cd98f00b204e9800998ecf8427e",
    "MzAwMDA.abcdef." + "q" * 30,  # dotted base64 whose first part is not a Discord user id
    "DIGITALOCEAN_TOKEN=dop_v1_" + "0" * 64,
    "VAULT_TOKEN=hvs.XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    "export SHOPIFY_TOKEN=shpat_<your-token>",
    "NOTION_TOKEN=secret_...",
    "https://api.telegram.org/bot<token>/getMe",
    "sentry_sdk.init(dsn=os.environ['SENTRY_DSN'])",
    "password: !vault |\n  $ANSIBLE_VAULT;1.1;AES256",
    "PWD=/home/user/project\npwd: /srv/app",
    "password = getpass.getpass()\npassword_min_length: 12\npassword: required",
    "db_password: ${DB_PASSWORD:-postgres}\npassword: '********'",
    "pass: true\nbypass: maintenance\ncompass_heading: NW12",
    "docker run -u 1000:1000 app && docker run --user app:app img",
    "Cookie: theme=dark; lang=en-GB",
    "password_reset_url: https://corp.local/account/reset",
]


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_look_alikes_do_not_fire(text: str) -> None:
    assert find_secrets(text) == []


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_backends_agree_on_new_formats(backend: str) -> None:
    scanner = Scanner(SECRET_RULES, detector="secrets", backend=backend)
    reference = Scanner(SECRET_RULES, detector="secrets", backend="re2")
    for _, template, secret in ALL_POSITIVES:
        text = template.replace("{v}", secret)
        assert scanner.candidates(text) == reference.candidates(text)
