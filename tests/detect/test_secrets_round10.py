"""Round 10 of secret/PII coverage (red-team set 4's classes): secrets in typed source declarations,
name/value records, command arguments, base64 key containers, newer token formats, and PII found by
label and check digit. Values are generated here (seeded), never taken from the red-team set; the
look-alikes must stay unflagged."""

from __future__ import annotations

import base64
import random
import string

import pytest

from railguard.detect.pii import find_pii
from railguard.detect.redact import find_sensitive

RNG = random.Random(20261208)
ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"


def _r(alphabet: str, n: int) -> str:
    return "".join(RNG.choice(alphabet) for _ in range(n))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _blob(n: int) -> bytes:
    return bytes(RNG.randrange(256) for _ in range(n))


KEY = _r(ALNUM, 36)
HEX_KEY = _r(HEX, 40)
PASSWORD = "Tq7" + _r(ALNUM, 9) + "!x"
PKCS12 = _b64(b"\x30\x82\x02\x10\x02\x01\x03\x30\x82\x02\x09" + _blob(300))
PKCS8 = _b64(b"\x30\x82\x04\xbd\x02\x01\x00\x30\x0d\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01" + _blob(200))
SEC1 = _b64(b"\x30\x77\x02\x01\x01\x04\x20" + _blob(110))

SECRETS = [
    # typed declarations and wrapped literals, any language
    ('const API_SECRET: &str = "{v}";', KEY),
    ('    val CLIENT_SECRET: String = "{v}"', KEY),
    ('static let authToken: String = "{v}"', HEX_KEY),
    ('var signingKey string = "{v}"', KEY),
    ('let api_token = String::from("{v}");', KEY),
    ('dbPassword := []byte("{v}")', PASSWORD),
    ("@secure()\nparam vmLogin string = '{v}'", PASSWORD),
    ('String apiKey = "{p}" +\n    "{v}";'.replace("{p}", _r(ALNUM, 20)), _r(ALNUM, 24)),
    ('  "os.environ[\\"SERVICE_TOKEN\\"] = \\"{v}\\"\\n"', KEY),
    # name/value records and fixed-position formats
    ('{{"OutputKey": "ServicePassword", "OutputValue": "{v}"}}', PASSWORD),
    ('{{"name": "Authorization", "value": "Bearer {v}"}}', KEY),
    ('{{"key": "webhookSecret", "value": "{v}", "type": "secret"}}', KEY),
    ('{{"domain": ".shop.example", "name": "session_id", "path": "/", "value": "{v}"}}', KEY),
    ('{{"name": "Cookie", "value": "theme=dark; sessionid={v}; lang=en"}}', KEY),
    (".shop.example\tTRUE\t/\tTRUE\t1893456000\tremember_token\t{v}", KEY),
    ("headers=map[X-Api-Key:[{v}]]", KEY),
    ("pg.internal.example:5432:*:report:{v}", PASSWORD),
    ("Driver={{PostgreSQL}};Server=pg;Uid=report;Pwd={{{v}}};", "Ab;" + PASSWORD),
    ("secrets:\n  deploy_token: >-\n    {v}\n", KEY),
    # command arguments
    ("xh -a ops:{v} GET api.internal.example/health", PASSWORD),
    ("curl --oauth2-bearer {v} https://api.internal.example", KEY),
    ("sshpass -p {v} scp build.tgz ops@10.1.2.3:/srv", PASSWORD),
    ("openssl rsa -in k.pem -passout pass:{v} -out k2.pem", PASSWORD),
    ('gh secret set REGISTRY_TOKEN --body "{v}"', KEY),
    ("yarn config set npmAuthToken {v}", KEY),
    # key material in base64 containers, and token formats
    ("KRB5_KEYTAB={v}", _b64(b"\x05\x02\x00\x00\x00\x51" + _blob(90))),
    ("cert_bundle: {v}", PKCS12),
    ("SIGNING_KEY_DER={v}", PKCS8),
    ("ec_key: {v}", SEC1),
    ("release.keystore: {v}", _b64(bytes.fromhex("feedfeed0000000200000001") + _blob(200))),
    ("untrusted comment: rsign encrypted secret key\n{v}\n", _b64(b"EdScB2" + _blob(152))),
    ("{v}", _b64(b"== ed25519v1-secret: type0 ==\x00\x00\x00" + _blob(64))),
    (
        "export AWS_BEARER_TOKEN_BEDROCK={v}",
        "ABSK" + _b64(b"BedrockAPIKey-x1y2-at-210987654321:" + _blob(27)),
    ),
    ("oc login --token={v} --server=https://api.ocp.example:6443", "sha256~" + _r(ALNUM + "-_", 43)),
    ("GEOIP_LICENSE={v}", _r(ALNUM, 6) + "_" + _r(ALNUM, 29) + "_mmk"),
    (
        "INFISICAL_TOKEN={v}",
        f"st.{_r(HEX, 8)}-{_r(HEX, 4)}-{_r(HEX, 4)}-{_r(HEX, 4)}-{_r(HEX, 12)}.{_r(HEX, 32)}.{_r(HEX, 32)}",
    ),
    ("key_id: {v}", "rzp_live_" + _r(ALNUM, 14)),
]


