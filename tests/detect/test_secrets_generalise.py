"""Secret classes added after the second red-team set (benchmarks/data/secrets_redteam2.py): more
vendors' prefixed tokens, the shape an unseen vendor's token shares with them, and credentials in the
files and commands an agent reads. Each is found at its exact position; look-alikes stay quiet; the
set's recall and precision keep their floors; and what is found never reaches a stored record."""

from __future__ import annotations

import base64
import json
import random
import string
from pathlib import Path

import pytest

from railguard.detect.redact import find_sensitive
from railguard.detect.secrets import SECRET_KINDS, find_secrets
from railguard.detect.secrets._credential_rules import CREDENTIAL_RULES
from railguard.detect.secrets._rules import SECRET_RULES
from railguard.detect.secrets._scanner import BACKENDS, Scanner
from railguard.detect.secrets._token_rules import TOKEN_RULES
from railguard.model import Action, Context, Decision, Verdict
from railguard.trace import RedactionPolicy, redact_decision_record

_RNG = random.Random(2026)
ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "-_"
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
REDTEAM2 = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "secrets_redteam2.jsonl"


def rand(n: int, alphabet: str = ALNUM) -> str:
    return "".join(_RNG.choice(alphabet) for _ in range(n))


def uuid() -> str:
    return "-".join(rand(n, HEX) for n in (8, 4, 4, 4, 12))


# (kind, template, secret): `{v}` marks the secret. One per vendor rule, in a context without a name.
TOKEN_POSITIVES = [
    ("postman_key", "{v}", f"PMAK-{rand(24, HEX)}-{rand(34, HEX)}"),
    ("supabase_token", "run: {v}", "sbp_" + rand(40, HEX)),
    ("supabase_token", "run: {v}", "sb_secret_" + rand(31, URLSAFE)),
    ("planetscale_token", "run: {v}", "pscale_pw_" + rand(43, URLSAFE)),
    ("terraform_token", "run: {v}", f"{rand(14)}.atlasv1.{rand(67, URLSAFE)}"),
    ("pulumi_token", "run: {v}", "pul-" + rand(40, HEX)),
    ("flyio_token", "run: {v}", "fo1_" + rand(43, URLSAFE)),
    ("flyio_token", "run: {v}", "FlyV1 fm2_" + rand(120, B64)),
    ("render_token", "run: {v}", "rnd_" + rand(32)),
    ("private_key", "run: {v}", "AGE-SECRET-KEY-1" + rand(58, "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L")),
    ("replicate_token", "run: {v}", "r8_" + rand(37)),
    ("groq_key", "run: {v}", "gsk_" + rand(52)),
    ("tailscale_key", "run: {v}", f"tskey-auth-{rand(11)}CNTRL-{rand(33)}"),
    ("dynatrace_token", "run: {v}", f"dt0c01.{rand(24, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789')}.{'A1' * 32}"),
    ("figma_token", "run: {v}", "figd_" + rand(40, URLSAFE)),
    ("airtable_token", "run: {v}", f"pat{rand(14)}.{rand(64, HEX)}"),
    ("contentful_token", "run: {v}", "CFPAT-" + rand(43, URLSAFE)),
    ("netlify_token", "run: {v}", "nfp_" + rand(36)),
    ("dockerhub_token", "run: {v}", "dckr_pat_" + rand(27, URLSAFE)),
    ("buildkite_token", "run: {v}", "bkua_" + rand(40, HEX)),
    ("rubygems_key", "run: {v}", "rubygems_" + rand(48, HEX)),
    ("alibaba_key", "run: {v}", "LTAI" + rand(20)),
    ("tencent_key", "run: {v}", "AKID" + rand(32)),
    ("langsmith_key", "run: {v}", f"lsv2_pt_{rand(32, HEX)}_{rand(10, HEX)}"),
    ("pinecone_key", "run: {v}", f"pcsk_{rand(5)}_{rand(63)}"),
    ("xai_key", "run: {v}", "xai-" + rand(80)),
    ("perplexity_key", "run: {v}", "pplx-" + rand(48)),
    ("sourcegraph_token", "run: {v}", f"sgp_{rand(16, HEX)}_{rand(40, HEX)}"),
    ("prefect_key", "run: {v}", "pnu_" + rand(36)),
    ("onepassword_token", "run: {v}", "ops_eyJzaWduSW5BZGRyZXNzIjoi" + rand(200, B64)),
    ("shippo_token", "run: {v}", "shippo_live_" + rand(40, HEX)),
    ("flutterwave_key", "run: {v}", f"FLWSECK-{rand(32, HEX)}-X"),
    ("easypost_key", "run: {v}", "EZAK" + rand(54)),
    ("scalingo_token", "run: {v}", "tk-us-" + rand(48, URLSAFE)),
    ("infracost_key", "run: {v}", "ico-" + rand(32)),
    ("readme_key", "run: {v}", "rdme_" + rand(70, HEX)),
    ("duffel_token", "run: {v}", "duffel_live_" + rand(43, URLSAFE)),
    ("frameio_token", "run: {v}", "fio-u-" + rand(64, URLSAFE)),
    ("bitbucket_token", "run: {v}", "ATBB" + rand(32)),
    ("mapbox_token", "run: {v}", f"sk.eyJ1Ijoi{rand(60)}.{rand(22, URLSAFE)}"),
    ("langfuse_key", "run: {v}", "sk-lf-" + uuid()),
    ("plaid_token", "run: {v}", "access-production-" + uuid()),
    ("clojars_token", "run: {v}", "CLOJARS_" + rand(60, string.ascii_lowercase + string.digits)),
    ("adafruit_key", "run: {v}", "aio_" + rand(28)),
    ("typeform_token", "run: {v}", "tfp_" + rand(59, URLSAFE)),
    ("nuget_key", "run: {v}", "oy2" + rand(43, string.ascii_lowercase + string.digits)),
    ("harness_token", "run: {v}", f"pat.{rand(22, URLSAFE)}.{rand(24, HEX)}.{rand(20)}"),
    ("asana_token", "run: {v}", f"1/{rand(16, string.digits)}:{rand(32, HEX)}"),
    ("api_token", "run: {v}", "sk-" + rand(32, HEX)),
]
# A vendor the rules have never heard of: only the shape (prefix, random mixed-case tail) finds it.
UNSEEN_VENDOR_TOKENS = [
    "acme_live_" + rand(40),
    "zq-" + rand(36),
    "vnd_pat_" + rand(48, URLSAFE),
    "QX1_" + rand(64),
]

_B64_PEM = base64.b64encode(
    ("-----BEGIN EC PRIVATE KEY-----\n" + rand(64, B64) + "\n-----END EC PRIVATE KEY-----\n").encode()
).decode()
CREDENTIAL_POSITIVES = [
    ("generic_secret", "set -x WEBHOOK_SECRET '{v}'", "Tq8#vLm2pZx9"),
    ("generic_secret", 'setx ENCRYPTION_KEY "{v}"', rand(32, HEX)),
    ("generic_secret", "setenv DB_PASSWORD {v}", "Tq8#vLm2pZx9"),
    ("generic_secret", '  - name: MEILI_MASTER_KEY\n    value: "{v}"', rand(32, HEX)),
    ("generic_secret", '{{"name": "API_TOKEN", "value": "{v}"}}', rand(24)),
    ("generic_secret", '{{"name": "connect.sid", "value": "{v}", "httpOnly": true}}', rand(43, URLSAFE)),
    ("generic_secret", "curl -b 'theme=dark; laravel_session={v}' https://app.example", rand(40)),
    (
        "generic_secret",
        '{{"auths": {{"ghcr.io": {{"auth": "{v}"}}}}}}',
        base64.b64encode(b"ci:Tq8#vLm2pZx9").decode(),
    ),
    ("generic_secret", "//npm.corp.example/:_auth={v}", rand(40, B64) + "="),
    ("generic_secret", "GET /v1/data?lat=1&api_key={v} HTTP/1.1", rand(32)),
    (
        "generic_secret",
        "https://b.s3.amazonaws.com/f?X-Amz-SignedHeaders=host&X-Amz-Signature={v}",
        rand(64, HEX),
    ),
    ("generic_secret", "default login anonymous password {v}", "Tq8#vLm2pZx9"),
    ("generic_secret", "redis-cli -h cache -a {v} ping", "Tq8#vLm2pZx9"),
    ("generic_secret", "htpasswd -b -c /etc/nginx/.htpasswd admin {v}", "Tq8#vLm2pZx9"),
    ("generic_secret", "poetry config http-basic.internal deploy {v}", "Tq8#vLm2pZx9"),
    ("generic_secret", "account = Account.from_key('{v}')", "0x" + rand(64, HEX)),
    (
        "generic_secret",
        '{{"output": "{{\\"user\\": \\"svc\\", \\"password\\": \\"{v}\\"}}"}}',
        "Tq8#vLm2pZx9",
    ),
    ("generic_secret", "REDISCLI_AUTH={v}", "Tq8#vLm2pZx9"),
    ("generic_secret", "bind_pw = {v}", "Tq8#vLm2pZx9"),
    ("generic_secret", "APP_KEY={v}", "base64:" + rand(43, B64) + "="),  # Laravel: the prefix is the value's
    ("generic_secret", "LD_SDK_KEY={v}", rand(32)),
    ("private_key", "  client-key-data: {v}\n", _B64_PEM),
    (
        "webhook_url",
        "url: {v}",
        f"https://acme.webhook.office.com/webhookb2/{uuid()}@{uuid()}/IncomingWebhook/{rand(32, HEX)}/{uuid()}",
    ),
    ("webhook_url", "url: {v}", "https://hooks.zapier.com/hooks/catch/2334784/rksh6a2/"),
]
ALL_POSITIVES = (
    TOKEN_POSITIVES + [("api_token", "run: {v}", t) for t in UNSEEN_VENDOR_TOKENS] + CREDENTIAL_POSITIVES
)