@pytest.mark.parametrize(("template", "value"), SECRETS)
def test_secret_is_redacted(template: str, value: str) -> None:
    text = template.format(v=value)
    start = text.index(value)
    found = find_sensitive(text)
    assert any(f.start < start + len(value) and start < f.end for f in found), (text, found)


PII = [
    ("tax_id", "ITIN {v} on the W-7", "948-82-3278"),
    ("tax_id", "PAN card: {v}", "TFHFE1468V"),
    ("tax_id", "Tax File Number {v}", "646 924 699"),
    ("health_id", "MBI: {v}", "8HQ5HP0PM32"),
    ("health_id", "beneficiary card {v}", "5R33-R75-QA18"),
    ("health_id", "Medicare number {v}", "2842 87348 7"),
    ("health_id", "KVNR {v}", "O889943017"),
    ("driver_licence", "licence {v} expires 2031", "PATEL510024NJ9LR"),
    ("national_id", "RRN {v}", "971010-1166248"),
    ("national_id", "NIR : {v}", "2 61 03 17 924 458 41"),
    ("national_id", "マイナンバー: {v}", "6682 5434 7966"),
    ("national_id", "personnr {v}", "840708-3172"),
    ("date_of_birth", "Date of birth: {v}", "03/11/1978"),
    ("date_of_birth", "born on {v} in Lyon", "July 4, 1966"),
    ("postal_address", "Billing address: {v}\n", "42 Larch Avenue, Denver, CO 80203"),
    ("bank_account", "ABA routing number {v}", "285854990"),
    ("bank_account", "Account No. {v}", "003317790412"),
    ("email", "mail me: {v}", "li.wei [at] mailbox [dot] org"),
    ("email", "reach {v} anytime", "kofi at inbox dot net"),
    ("email", "contact: {v}", "ama (dot) owusu (at) inbox (dot) com"),
    ("date_of_birth", "Date of Birth - {v}", "12 March 1981"),
]


@pytest.mark.parametrize(("kind", "template", "value"), PII)
def test_pii_kind_is_found(kind: str, template: str, value: str) -> None:
    text = template.format(v=value)
    start = text.index(value)
    assert [(f.kind, f.start, f.end) for f in find_pii(text) if f.kind == kind] == [
        (kind, start, start + len(value))
    ]


LOOK_ALIKES = [
    # public material and ciphertext in the same containers
    "tls.crt: MIIDdzCCAl+gAwIBAgIUY3Qx" + _r(ALNUM, 80),
    "pub: MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" + _r(ALNUM, 80),
    "untrusted comment: minisign public key 5A1F0C33A8E2B914\nRWQUDPM6" + _r(ALNUM, 48),
    "spec:\n  encryptedData:\n    token: Ag" + _r(ALNUM + "+/", 400),
    # references and names, not values
    "db_password_ref: projects/shop/secrets/db-password/versions/3",
    "client_secret: vault:secret/data/shop/api#client_secret",
    'private static final String TOKEN_HEADER = "X-Auth-Token";',
    'const API_KEY: &str = env!("API_KEY");',
    "kubectl create secret generic x --from-literal=token=$(cat token.txt)",
    "gh secret set NPM_TOKEN < token.txt",
    "curl --oauth2-bearer $TOKEN https://api.example",
    # numbers and words that fail the checks
    "listening on 0.0.0.0:8080",
    "ssh-ed25519-cert-v01@openssh.com AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29t",
    "ITIN 948-93-3278 is not a valid group",
    "RRN 971010-1166249",
    "Created: 2021-07-05, born-on date of the branch: 2021-07-01",
    "routing number 285854991",
    "IP address: 10.20.30.40",
    "look at the logs dot txt file",
    "he looked at me dot dot dot",
]


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_look_alike_stays_unflagged(text: str) -> None:
    kinds = {f.kind for f in find_sensitive(text)}
    if "IP address" in text:
        kinds.discard("ip_address")  # an address, correctly; it must not be read as a postal address
    assert not kinds, (text, find_sensitive(text))