@pytest.mark.parametrize(
    ("kind", "template", "secret"), ALL_POSITIVES, ids=[f"{k}-{i}" for i, (k, *_) in enumerate(ALL_POSITIVES)]
)
def test_each_class_is_found_at_its_exact_position(kind: str, template: str, secret: str) -> None:
    text = template.format(v=secret)
    start = text.index(secret)
    assert [(f.kind, f.start, f.end) for f in find_secrets(text)] == [(kind, start, start + len(secret))]


def test_every_new_kind_has_a_positive_case_and_is_declared() -> None:
    new_kinds = {rule.kind for rule in (*TOKEN_RULES, *CREDENTIAL_RULES)}
    assert new_kinds <= {kind for kind, _, _ in ALL_POSITIVES}
    assert new_kinds <= SECRET_KINDS


LOOK_ALIKES = [
    # API object ids and digests share the prefixed-token shape.
    '{"id": "chatcmpl-8Zx9yWJ4jN1m2o3p4q5r6s7t8u9v0", "object": "chat.completion"}',
    '{"id": "msg_01XFDUDYJgAACzvnptvVoYEL"} toolu_01A09q90qw90lq917835lq9 call_AbC123dEf456GhI789jKl012',
    "integrity sha512-7Yh3kP9qLmN2xZ4vB8cD1fG6hJ0kL5mN7pQ9rS3tU6wX8yZ2aB4cD6eF8gH0iJ2kL4mN6oP8qR0sT2uV4wX6==",
    "sha256-Ab3dEf5Gh7iJk9Lm1No3Pq5Rs7Tu9Vw1Xy3Za5Bc7De= image-sha256-Ab3dEf5Gh7iJk9Lm1No3Pq5Rs7Tu9Vw1",
    "cache-key: node-modules-Linux-x64-3f9a2b7c8d1e4f5a6b7c8d9e0f1a2b3c",
    # Identifiers: snake, kebab and camelCase words.
    "function_name_with_many_words_and_MoreWords2Here_and_more_text_9",
    "test_ParseHttpResponseWithVeryLongNameAndVersion2And3",
    "pip install torch-2.1.0+cu121-cp311-cp311-linux_x86_64.whl",
    # base64url and hex digests after a digest name (wheel RECORD files, lock files).
    "gateway_base.py,sha256=vJHSx_bccXLUxsAvnO5J_tdDpH8q0U6OPNXZ180DeNw,5908",
    "INSTALLER,sha256=zuuue4knoyJ-UwPPXg8fezS7VCrXJQrAP7zeNuwvFQg,4",
    "checksum_3f9a2b7c8d1e4f5a6b7c8d9e0f1a2b3c model_3f9a2b7c8d1e4f5a6b7c8d9e0f1a2b3c",
    "pk_live_51H8xYzAbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEfGh",  # publishable: public by design
    # Name/value pairs, setters and CLIs without a literal secret.
    "- name: DB_PASSWORD\n  valueFrom:\n    secretKeyRef:\n      name: db",
    '{"name": "session_timeout", "value": "3600"}',
    "set -x PATH $PATH /usr/local/bin",
    "redis-cli -h cache -a $REDIS_PASSWORD ping",
    "htpasswd -c /etc/nginx/.htpasswd admin\nhtpasswd -B -C 10 .htpasswd alice",
    "poetry config http-basic.internal deploy",
    'set_api_key(os.environ["API_KEY"])\nclient.set_token(token)',
    'loader.get_tokenizer_name("gemini-2.5-pro-preview-06-05")',
    'debug4("pw:adb:runCommand")(command)',
    "longopt_pat = r'[a-zA-Z](?:[a-zA-Z0-9-]*)'",
    "ignored_auth: SimpleCheckConfig",
    # base64 that is not `user:password`, a certificate, query strings of ordinary values.
    '"auth": "oauth2"\n"auth": "dXNlcm5hbWU="',
    "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUREVENDQWZXZ0F3SUJBZ0lVSnF3Z2R6VjR3WE0wR3lCUm5oc1lH",
    "https://shop.example.com/items?key=products-shoes-red-size-42&sort=asc",
    "?signature=required&sig=none",
    # A colon-delimited account id is not a card number.
    "arn:aws:iam::214649555619:role/deploy",
    "export REDIS_AUTH=true\nSet-Cookie: theme=dark; Path=/\ncurl -b cookies.txt https://example.com",
]


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_look_alikes_do_not_fire(text: str) -> None:
    assert find_sensitive(text) == []


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_backends_agree_on_new_classes(backend: str) -> None:
    scanner = Scanner(SECRET_RULES, detector="secrets", backend=backend)
    reference = Scanner(SECRET_RULES, detector="secrets", backend="re2")
    for text in [t.format(v=s) for _, t, s in ALL_POSITIVES] + LOOK_ALIKES:
        assert scanner.candidates(text) == reference.candidates(text)


def _redteam2() -> list[dict[str, object]]:
    return [json.loads(line) for line in REDTEAM2.open()]


def test_redteam2_recall_precision_and_negatives_keep_their_floors() -> None:
    """At the rules before this set, 281/700 labels were redacted (0.401); the floors sit just under
    what the generalised rules reach, so a regression in any class shows."""
    labelled = caught = matched = stray = noisy = 0
    for row in _redteam2():
        text = str(row["text"])
        gold = [(int(s["start"]), int(s["end"])) for s in row["spans"]]  # type: ignore[attr-defined]
        found = find_sensitive(text)
        noisy += not gold and bool(found)
        labelled += len(gold)
        caught += sum(any(f.start < e and s < f.end for f in found) for s, e in gold)
        for f in find_sensitive(text, SECRET_KINDS):
            overlaps = any(f.start < e and s < f.end for s, e in gold)
            matched += overlaps
            stray += not overlaps
    assert caught / labelled >= 0.99
    assert matched / (matched + stray) >= 0.99
    assert noisy == 0


def test_found_values_never_reach_the_stored_decision_record() -> None:
    """Every red-team value the detector finds is masked in what the trace store keeps."""
    policy = RedactionPolicy.build(salt="test-salt")
    checked = 0
    for row in _redteam2():
        text = str(row["text"])
        spans = [(int(s["start"]), int(s["end"])) for s in row["spans"]]  # type: ignore[attr-defined]
        found = find_sensitive(text)
        if not spans or not all(any(f.start <= s and e <= f.end for f in found) for s, e in spans):
            continue
        action = Action("run", {"output": text}, context=Context(tenant="acme"))
        decision = Decision(
            verdict=Verdict.ALLOW,
            reason="ok",
            decision_id=action.decision_id(),
            tool="run",
            args={"output": text},
            error=text,
            context=action.context,
        )
        stored = json.dumps(redact_decision_record(decision.to_record(), policy))
        for s, e in spans:
            assert json.dumps(text[s:e])[1:-1] not in stored, row["family"]
        checked += 1
    assert checked >= 650
