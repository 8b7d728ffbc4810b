"""Generate the third red-team secrets set (benchmarks/data/secrets_redteam3.jsonl), seeded.

Written before reading the rules, with families the first two red-team sets do not have: more vendors'
tokens (observability, payments, messaging, AI providers, CI, feature flags, maps, search, CDN,
database services, crypto exchanges, regional clouds, SaaS OAuth and personal tokens), credentials in
config formats (TOML, INI, .properties, HCL, XML, systemd units, crontabs, Ansible vars, Helm values,
GitHub Actions `env:`, package-manager auth files), connection strings of other databases and brokers
(MQTT, Kafka JAAS, Redis ACL, LDAP bind, SMB/CIFS, FTP, database CLIs), signed URLs (Azure SAS,
CloudFront, AWS session tokens, GCS v2, Alibaba OSS), PASETO/JWE/macaroons, framework session cookies,
OTP seeds outside `otpauth://...?secret=` first, private keys in unusual wrappings (JWK, .NET XML,
one-line PEM, WireGuard in NetworkManager/networkd/UCI, crypto wallet formats with checksums), PII
variants (IBANs of other countries, national ids with their check digits, passport MRZ lines, phone
numbers in other international formats), and hard negatives (password hashes, encrypted values,
public client keys, ids that look like tokens, placeholders and references, documented examples).

Every value is synthesised from a public format description (prefix, alphabet, length, checksum);
none is a real credential or a real person's identifier. Each line:
{"text", "spans": [{"kind", "start", "end"}], "group": "positive" | "negative", "family"}.
Kinds are this set's own words (the scorer in bench_secrets matches spans, not kinds).

    .venv/bin/python -m benchmarks.data.secrets_redteam3
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import string
from collections.abc import Callable
from pathlib import Path

OUT = Path(__file__).with_name("secrets_redteam3.jsonl")
UPPER = string.ascii_uppercase
LOWER = string.ascii_lowercase
DIGITS = string.digits
ALNUM = string.ascii_letters + DIGITS
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "-_"
HEX = "0123456789abcdef"
BASE32 = UPPER + "234567"
LOWER_ALNUM = LOWER + DIGITS
UPPER_ALNUM = UPPER + DIGITS
BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

Rng = random.Random
Span = tuple[str, int, int]
Case = tuple[str, list[Span]]


def _r(rng: Rng, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _uuid(rng: Rng) -> str:
    return "-".join(_r(rng, HEX, n) for n in (8, 4, 4, 4, 12))


def _b64(data: bytes, urlsafe: bool = False, pad: bool = True) -> str:
    text = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(data).decode()
    return text if pad else text.rstrip("=")


def _bytes(rng: Rng, n: int) -> bytes:
    return bytes(rng.randrange(256) for _ in range(n))


def _fill(template: str, kind: str, *values: str) -> Case:
    """`template` holds one `{v}` per value and writes literal braces doubled, as in str.format;
    each value's span is labelled `kind`."""
    parts = template.split("{v}")
    assert len(parts) == len(values) + 1, template
    text, spans = "", []
    for part, value in zip(parts, values, strict=False):
        text += part.replace("{{", "{").replace("}}", "}")
        spans.append((kind, len(text), len(text) + len(value)))
        text += value
    return text + parts[-1].replace("{{", "{").replace("}}", "}"), spans


# ---- vendor tokens with a recognisable format ------------------------------------------------------

# Where an agent meets a bare token; no secret-like name nearby, so only the format can find it.
BARE_CONTEXTS = (
    "{v}",
    "$ ./bootstrap.sh --with {v}\nbootstrap complete",
    '{{"ok": true, "data": {{"id": 90210, "handle": "{v}", "created": "2026-04-02"}}}}',
    "2026-04-02 18:03:11,507 WARN  [worker-3] retrying upstream call with {v} (attempt 2/5)",
    "steps:\n  - run: ./publish --using {v}\n    shell: bash",
    "  File \"app/clients.py\", line 41, in build\n    return Upstream('{v}', timeout=30)\nRuntimeError: 403",
    "Copied from the dashboard: {v}",
    "ARG VALUE={v}\nRUN ./configure",
    "<value>{v}</value>",
    'upstream.init({{ handle: "{v}", retries: 3 }})',
    "| staging | {v} | rotated 2026-02-11 |",
    "> pasted into chat: {v}",
)


def _token(make: Callable[[Rng], str], kind: str = "api_token") -> Callable[[Rng], Case]:
    return lambda rng: _fill(rng.choice(BARE_CONTEXTS), kind, make(rng))


def _pick(*makers: Callable[[Rng], str]) -> Callable[[Rng], str]:
    return lambda rng: rng.choice(makers)(rng)


def _azure_devops_pat(rng: Rng) -> str:
    # The 84-character annotated key format: 52 random, a fixed signature, provider tag AZDO near the end.
    return _r(rng, ALNUM, 52) + "JQQJ99" + _r(rng, ALNUM, 18) + "AZDO" + _r(rng, ALNUM, 4)


def _twitter_bearer(rng: Rng) -> str:
    return "A" * 22 + _r(rng, ALNUM, 20) + "%2B" + _r(rng, ALNUM, 20) + "%3D" + _r(rng, ALNUM, 50)


def _intercom(rng: Rng) -> str:
    return _b64(f"tok:{_uuid(rng)}:1:0".encode())


def _teamcity(rng: Rng) -> str:
    return "eyJ0eXAiOiAiVENWMiJ9." + _r(rng, URLSAFE, 36) + "." + _r(rng, URLSAFE, 48)


def _convex(rng: Rng) -> str:
    name = f"{rng.choice(['happy', 'brave', 'quiet', 'tidy'])}-{rng.choice(['otter', 'lynx', 'heron'])}-{rng.randint(100, 999)}"
    return f"{rng.choice(['prod', 'dev'])}:{name}|" + _b64(_bytes(rng, 60), urlsafe=False, pad=False)


def _bitwarden_sm(rng: Rng) -> str:
    return f"0.{_uuid(rng)}.{_r(rng, ALNUM, 30)}:{_b64(_bytes(rng, 16))}"


def _salesforce(rng: Rng) -> str:
    return f"00D{_r(rng, ALNUM, 12)}!AQ{_r(rng, ALNUM, 4)}" + _r(rng, ALNUM + ".", 90)


def _asana(rng: Rng) -> str:
    return f"{rng.choice(['1', '2'])}/{rng.randint(10**15, 10**16)}/{rng.randint(10**15, 10**16)}:{_r(rng, HEX, 32)}"


VENDORS: dict[str, Callable[[Rng], Case]] = {
    # observability
    "axiom": _token(lambda r: f"{r.choice(['xaat', 'xapt'])}-{_uuid(r)}"),
    # payments
    "braintree": _token(lambda r: f"access_token$production${_r(r, LOWER_ALNUM, 16)}${_r(r, HEX, 32)}"),
    "paystack": _token(lambda r: f"sk_{r.choice(['live', 'test'])}_{_r(r, HEX, 40)}"),
    "mollie": _token(lambda r: f"{r.choice(['live', 'test'])}_{_r(r, ALNUM, 30)}"),
    "checkout_com": _token(
        _pick(
            lambda r: "sk_sbox_" + _r(r, "abcdefghijklmnopqrstuvwxyz234567", 27),
            lambda r: "sk_test_" + _uuid(r),
        )
    ),
    "plaid_access": _token(lambda r: f"access-{r.choice(['production', 'sandbox'])}-{_uuid(r)}"),
    # messaging and social
    "brevo": _token(lambda r: f"{r.choice(['xkeysib', 'xsmtpsib'])}-{_r(r, HEX, 64)}-{_r(r, ALNUM, 16)}"),
    "intercom": _token(_intercom),
    "twitter_bearer": _token(_twitter_bearer),
    "meta_graph": _token(lambda r: "EAA" + r.choice("BGIJ") + _r(r, ALNUM, r.randint(150, 200))),
    # AI providers
    "openrouter": _token(lambda r: "sk-or-v1-" + _r(r, HEX, 64)),
    "nvidia_nim": _token(lambda r: "nvapi-" + _r(r, URLSAFE, 64)),
    "elevenlabs": _token(lambda r: "sk_" + _r(r, HEX, 48)),
    "cerebras": _token(lambda r: "csk-" + _r(r, LOWER_ALNUM, 48)),
    "together": _token(lambda r: "tgp_v1_" + _r(r, URLSAFE, 43)),
    "anyscale": _token(lambda r: "esecret_" + _r(r, LOWER_ALNUM, 26)),
    "voyage": _token(lambda r: "pa-" + _r(r, URLSAFE, 43)),
    "tavily": _token(lambda r: r.choice(["tvly-", "tvly-dev-"]) + _r(r, ALNUM, 32)),
    "firecrawl": _token(lambda r: "fc-" + _r(r, HEX, 32)),
    "e2b": _token(lambda r: "e2b_" + _r(r, HEX, 40)),
    "fireworks": _token(lambda r: "fw_" + _r(r, ALNUM, 24)),
    "modal": _token(lambda r: "as-" + _r(r, ALNUM, 22)),
    # CI and delivery
    "circleci": _token(lambda r: f"CCIPAT_{_r(r, ALNUM, 22)}_{_r(r, HEX, 40)}"),
    "teamcity": _token(_teamcity),
    "azure_devops": _token(_azure_devops_pat),
    "harness": _token(lambda r: f"pat.{_r(r, URLSAFE, 22)}.{_r(r, HEX, 24)}.{_r(r, ALNUM, 20)}"),
    "octopus": _token(lambda r: "API-" + _r(r, UPPER_ALNUM, 26)),
    "sonarqube": _token(lambda r: r.choice(["squ_", "sqp_", "sqa_"]) + _r(r, HEX, 40)),
    "jfrog": _token(
        _pick(lambda r: "AKCp" + _r(r, ALNUM, 69), lambda r: "cmVmdGtuOjAxOj" + _r(r, ALNUM, 50))
    ),
    "nuget": _token(lambda r: "oy2" + _r(r, LOWER_ALNUM, 43)),
    "crates_io": _token(lambda r: "cio" + _r(r, ALNUM, 32)),
    # feature flags and product analytics
    "launchdarkly": _token(lambda r: f"{r.choice(['sdk', 'api'])}-{_uuid(r)}"),
    "flagsmith": _token(lambda r: "ser." + _r(r, ALNUM, 22)),
    "unleash": _token(
        lambda r: (
            f"{r.choice(['*', 'default', 'checkout'])}:{r.choice(['production', 'development'])}.{_r(r, HEX, 64)}"
        )
    ),
    "statsig": _token(lambda r: "secret-" + _r(r, ALNUM, 43)),
    "posthog_personal": _token(lambda r: "phx_" + _r(r, ALNUM, 43)),
    # maps and search
    "arcgis": _token(lambda r: "AAPK" + _r(r, ALNUM, 32) + _r(r, URLSAFE, 68)),
    "swiftype": _token(lambda r: "private-" + _r(r, LOWER_ALNUM, 24)),
    "coveo": _token(lambda r: "xx" + _uuid(r)),
    # database services
    "neon": _token(lambda r: "napi_" + _r(r, LOWER_ALNUM, 64)),
    "xata": _token(lambda r: "xau_" + _r(r, ALNUM, 32)),
    "convex": _token(_convex),
    "clickhouse": _token(lambda r: "4b1d" + _r(r, ALNUM, 38)),
    # regional clouds
    "tencent": _token(lambda r: "AKID" + _r(r, ALNUM, 32)),
    "yandex": _token(
        _pick(
            lambda r: "AQVN" + _r(r, URLSAFE, 36),
            lambda r: "YCN" + _r(r, URLSAFE, 37),
            lambda r: "t1.9euelZ" + _r(r, URLSAFE, 100) + "." + _r(r, URLSAFE, 86),
            lambda r: "y0_" + _r(r, URLSAFE, 55),
        )
    ),
    # SaaS personal and OAuth tokens
    "hubspot": _token(lambda r: f"pat-{r.choice(['na1', 'eu1'])}-{_uuid(r)}"),
    "clickup": _token(lambda r: f"pk_{r.randint(10**6, 10**8)}_{_r(r, UPPER_ALNUM, 32)}"),
    "asana": _token(_asana),
    "typeform": _token(lambda r: "tfp_" + _r(r, URLSAFE, 44) + "_" + _r(r, ALNUM, 14)),
    "salesforce": _token(_salesforce),
    "dropbox": _token(lambda r: "sl." + _r(r, URLSAFE, 138)),
    "google_refresh": _token(lambda r: "1//0" + _r(r, URLSAFE, 99)),
    "bitwarden_sm": _token(_bitwarden_sm),
}


# ---- secrets only a name or header reveals -----------------------------------------------------------


def _secret_value(rng: Rng) -> str:
    """A realistic credential without a vendor format: random key, passphrase-like or hex."""
    return rng.choice(
        [
            _r(rng, ALNUM, rng.randint(20, 40)),
            _r(rng, HEX, rng.choice([32, 40, 64])),
            _r(rng, URLSAFE, rng.randint(24, 44)),
            rng.choice(["Granite", "Saffron", "Juniper", "Osprey", "Cobalt"])
            + rng.choice(["-", "_", "."])
            + rng.choice(["river", "lantern", "quartz", "meadow"])
            + str(rng.randint(100, 9999))
            + rng.choice(["!", "%", "&", "+"]),
            _r(rng, ALNUM, rng.randint(10, 14)) + rng.choice("!%&*+=") + _r(rng, ALNUM, 4),
        ]
    )


def _header_schemes(rng: Rng) -> Case:
    return rng.choice(
        [
            lambda: _fill("Authorization: Splunk {v}", "api_token", _uuid(rng)),
            lambda: _fill("Authorization: GenieKey {v}", "api_token", _uuid(rng)),
            lambda: _fill('-H "Authorization: Token token={v}"', "api_token", _r(rng, URLSAFE, 20)),
            lambda: _fill(
                "Authorization: ApiKey {v}",
                "api_token",
                _b64(f"{_r(rng, URLSAFE, 20)}:{_r(rng, URLSAFE, 22)}".encode()),
            ),
            lambda: _fill("X-Postmark-Server-Token: {v}", "api_token", _uuid(rng)),
            lambda: _fill("Fastly-Key: {v}", "api_token", _r(rng, URLSAFE, 32)),
            lambda: _fill("api-key: {v}", "api_token", _r(rng, HEX, 32)),
            lambda: _fill("Ocp-Apim-Subscription-Key: {v}", "api_token", _r(rng, HEX, 32)),
            lambda: _fill("X-RapidAPI-Key: {v}", "api_token", _r(rng, ALNUM, 50)),
            lambda: _fill("X-TYPESENSE-API-KEY: {v}", "api_token", _r(rng, ALNUM, 32)),
            lambda: _fill("AccessKey: {v}", "api_token", _uuid(rng) + "-" + _r(rng, HEX, 4)),
            lambda: _fill("X-Auth-Token: {v}", "api_token", "gAAAAA" + _r(rng, URLSAFE, 180)),
            lambda: _fill("X-MBX-APIKEY: {v}", "api_token", _r(rng, ALNUM, 64)),
            lambda: _fill("Authorization: Token {v}", "api_token", _r(rng, HEX, 40)),
            lambda: _fill("Grpc-Metadata-macaroon: {v}", "api_token", "0201036c6e6402" + _r(rng, HEX, 400)),
        ]
    )()


def _header_in_code(rng: Rng) -> Case:
    name = rng.choice(["X-Api-Secret", "X-Access-Key", "X-Client-Secret", "X-Service-Token", "Api-Token"])
    value = _secret_value(rng)
    return _fill(
        rng.choice(
            [
                f"headers = {{{{'{name}': '{{v}}', 'Accept': 'application/json'}}}}",
                f'req.Header.Set("{name}", "{{v}}")',
                f"axios.get(url, {{{{ headers: {{{{ '{name}': '{{v}}' }}}} }}}})",
                f"{name}: {{v}}\r\nContent-Type: application/json",
            ]
        ),
        "api_token",
        value,
    )


def _named_no_format(rng: Rng) -> Case:
    """Vendor keys with no prefix: only the variable names reveal them."""
    name, value = rng.choice(
        [
            ("DEEPGRAM_API_KEY", _r(rng, HEX, 40)),
            ("ASSEMBLYAI_API_KEY", _r(rng, HEX, 32)),
            ("BINANCE_API_SECRET", _r(rng, ALNUM, 64)),
            ("KRAKEN_PRIVATE_KEY", _b64(_bytes(rng, 64))),
            ("VONAGE_API_SECRET", _r(rng, ALNUM, 16)),
            ("HCLOUD_TOKEN", _r(rng, ALNUM, 64)),
            ("VULTR_API_KEY", _r(rng, UPPER_ALNUM, 36)),
            ("LINODE_TOKEN", _r(rng, HEX, 64)),
            ("SUMO_ACCESS_KEY", _r(rng, ALNUM, 64)),
            ("SCW_SECRET_KEY", _uuid(rng)),
            ("HUAWEICLOUD_SDK_SK", _r(rng, ALNUM, 40)),
            ("EXOSCALE_API_SECRET", _r(rng, URLSAFE, 43)),
            ("PUSHER_APP_SECRET", _r(rng, HEX, 20)),
            ("MAILJET_API_SECRET", _r(rng, HEX, 32)),
            ("PLAID_SECRET", _r(rng, HEX, 30)),
            ("OKX_PASSPHRASE", _secret_value(rng)),
            ("TOMTOM_API_KEY", _r(rng, ALNUM, 32)),
            ("HERE_API_KEY", _r(rng, URLSAFE, 43)),
            ("WEBFLOW_API_TOKEN", _r(rng, HEX, 64)),
            ("TRELLO_TOKEN", _r(rng, HEX, 64)),
            ("INFLUX_TOKEN", _b64(_bytes(rng, 64))),
            ("UPSTASH_REDIS_REST_TOKEN", "A" + _r(rng, URLSAFE, 63)),
        ]
    )
    return _fill(
        rng.choice(
            [
                f"{name}={{v}}",
                f'export {name}="{{v}}"',
                f"  {name}: {{v}}",
                f'os.environ["{name}"] = "{{v}}"',
                f"fly secrets set {name}={{v}}",
                f"heroku config:set {name}={{v}} -a api-prod",
            ]
        ),
        "api_token",
        value,
    )


NAMED: dict[str, Callable[[Rng], Case]] = {
    "header_schemes": _header_schemes,
    "header_in_code": _header_in_code,
    "named_no_format": _named_no_format,
}


# ---- credentials in configuration formats ------------------------------------------------------------


def _toml(rng: Rng) -> Case:
    return rng.choice(
        [
            lambda: _fill('[registry]\ntoken = "{v}"\n', "generic_secret", "cio" + _r(rng, ALNUM, 32)),
            lambda: _fill(
                '[connections.snowflake]\naccount = "acme-eu1"\nuser = "loader"\npassword = "{v}"\nwarehouse = "LOAD_WH"\n',
                "generic_secret",
                _secret_value(rng),
            ),
            lambda: _fill(
                '[tool.poetry.http-basic.internal]\nusername = "ci"\npassword = "{v}"\n',
                "generic_secret",
                _secret_value(rng),
            ),
            lambda: _fill(
                '[auth]\nclient_id = "ingest"\nclient_secret = "{v}"\ntoken_url = "https://sso.acme.internal/token"\n',
                "generic_secret",
                _secret_value(rng),
            ),
            lambda: _fill(
                '[smtp]\nhost = "mail.acme.internal"\npass = "{v}"\n', "generic_secret", _secret_value(rng)
            ),
            lambda: _fill(
                '[[outputs.influxdb_v2]]\n  urls = ["https://influx.acme.internal:8086"]\n  token = "{v}"\n  organization = "ops"\n',
                "generic_secret",
                _b64(_bytes(rng, 64)),
            ),
        ]
    )()


def _ini(rng: Rng) -> Case:
    return rng.choice(
        [
            lambda: _fill(
                "[default]\naccess_key = SCWXXXYZ\nsecret_key = {v}\nhost_base = s3.acme.internal\n",
                "generic_secret",
                _r(rng, ALNUM + "/+", 40),
            ),
            lambda: _fill(
                "[client]\nuser=backup\npassword={v}\nhost=db.acme.internal\n",
                "generic_secret",
                _secret_value(rng),
            ),
            lambda: _fill(
                "[ovh-eu]\napplication_key={v}\napplication_secret={v}\nconsumer_key={v}\n",
                "generic_secret",
                _r(rng, ALNUM, 16),
                _r(rng, ALNUM, 32),
                _r(rng, ALNUM, 32),
            ),
            lambda: _fill(
                "[default]\nclient_secret = {v}\nhost = akab-h5ytqkqx7v2rpl2l.luna.akamaiapis.net\n"
                "access_token = {v}\nclient_token = akab-{v}\n",
                "generic_secret",
                _b64(_bytes(rng, 32)),
                f"akab-{_r(rng, LOWER_ALNUM, 16)}-{_r(rng, LOWER_ALNUM, 16)}",
                f"{_r(rng, LOWER_ALNUM, 16)}-{_r(rng, LOWER_ALNUM, 16)}",
            ),
            lambda: _fill(
                "[ODBC Data Source]\nDriver=PostgreSQL Unicode\nServername=db.acme.internal\nUsername=report\nPassword={v}\n",
                "generic_secret",
                _secret_value(rng),
            ),
            lambda: _fill(
                "[Credentials]\ngs_oauth2_refresh_token = {v}\n",
                "generic_secret",
                "1//0" + _r(rng, URLSAFE, 99),
            ),
            lambda: _fill(
                "[remote-nas]\ntype = sftp\nhost = nas.acme.internal\nuser = sync\npass = {v}\n",
                "generic_secret",
                _r(rng, URLSAFE, 44),
            ),
        ]
    )()


def _properties(rng: Rng) -> Case:
    key = rng.choice(
        [
            "signing.password",
            "ossrhPassword",
            "org.gradle.project.sonatypePassword",
            "ssl.keystore.password",
            "ssl.key.password",
            "spring.mail.password",
            "spring.rabbitmq.password",
            "hibernate.connection.password",
            "quarkus.datasource.password",
            "app.jwt.secret",
            "storePassword",
            "MYAPP_UPLOAD_KEY_PASSWORD",
            "sonar.login",
            "oauth.client.secret",
        ]
    )
    sep = rng.choice(["=", " = ", ": ", ":"])
    return _fill(
        f"# generated by setup\n{key}{sep}{{v}}\nlogging.level.root=INFO",
        "generic_secret",
        _secret_value(rng),
    )


def _hcl(rng: Rng) -> Case:
    value = _secret_value(rng)
    return rng.choice(
        [
            lambda: _fill(
                'provider "datadog" {{\n  api_key = "{v}"\n  app_key = "{v}"\n}}',
                "generic_secret",
                _r(rng, HEX, 32),
                _r(rng, HEX, 40),
            ),
            lambda: _fill(
                'variable "db_password" {{\n  type    = string\n  default = "{v}"\n}}',
                "generic_secret",
                value,
            ),
            lambda: _fill(
                'terraform {{\n  backend "s3" {{\n    bucket     = "tf-state"\n    secret_key = "{v}"\n  }}\n}}',
                "generic_secret",
                _r(rng, ALNUM + "/+", 40),
            ),
            lambda: _fill(
                'source "amazon-ebs" "base" {{\n  ssh_username = "ubuntu"\n  ssh_password = "{v}"\n}}',
                "generic_secret",
                value,
            ),
            lambda: _fill(
                'resource "grafana_api_key" "ci" {{ }}\nprovider "grafana" {{\n  auth = "{v}"\n}}',
                "generic_secret",
                value,
            ),
            lambda: _fill(
                'module "rds" {{\n  source   = "./modules/rds"\n  password = "{v}"\n}}',
                "generic_secret",
                value,
            ),
        ]
    )()


def _xml(rng: Rng) -> Case:
    value = _secret_value(rng).replace("&", "")
    return rng.choice(
        [
            lambda: _fill(
                "<servers>\n  <server>\n    <id>nexus-releases</id>\n    <username>deploy</username>\n"
                "    <password>{v}</password>\n  </server>\n</servers>",
                "generic_secret",
                value,
            ),
            lambda: _fill(
                '<packageSourceCredentials>\n  <internal>\n    <add key="Username" value="ci" />\n'
                '    <add key="ClearTextPassword" value="{v}" />\n  </internal>\n</packageSourceCredentials>',
                "generic_secret",
                value,
            ),
            lambda: _fill(
                '<appSettings>\n  <add key="PaymentApiSecret" value="{v}" />\n</appSettings>',
                "generic_secret",
                value,
            ),
            lambda: _fill(
                '<user username="manager" password="{v}" roles="manager-gui,admin-gui"/>',
                "generic_secret",
                value,
            ),
            lambda: _fill(
                "<property>\n  <name>fs.s3a.secret.key</name>\n  <value>{v}</value>\n</property>",
                "generic_secret",
                _r(rng, ALNUM + "/+", 40),
            ),
            lambda: _fill('<string name="backend_api_secret">{v}</string>', "generic_secret", value),
            lambda: _fill(
                '<bean id="ds" class="HikariDataSource">\n  <property name="password" value="{v}"/>\n</bean>',
                "generic_secret",
                value,
            ),
        ]
    )()


def _systemd(rng: Rng) -> Case:
    value = _secret_value(rng).replace("%", "")
    return _fill(
        rng.choice(
            [
                '[Service]\nUser=app\nEnvironment="API_TOKEN={v}"\nExecStart=/usr/local/bin/app',
                "[Service]\nEnvironment=NODE_ENV=production DB_PASS={v}\n",
                '[Service]\nEnvironment="LOG_LEVEL=info" "UPSTREAM_SECRET={v}"\n',
                "[Service]\nSetCredential=db-password:{v}\nExecStart=/opt/app/run",
                "[Service]\nExecStart=/usr/bin/exporter --auth.token={v} --listen :9101\n",
            ]
        ),
        "generic_secret",
        value,
    )


def _crontab(rng: Rng) -> Case:
    value = _secret_value(rng).replace("%", "")
    return _fill(
        rng.choice(
            [
                "MAILTO=ops-alerts\nBACKUP_TOKEN={v}\n0 3 * * * /opt/backup/run.sh",
                "SHELL=/bin/bash\n*/10 * * * * PGPASSWORD={v} pg_dump -h db app > /var/backups/app.sql",
                "@daily AWS_SECRET_ACCESS_KEY={v} aws s3 sync /srv/data s3://acme-archive",
                "15 2 * * 1 curl -fsS -u backup:{v} https://backup.acme.internal/trigger",
                "HEALTHCHECK_KEY={v}\n* * * * * /usr/local/bin/ping-check",
            ]
        ),
        "generic_secret",
        value,
    )


def _ansible(rng: Rng) -> Case:
    value = _secret_value(rng)
    return _fill(
        rng.choice(
            [
                "# group_vars/db.yml\nmysql_root_password: {v}\nmysql_port: 3306",
                "[web]\nweb1.acme.internal ansible_user=deploy ansible_password={v}",
                'ansible-playbook site.yml -e "admin_pass={v}"',
                '- hosts: all\n  vars:\n    ansible_ssh_pass: "{v}"\n',
                "postgresql_users:\n  - name: app\n    password: {v}\n",
                "ansible-playbook deploy.yml --extra-vars 'smtp_secret={v} env=prod'",
            ]
        ),
        "generic_secret",
        value,
    )


def _helm(rng: Rng) -> Case:
    value = _secret_value(rng)
    return _fill(
        rng.choice(
            [
                'auth:\n  rootPassword: "{v}"\n  replicaCount: 2',
                "postgresql:\n  auth:\n    postgresPassword: {v}\n    database: app",
                "helm upgrade --install redis bitnami/redis --set auth.password={v}",
                "helm install grafana grafana/grafana --set-string adminPassword='{v}'",
                "minio:\n  rootUser: admin\n  rootPassword: {v}\n",
                "smtp:\n  host: mail.acme.internal\n  user: alerts\n  password: '{v}'\n",
            ]
        ),
        "generic_secret",
        value,
    )


def _gha_env(rng: Rng) -> Case:
    value = _secret_value(rng)
    return _fill(
        rng.choice(
            [
                "jobs:\n  deploy:\n    runs-on: ubuntu-latest\n    env:\n      DEPLOY_KEY: {v}\n",
                "    services:\n      postgres:\n        image: postgres:16\n        env:\n          POSTGRES_PASSWORD: {v}\n",
                "      - uses: docker/login-action@v3\n        with:\n          username: ci\n          password: {v}\n",
                'env:\n  SENTRY_AUTH: "{v}"\n  NODE_VERSION: 20\n',
            ]
        ),
        "generic_secret",
        value,
    )


def _compose(rng: Rng) -> Case:
    value = _secret_value(rng).replace("$", "")
    return _fill(
        rng.choice(
            [
                "services:\n  db:\n    image: mariadb:11\n    environment:\n      - MARIADB_ROOT_PASSWORD={v}\n",
                "services:\n  cache:\n    image: redis:7\n    command: redis-server --requirepass {v}\n",
                "  keycloak:\n    environment:\n      KC_BOOTSTRAP_ADMIN_PASSWORD: {v}\n",
            ]
        ),
        "generic_secret",
        value,
    )


def _php(rng: Rng) -> Case:
    value = _secret_value(rng).replace("'", "")
    return rng.choice(
        [
            lambda: _fill("define( 'DB_PASSWORD', '{v}' );", "generic_secret", value),
            lambda: _fill(
                "define( 'AUTH_KEY', '{v}' );",
                "generic_secret",
                _r(rng, ALNUM + "!@#%^*()-_=+[]{}<>~:;,.|", 64),
            ),
            lambda: _fill("$config['encryption_key'] = '{v}';", "generic_secret", _r(rng, HEX, 32)),
            lambda: _fill("'secret' => env('PAYMENT_SECRET', '{v}'),", "generic_secret", value),
        ]
    )()


def _pkg_auth(rng: Rng) -> Case:
    return rng.choice(
        [
            lambda: _fill(
                '{{\n  "http-basic": {{\n    "repo.packagist.com": {{\n      "username": "token",\n      "password": "{v}"\n    }}\n  }}\n}}',
                "generic_secret",
                _r(rng, HEX, 40),
            ),
            lambda: _fill('{{"github-oauth": {{"github.com": "{v}"}}}}', "generic_secret", _r(rng, HEX, 40)),
            lambda: _fill(
                "dotnet nuget push pkg.nupkg -k {v} -s https://api.nuget.org/v3/index.json",
                "generic_secret",
                "oy2" + _r(rng, LOWER_ALNUM, 43),
            ),
            lambda: _fill(
                "BUNDLE_GEMS__CONTRIBSYS__COM={v}", "generic_secret", f"{_r(rng, HEX, 8)}:{_r(rng, HEX, 8)}"
            ),
            lambda: _fill(
                "bundle config set --global gems.contribsys.com {v}",
                "generic_secret",
                f"{_r(rng, HEX, 8)}:{_r(rng, HEX, 8)}",
            ),
            lambda: _fill("DENO_AUTH_TOKENS={v}@deno.acme.internal", "generic_secret", _r(rng, ALNUM, 32)),
            lambda: _fill("mix hex.organization auth acme --key {v}", "generic_secret", _r(rng, HEX, 32)),
            lambda: _fill(
                "helm repo add internal https://charts.acme.internal --username ci --password {v}",
                "generic_secret",
                _secret_value(rng),
            ),
            lambda: _fill(
                "CONAN_PASSWORD={v} conan upload '*' -r internal", "generic_secret", _secret_value(rng)
            ),
        ]
    )()


CONFIGS: dict[str, Callable[[Rng], Case]] = {
    "toml_config": _toml,
    "ini_config": _ini,
    "properties_config": _properties,
    "hcl_config": _hcl,
    "xml_config": _xml,
    "systemd_unit": _systemd,
    "crontab": _crontab,
    "ansible_vars": _ansible,
    "helm_values": _helm,
    "gha_env": _gha_env,
    "compose_env": _compose,
    "php_config": _php,
    "pkg_auth": _pkg_auth,
}


# ---- connection strings and command lines of other services -------------------------------------


def _password(rng: Rng) -> str:
    """A password safe inside URLs and option lists (no @ : / , ; % # ? quotes)."""
    return rng.choice(
        [
            _r(rng, ALNUM, rng.randint(12, 24)),
            rng.choice(["Harbor", "Pebble", "Falcon", "Ember"])
            + str(rng.randint(10, 9999))
            + rng.choice(["!", "*", "-", "_"]),
            _r(rng, ALNUM, 8) + rng.choice("!*-_.~") + _r(rng, ALNUM, 6),
        ]
    )


def _mqtt(rng: Rng) -> Case:
    return _fill(
        rng.choice(
            [
                "MQTT_URL=mqtts://sensor-gw:{v}@broker.acme.internal:8883",
                "mosquitto_pub -h broker.acme.internal -p 8883 -u telemetry -P {v} -t site/1/temp -m 21.5",
                "mosquitto_sub -h mq.acme.internal -u ops -P '{v}' -t '#' -v",
                "client = mqtt.connect('wss://dash:{v}@mqtt.acme.internal:8084/mqtt')",
                "listener 1883\npassword_file /etc/mosquitto/passwd\n# bridge\nremote_username bridge\nremote_password {v}",
            ]
        ),
        "connection_string",
        _password(rng),
    )


def _kafka(rng: Rng) -> Case:
    return rng.choice(
        [
            lambda: _fill(
                "sasl.mechanism=PLAIN\nsasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule "
                'required username="' + _r(rng, UPPER_ALNUM, 16) + '" password="{v}";',
                "connection_string",
                _r(rng, ALNUM + "/+", 64),
            ),
            lambda: _fill(
                "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
                'username="ingest" password="{v}";',
                "connection_string",
                _password(rng),
            ),
            lambda: _fill(
                "kcat -b kafka.acme.internal:9093 -X security.protocol=SASL_SSL -X sasl.mechanisms=SCRAM-SHA-512 "
                "-X sasl.username=etl -X sasl.password={v} -L",
                "connection_string",
                _password(rng),
            ),
            lambda: _fill(
                "const kafka = new Kafka({{ brokers: ['kafka:9092'], sasl: {{ mechanism: 'plain', username: 'svc', password: '{v}' }} }})",
                "connection_string",
                _password(rng),
            ),
            lambda: _fill(
                "KafkaClient {{\n  org.apache.kafka.common.security.plain.PlainLoginModule required\n"
                '  username="connect"\n  password="{v}";\n}};',
                "connection_string",
                _password(rng),
            ),
        ]
    )()


def _redis_acl(rng: Rng) -> Case:
    return _fill(
        rng.choice(
            [
                "REDIS_URL=rediss://default:{v}@cache-eu.acme.internal:6380/1",
                "redis-cli --user worker --pass {v} -h cache.acme.internal",
                "127.0.0.1:6379> AUTH worker {v}\nOK",
                "ACL SETUSER worker on >{v} ~jobs:* +@list +@connection",
                "user reporting on >{v} ~report:* +get",
                "redis-cli -u redis://alice:{v}@cache.acme.internal:6379/0 ping",
            ]
        ),
        "connection_string",
        _password(rng),
    )


def _ldap(rng: Rng) -> Case:
    return _fill(
        rng.choice(
            [
                'ldapsearch -x -H ldaps://ldap.acme.internal -D "cn=admin,dc=acme,dc=internal" -w {v} -b "ou=people,dc=acme,dc=internal"',
                "ldap_default_bind_dn = cn=sssd,ou=svc,dc=acme,dc=internal\nldap_default_authtok = {v}",
                "binddn cn=nslcd,dc=acme,dc=internal\nbindpw {v}",
                "  bindDN: uid=dex,ou=svc,dc=acme,dc=internal\n  bindPW: {v}\n",
                "conn.simple_bind_s('cn=reader,dc=acme,dc=internal', '{v}')",
                "LDAP_BIND_DN=cn=gitlab,ou=svc,dc=acme,dc=internal\nLDAP_BIND_PASSWORD={v}",
            ]
        ),
        "connection_string",
        _password(rng),
    )


def _smb(rng: Rng) -> Case:
    return _fill(
        rng.choice(
            [
                "mount -t cifs //files.acme.internal/finance /mnt/finance -o username=jdoe,password={v},domain=ACME",
                "//nas.acme.internal/media /srv/media cifs username=media,password={v},uid=1000 0 0",
                "smbclient //files.acme.internal/share -U 'ACME\\jdoe%{v}' -c 'ls'",
                "net use Z: \\\\files.acme.internal\\share {v} /user:ACME\\jdoe",
                "username=backup\npassword={v}\ndomain=ACME",
                "smb://scanner:{v}@files.acme.internal/scans",
            ]
        ),
        "connection_string",
        _password(rng),
    )


def _ftp(rng: Rng) -> Case:
    value = _password(rng)
    return rng.choice(
        [
            lambda: _fill(
                "wget ftp://mirror:{v}@ftp.acme.internal/pub/data.tar.gz", "connection_string", value
            ),
            lambda: _fill("lftp -u uploader,{v} sftp://files.acme.internal", "connection_string", value),
            lambda: _fill(
                "ncftpput -u web -p {v} ftp.acme.internal /htdocs index.html", "connection_string", value
            ),
            lambda: _fill(
                "FTP_URL=ftps://reports:{v}@ftp.acme.internal:990/outbox", "connection_string", value
            ),
            lambda: _fill(
                '<Server>\n  <Host>ftp.acme.internal</Host>\n  <User>web</User>\n  <Pass encoding="base64">{v}</Pass>\n</Server>',
                "connection_string",
                _b64(value.encode()),
            ),
        ]
    )()


def _db_cli(rng: Rng) -> Case:
    return _fill(
        rng.choice(
            [
                "cqlsh cassandra.acme.internal -u app -p {v}",
                "sqlplus scott/{v}@//db.acme.internal:1521/ORCL",
                "sqlcmd -S sql.acme.internal -U sa -P '{v}' -Q 'SELECT 1'",
                "clickhouse-client --host ch.acme.internal --user default --password {v}",
                "influx -host influx.acme.internal -username admin -password {v}",
                "mongosh 'mongodb+srv://cluster0.ab1cd.mongodb.net/app' --username app --password {v}",
                "NEO4J_URI=neo4j+s://neo4j:{v}@a1b2c3d4.databases.neo4j.io",
                "engine = create_engine('mssql+pyodbc://report:{v}@dsn_reporting')",
                "TRINO_URL=trino://analyst:{v}@trino.acme.internal:443/hive",
                "snowflake://loader:{v}@acme-eu1/analytics/public?warehouse=LOAD_WH",
                "ipmitool -I lanplus -H bmc-04.acme.internal -U admin -P {v} chassis power status",
                "rabbitmqctl add_user billing {v}",
            ]
        ),
        "connection_string",
        _password(rng),
    )


def _network_psk(rng: Rng) -> Case:
    value = _password(rng)
    return _fill(
        rng.choice(
            [
                'network={{\n    ssid="acme-corp"\n    psk="{v}"\n}}',
                "interface=wlan0\nssid=acme-iot\nwpa=2\nwpa_passphrase={v}",
                "nmcli dev wifi connect acme-guest password {v}",
                '%any %any : PSK "{v}"',
                "snmpwalk -v2c -c {v} switch-01.acme.internal system",
                "snmp-server community {v} RO",
                "username admin privilege 15 password 0 {v}",
                "tacacs-server key {v}",
                "Key Content            : {v}",
            ]
        ),
        "generic_secret",
        value,
    )


CONNECTIONS: dict[str, Callable[[Rng], Case]] = {
    "mqtt": _mqtt,
    "kafka_sasl": _kafka,
    "redis_acl": _redis_acl,
    "ldap_bind": _ldap,
    "smb_cifs": _smb,
    "ftp": _ftp,
    "db_cli": _db_cli,
    "network_psk": _network_psk,
}


# ---- signed URLs, bearer token formats, cookies, OTP seeds ------------------------------------------


def _pct(text: str) -> str:
    return text.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")


def _azure_sas(rng: Rng) -> Case:
    sig = _pct(_b64(_bytes(rng, 32)))
    query = (
        "sv=2022-11-02&ss=bfqt&srt=sco&sp=rwdlacupiytfx&se=2026-05-01T00:00:00Z&st=2026-04-01T00:00:00Z"
        "&spr=https&sig="
    )
    return rng.choice(
        [
            lambda: _fill(
                "https://acmeprod.blob.core.windows.net/exports/q1.csv?" + query + "{v}", "signed_url", sig
            ),
            lambda: _fill(
                "BlobEndpoint=https://acmeprod.blob.core.windows.net/;SharedAccessSignature=" + query + "{v}",
                "signed_url",
                sig,
            ),
            lambda: _fill(
                "azcopy copy ./dist 'https://acmecdn.blob.core.windows.net/$web?sp=racwl&se=2026-05-01&sig={v}' --recursive",
                "signed_url",
                sig,
            ),
            lambda: _fill(
                "Authorization: SharedAccessSignature sr=acme-bus.servicebus.windows.net&sig={v}&se=1777777777&skn=RootManageSharedAccessKey",
                "signed_url",
                sig,
            ),
        ]
    )()


def _cloudfront(rng: Rng) -> Case:
    sig = _r(rng, ALNUM, 120).replace("a", "~") + _r(rng, URLSAFE, 52)
    pair = "K" + _r(rng, UPPER_ALNUM, 13)
    return rng.choice(
        [
            lambda: _fill(
                f"https://d111111abcdef8.cloudfront.net/video/intro.mp4?Expires=1777777777&Signature={{v}}&Key-Pair-Id={pair}",
                "signed_url",
                sig,
            ),
            lambda: _fill(
                f"Set-Cookie: CloudFront-Signature={{v}}; Domain=media.acme.example; Path=/; Secure\nSet-Cookie: CloudFront-Key-Pair-Id={pair}",
                "signed_url",
                sig,
            ),
        ]
    )()


def _aws_session_url(rng: Rng) -> Case:
    token = "IQoJb3JpZ2luX2VjE" + _r(rng, B64, 300)
    sig = _r(rng, HEX, 64)
    return _fill(
        "https://acme-uploads.s3.amazonaws.com/in/report.pdf?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=ASIA" + _r(rng, BASE32, 16) + "%2F20260402%2Fus-east-1%2Fs3%2Faws4_request"
        "&X-Amz-Date=20260402T101500Z&X-Amz-Expires=900&X-Amz-Security-Token={v}"
        "&X-Amz-SignedHeaders=host&X-Amz-Signature={v}",
        "signed_url",
        _pct(token),
        sig,
    )


def _gcs_v2(rng: Rng) -> Case:
    sig = _pct(_b64(_bytes(rng, 256)))
    return _fill(
        "https://storage.googleapis.com/acme-exports/2026/04/users.parquet?GoogleAccessId=exporter%40acme-prod"
        ".iam.gserviceaccount.com&Expires=1777777777&Signature={v}",
        "signed_url",
        sig,
    )


def _oss_signed(rng: Rng) -> Case:
    return _fill(
        "https://acme-assets.oss-cn-hangzhou.aliyuncs.com/pkg/app.apk?OSSAccessKeyId=LTAI"
        + _r(rng, ALNUM, 20)
        + "&Expires=1777777777&Signature={v}",
        "signed_url",
        _pct(_b64(_bytes(rng, 20))),
    )


SIGNED: dict[str, Callable[[Rng], Case]] = {
    "azure_sas": _azure_sas,
    "cloudfront_signed": _cloudfront,
    "aws_session_url": _aws_session_url,
    "gcs_v2_signed": _gcs_v2,
    "oss_signed": _oss_signed,
}


def _paseto(rng: Rng) -> str:
    version, purpose = rng.choice([("v4", "local"), ("v4", "public"), ("v3", "local"), ("v2", "public")])
    token = f"{version}.{purpose}.{_b64(_bytes(rng, rng.randint(90, 160)), urlsafe=True, pad=False)}"
    if rng.random() < 0.3:
        token += "." + _b64(json.dumps({"kid": _r(rng, HEX, 12)}).encode(), urlsafe=True, pad=False)
    return token


def _jwe(rng: Rng) -> str:
    header = rng.choice(
        [
            {"alg": "RSA-OAEP-256", "enc": "A256GCM"},
            {"alg": "dir", "enc": "A128CBC-HS256"},
            {"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "kid": _r(rng, HEX, 8)},
        ]
    )
    enc_key = (
        ""
        if header["alg"] == "dir"
        else _b64(_bytes(rng, 256 if "RSA" in header["alg"] else 40), True, False)
    )
    parts = [
        _b64(json.dumps(header, separators=(",", ":")).encode(), True, False),
        enc_key,
        _b64(_bytes(rng, 12), True, False),
        _b64(_bytes(rng, rng.randint(120, 300)), True, False),
        _b64(_bytes(rng, 16), True, False),
    ]
    return ".".join(parts)


def _macaroon(rng: Rng) -> str:
    return rng.choice(
        [
            lambda: "0201036c6e6402" + _r(rng, HEX, rng.randint(200, 480)),
            lambda: "MDAxY2xvY2F0aW9u" + _r(rng, B64, 200),
            lambda: _b64(bytes.fromhex("0201036c6e6402") + _bytes(rng, 150), urlsafe=True, pad=False),
        ]
    )()


TOKEN_FORMATS: dict[str, Callable[[Rng], Case]] = {
    "paseto": _token(_paseto, "bearer_token"),
    "jwe": _token(_jwe, "bearer_token"),
    "macaroon": _token(_macaroon, "bearer_token"),
}


def _jwt(rng: Rng) -> str:
    def part(obj: dict[str, object]) -> str:
        return _b64(json.dumps(obj).encode(), urlsafe=True, pad=False)

    claims = {"sub": _uuid(rng), "aud": "api", "exp": rng.randint(1_770_000_000, 1_800_000_000)}
    return f"{part({'alg': 'ES256', 'typ': 'JWT'})}.{part(claims)}.{_b64(_bytes(rng, 64), True, False)}"


def _jwt_placement(rng: Rng) -> Case:
    token = _jwt(rng)
    return _fill(
        rng.choice(
            [
                "Location: https://app.acme.example/callback#access_token={v}&token_type=Bearer&expires_in=3600",
                "id_token={v}&state=af0ifjsldkj",
                "Cookie: CF_Authorization={v}",
                "$ cat /var/run/secrets/kubernetes.io/serviceaccount/token\n{v}",
                "grpcurl -rpc-header 'authorization: {v}' api.acme.internal:443 list",
                "wscat -c 'wss://stream.acme.example/ws?jwt={v}'",
            ]
        ),
        "bearer_token",
        token,
    )


def _rails_cookie(rng: Rng) -> str:
    return f"{_b64(_bytes(rng, 90))}--{_b64(_bytes(rng, 12))}--{_b64(_bytes(rng, 16))}".replace("=", "%3D")


def _iron(rng: Rng) -> str:
    return (
        f"Fe26.2**{_r(rng, HEX, 64)}*{_r(rng, URLSAFE, 22)}*{_r(rng, URLSAFE, 120)}**"
        f"{_r(rng, HEX, 64)}*{_r(rng, URLSAFE, 43)}"
    )


def _cookie_frameworks(rng: Rng) -> Case:
    name, value = rng.choice(
        [
            ("_storefront_session", _rails_cookie(rng)),
            (
                "session",
                f"eyJ1c2VyX2lkIjo{_r(rng, URLSAFE, 12)}.{_r(rng, URLSAFE, 6)}.{_r(rng, URLSAFE, 27)}",
            ),
            (".AspNetCore.Identity.Application", "CfDJ8" + _r(rng, URLSAFE, 300)),
            ("ASP.NET_SessionId", _r(rng, LOWER_ALNUM, 24)),
            (".ASPXAUTH", _r(rng, HEX.upper(), 320)),
            ("PHPSESSID", _r(rng, LOWER_ALNUM, 26)),
            (
                f"wordpress_logged_in_{_r(rng, HEX, 32)}",
                f"editor%7C1777777777%7C{_r(rng, ALNUM, 43)}%7C{_r(rng, HEX, 64)}",
            ),
            ("sid", _iron(rng)),
            ("_oauth2_proxy", _b64(_bytes(rng, 120), True) + "|1777777777|" + _b64(_bytes(rng, 32), True)),
            ("grafana_session", _r(rng, HEX, 32)),
            ("remember_user_token", _b64(_bytes(rng, 60)) + "--" + _r(rng, HEX, 40)),
        ]
    )
    return _fill(
        rng.choice(
            [
                f"Cookie: theme=dark; {name}={{v}}; lang=en",
                f"Set-Cookie: {name}={{v}}; path=/; secure; HttpOnly",
                f"curl --cookie '{name}={{v}}' https://shop.acme.example/account",
                f'document.cookie = "{name}={{v}}"',
            ]
        ),
        "session_token",
        value,
    )


def _jupyter(rng: Rng) -> Case:
    token = _r(rng, HEX, 48)
    return _fill(
        rng.choice(
            [
                "    To access the server, open this file in a browser:\n        file:///home/me/.local/share/jupyter/runtime/jpserver-1.html\n"
                "    Or copy and paste one of these URLs:\n        http://127.0.0.1:8888/lab?token={v}",
                "JUPYTER_TOKEN={v} jupyter lab --no-browser",
                "[I 2026-04-02 10:00:00.000 ServerApp] http://localhost:8888/tree?token={v}",
            ]
        ),
        "session_token",
        token,
    )


def _otp_variants(rng: Rng) -> Case:
    secret = _r(rng, BASE32, rng.choice([16, 26, 32]))
    return rng.choice(
        [
            lambda: _fill(
                "otpauth://totp/ACME:jdoe?issuer=ACME&algorithm=SHA1&digits=6&period=30&secret={v}",
                "otp_secret",
                secret,
            ),
            lambda: _fill("otpauth://hotp/VPN:ops?counter=0&secret={v}&issuer=VPN", "otp_secret", secret),
            lambda: _fill(
                "otpauth-migration://offline?data={v}",
                "otp_secret",
                _pct(_b64(b"\n" + bytes([34, 10, 20]) + _bytes(rng, 20) + b"\x12\x04acme\x1a\x04ACME")),
            ),
            lambda: _fill("oathtool --totp -b {v}", "otp_secret", secret),
            lambda: _fill(
                '{v}\n" RATE_LIMIT 3 30 1777777777\n" WINDOW_SIZE 17\n" TOTP_AUTH\n',
                "otp_secret",
                _r(rng, BASE32, 26),
            ),
            lambda: _fill(
                '{{"account_name": "acme", "shared_secret": "{v}", "revocation_code": "R12345"}}',
                "otp_secret",
                _b64(_bytes(rng, 20)),
            ),
            lambda: _fill("totp = pyotp.TOTP('{v}')", "otp_secret", secret),
        ]
    )()


def _recovery_codes(rng: Rng) -> Case:
    codes = [f"{_r(rng, HEX, 5)}-{_r(rng, HEX, 5)}" for _ in range(4)]
    style = rng.randrange(3)
    if style == 0:
        return _fill("Your recovery codes (keep them safe):\n{v}\n{v}\n{v}\n{v}\n", "recovery_code", *codes)
    if style == 1:
        digits = [f"{rng.randint(1000, 9999)} {rng.randint(1000, 9999)}" for _ in range(3)]
        return _fill("BACKUP VERIFICATION CODES\n1. {v}\n2. {v}\n3. {v}\n", "recovery_code", *digits)
    return _fill('recovery_codes: ["{v}", "{v}"]', "recovery_code", *codes[:2])


SESSIONS: dict[str, Callable[[Rng], Case]] = {
    "jwt_placement": _jwt_placement,
    "cookie_frameworks": _cookie_frameworks,
    "jupyter_token": _jupyter,
    "otp_variants": _otp_variants,
    "recovery_codes": _recovery_codes,
}


# ---- private keys in unusual wrappings ------------------------------------------------------------------


def _b64url_int(rng: Rng, n: int) -> str:
    return _b64(_bytes(rng, n), urlsafe=True, pad=False)


def _jwk_private(rng: Rng) -> Case:
    kind = rng.randrange(4)
    if kind == 0:
        key = {
            "kty": "RSA",
            "n": _b64url_int(rng, 256),
            "e": "AQAB",
            "d": "{v}",
            "p": _b64url_int(rng, 128),
            "q": _b64url_int(rng, 128),
            "dp": _b64url_int(rng, 128),
            "dq": _b64url_int(rng, 128),
            "qi": _b64url_int(rng, 128),
        }
        d = _b64url_int(rng, 256)
    elif kind == 1:
        key = {"kty": "EC", "crv": "P-256", "x": _b64url_int(rng, 32), "y": _b64url_int(rng, 32), "d": "{v}"}
        d = _b64url_int(rng, 32)
    elif kind == 2:
        key = {"kty": "OKP", "crv": "Ed25519", "x": _b64url_int(rng, 32), "d": "{v}", "kid": _r(rng, HEX, 8)}
        d = _b64url_int(rng, 32)
    else:
        key = {"kty": "oct", "k": "{v}", "alg": "HS256", "kid": "hmac-1"}
        d = _b64url_int(rng, 32)
    body = json.dumps({"keys": [key]} if rng.random() < 0.5 else key, indent=rng.choice([None, 2]))
    return _fill(body.replace("{", "{{").replace("}", "}}").replace("{{v}}", "{v}"), "private_key", d)


def _pem_lines(rng: Rng, n: int) -> list[str]:
    return ["MII" + _r(rng, B64, 61)] + [_r(rng, B64, 64) for _ in range(n)] + [_r(rng, B64, 20) + "=="]


def _key_wrappings(rng: Rng) -> Case:
    label = rng.choice(
        [
            "RSA PRIVATE KEY",
            "PRIVATE KEY",
            "EC PRIVATE KEY",
            "OPENSSH PRIVATE KEY",
            "ENCRYPTED PRIVATE KEY",
            "DSA PRIVATE KEY",
        ]
    )
    begin, end = f"-----BEGIN {label}-----", f"-----END {label}-----"
    lines = _pem_lines(rng, rng.randint(3, 8))
    style = rng.randrange(6)
    if style == 0:  # one line, no separators at all (pasted into an XML field)
        return _fill("<PrivateKey>{v}</PrivateKey>", "private_key", begin + "".join(lines) + end)
    if style == 1:  # one line, spaces for newlines
        return _fill('TLS_KEY="{v}"', "private_key", " ".join([begin, *lines, end]))
    if style == 2:  # CRLF
        return _fill("{v}\r\n", "private_key", "\r\n".join([begin, *lines, end]))
    if style == 3:  # Terraform heredoc
        return _fill(
            "  private_key = <<-EOT\n    {v}\n  EOT", "private_key", "\n    ".join([begin, *lines, end])
        )
    if style == 4:  # Java string concatenation
        body = '\\n" +\n    "'.join([begin, *lines, end])
        return _fill('String key = "{v}\\n";', "private_key", body)
    # markdown quote
    return _fill(
        "> {v}\n\nThat's the key from the old server.", "private_key", "\n> ".join([begin, *lines, end])
    )


def _dotnet_rsa(rng: Rng) -> Case:
    fields = {
        "Modulus": _b64(_bytes(rng, 256)),
        "Exponent": "AQAB",
        "P": _b64(_bytes(rng, 128)),
        "Q": _b64(_bytes(rng, 128)),
        "DP": _b64(_bytes(rng, 128)),
        "DQ": _b64(_bytes(rng, 128)),
        "InverseQ": _b64(_bytes(rng, 128)),
    }
    head = "<RSAKeyValue>" + "".join(f"<{k}>{v}</{k}>" for k, v in fields.items()) + "<D>"
    return _fill(head.replace("{", "{{") + "{v}</D></RSAKeyValue>", "private_key", _b64(_bytes(rng, 256)))


def _pgp_unusual(rng: Rng) -> Case:
    body = (
        ["lQdGBG" + _r(rng, B64, 58)]
        + [_r(rng, B64, 64) for _ in range(rng.randint(6, 12))]
        + ["=" + _r(rng, B64, 4)]
    )
    armored = "\n".join(
        [
            "-----BEGIN PGP PRIVATE KEY BLOCK-----",
            "Comment: exported for CI",
            "",
            *body,
            "-----END PGP PRIVATE KEY BLOCK-----",
        ]
    )
    style = rng.randrange(3)
    if style == 0:
        return _fill(
            '{{"name": "GPG_SIGNING_KEY", "value": "{v}"}}', "private_key", armored.replace("\n", "\\n")
        )
    if style == 1:  # gpg --export-secret-keys | base64 -w0 (binary secret-key packet)
        return _fill("GPG_KEY_B64={v}", "private_key", "lQ" + rng.choice("cdHI") + "G" + _r(rng, B64, 600))
    return _fill("  signing_key: |\n    {v}\n", "private_key", armored.replace("\n", "\n    "))


def _wireguard_unusual(rng: Rng) -> Case:
    key = _b64(_bytes(rng, 32))
    return _fill(
        rng.choice(
            [
                "[wireguard]\nprivate-key={v}\nlisten-port=51820\n",  # NetworkManager .nmconnection
                "[WireGuard]\nPrivateKey={v}\nListenPort=51820\n",  # systemd-networkd .netdev
                "config interface 'wg0'\n\toption proto 'wireguard'\n\toption private_key '{v}'\n",  # OpenWrt UCI
                '/interface wireguard add listen-port=13231 name=wg1 private-key="{v}"',  # RouterOS
                'networking.wireguard.interfaces.wg0 = {{\n  ips = [ "10.9.0.2/24" ];\n  privateKey = "{v}";\n}};',
                "wg set wg0 private-key <(echo {v})",
                "[WireGuardPeer]\nPublicKey=" + _b64(_bytes(rng, 32)) + "\nPresharedKey={v}\n",
                "<wireguard><tunnel><privatekey>{v}</privatekey></tunnel></wireguard>",
            ]
        ),
        "private_key",
        key,
    )


def _age_pq(rng: Rng) -> Case:
    key = "AGE-SECRET-KEY-PQ-1" + _r(rng, BECH32.upper(), 58)
    return _fill(
        rng.choice(
            [
                "# created: 2026-04-02T10:00:00Z\n# public key: age1pq1" + _r(rng, BECH32, 80) + "\n{v}\n",
                "SOPS_AGE_KEY={v}",
                "{v}",
            ]
        ),
        "private_key",
        key,
    )


# Base58Check and bech32 encodings, so the wallet keys carry valid checksums.


def _base58check(payload: bytes) -> str:
    data = payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    number, out = int.from_bytes(data, "big"), ""
    while number:
        number, rem = divmod(number, 58)
        out = BASE58[rem] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def _bech32_polymod(values: list[int]) -> int:
    generators = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            chk ^= generators[i] if (top >> i) & 1 else 0
    return chk


def _bech32(hrp: str, data: bytes) -> str:
    bits, acc, five = 0, 0, []
    for byte in data:
        acc, bits = acc << 8 | byte, bits + 8
        while bits >= 5:
            bits -= 5
            five.append(acc >> bits & 31)
    if bits:
        five.append(acc << (5 - bits) & 31)
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    polymod = _bech32_polymod(expanded + five + [0] * 6) ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(BECH32[d] for d in five + checksum)


def _xkey(rng: Rng, version: bytes, private: bool) -> str:
    key = b"\0" + _bytes(rng, 32) if private else bytes([rng.choice([2, 3])]) + _bytes(rng, 32)
    return _base58check(
        version + bytes([rng.randint(0, 4)]) + _bytes(rng, 4) + _bytes(rng, 4) + _bytes(rng, 32) + key
    )


def _wallet_formats(rng: Rng) -> Case:
    kind = rng.randrange(4)
    if kind == 0:  # WIF, compressed or not
        value = _base58check(b"\x80" + _bytes(rng, 32) + (b"\x01" if rng.random() < 0.7 else b""))
    elif kind == 1:
        value = _xkey(rng, bytes.fromhex("0488ADE4"), private=True)  # xprv
    elif kind == 2:
        value = _bech32("nsec", _bytes(rng, 32))
    else:
        value = json.dumps(list(_bytes(rng, 64)), separators=(",", ":"))  # Solana keypair file
    return _fill(
        rng.choice(
            [
                "{v}",
                "$ cat ~/.config/solana/id.json\n{v}" if kind == 3 else 'importprivkey {v} "cold" false',
                '{{"label": "treasury", "key": "{v}"}}' if kind != 3 else '{{"keypair": {v}}}',
                "wallet backup: {v}",
            ]
        ),
        "private_key",
        value,
    )


def _exchange_json(rng: Rng) -> Case:
    pem = (
        "\\n".join(
            [
                "-----BEGIN EC PRIVATE KEY-----",
                *(_r(rng, B64, 64) for _ in range(2)),
                _r(rng, B64, 20) + "==",
                "-----END EC PRIVATE KEY-----",
            ]
        )
        + "\\n"
    )
    return rng.choice(
        [
            lambda: _fill(
                f'{{{{\n  "name": "organizations/{_uuid(rng)}/apiKeys/{_uuid(rng)}",\n  "privateKey": "{{v}}"\n}}}}',
                "private_key",
                pem,
            ),
            lambda: _fill(
                "exchange = ccxt.binance({{'apiKey': '{v}', 'secret': '{v}'}})",
                "api_token",
                _r(rng, ALNUM, 64),
                _r(rng, ALNUM, 64),
            ),
            lambda: _fill(
                "okx = ccxt.okx({{'apiKey': '{v}', 'secret': '{v}', 'password': '{v}'}})",
                "api_token",
                _uuid(rng),
                _r(rng, HEX.upper(), 32),
                _password(rng),
            ),
        ]
    )()


KEYS: dict[str, Callable[[Rng], Case]] = {
    "jwk_private": _jwk_private,
    "key_wrappings": _key_wrappings,
    "dotnet_rsa_xml": _dotnet_rsa,
    "pgp_unusual": _pgp_unusual,
    "wireguard_unusual": _wireguard_unusual,
    "age_pq": _age_pq,
    "wallet_formats": _wallet_formats,
    "exchange_keys": _exchange_json,
}


# ---- PII variants ---------------------------------------------------------------------------------------

# Countries the first red-team set does not use; BBAN shape as (kind, length) runs: n digits, a upper, c alnum.
IBAN_BBAN: dict[str, list[tuple[str, int]]] = {
    "DK": [("n", 14)],
    "FI": [("n", 14)],
    "LU": [("n", 3), ("c", 13)],
    "CZ": [("n", 20)],
    "SK": [("n", 20)],
    "HU": [("n", 24)],
    "RO": [("a", 4), ("c", 16)],
    "GR": [("n", 7), ("c", 16)],
    "HR": [("n", 17)],
    "SI": [("n", 15)],
    "LT": [("n", 16)],
    "LV": [("a", 4), ("c", 13)],
    "EE": [("n", 16)],
    "BG": [("a", 4), ("n", 6), ("c", 8)],
    "CY": [("n", 8), ("c", 16)],
    "IS": [("n", 22)],
    "LI": [("n", 5), ("c", 12)],
    "AE": [("n", 19)],
    "IL": [("n", 19)],
    "QA": [("a", 4), ("c", 21)],
    "KW": [("a", 4), ("c", 22)],
    "UA": [("n", 6), ("c", 19)],
    "KZ": [("n", 3), ("c", 13)],
    "GE": [("a", 2), ("n", 16)],
    "PK": [("a", 4), ("c", 16)],
    "MC": [("n", 10), ("c", 11), ("n", 2)],
}


def _iban(rng: Rng) -> Case:
    country = rng.choice(sorted(IBAN_BBAN))
    alphabets = {"n": DIGITS, "a": UPPER, "c": UPPER_ALNUM}
    bban = "".join(_r(rng, alphabets[kind], n) for kind, n in IBAN_BBAN[country])
    numeric = int("".join(str(int(c, 36)) for c in bban + country + "00"))
    compact = f"{country}{98 - numeric % 97:02d}{bban}"
    value = " ".join(compact[i : i + 4] for i in range(0, len(compact), 4)) if rng.random() < 0.5 else compact
    return _fill(
        rng.choice(
            [
                "Bankverbindung: {v}",
                "Beneficiary IBAN {v}, BIC ACMEXXYY",
                '{{"payout": {{"iban": "{v}", "holder": "K. Novak"}}}}',
                "Please send the refund to {v} by Friday.",
                "IBAN\t{v}\n",
            ]
        ),
        "iban",
        value,
    )


def _dni(rng: Rng) -> str:
    number = rng.randint(10**7, 10**8 - 1)
    return f"{number}{'TRWAGMYFPDXBNJZSQVHLCKE'[number % 23]}"


def _nie(rng: Rng) -> str:
    prefix, number = rng.randrange(3), rng.randint(10**6, 10**7 - 1)
    return f"{'XYZ'[prefix]}{number:07d}{'TRWAGMYFPDXBNJZSQVHLCKE'[int(f'{prefix}{number:07d}') % 23]}"


def _bsn(rng: Rng) -> str:
    while True:
        digits = [rng.randint(0, 9) for _ in range(8)]
        total = sum(d * w for d, w in zip(digits, range(9, 1, -1), strict=True))
        check = total % 11
        if check < 10 and digits[0]:
            return "".join(map(str, digits)) + str(check)


def _pesel(rng: Rng) -> str:
    yy, mm, dd = rng.randint(50, 99), rng.randint(1, 12), rng.randint(1, 28)
    digits = f"{yy:02d}{mm:02d}{dd:02d}{rng.randint(0, 9999):04d}"
    weights = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3]
    return digits + str((10 - sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 10) % 10)


def _cpf(rng: Rng) -> str:
    digits = [rng.randint(0, 9) for _ in range(9)]
    for length in (9, 10):
        total = sum(d * w for d, w in zip(digits, range(length + 1, 1, -1), strict=True))
        digits.append(0 if total % 11 < 2 else 11 - total % 11)
    s = "".join(map(str, digits))
    return f"{s[:3]}.{s[3:6]}.{s[6:9]}-{s[9:]}" if rng.random() < 0.7 else s


def _luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def _personnummer(rng: Rng) -> str:
    body = (
        f"{rng.randint(50, 99):02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    )
    return f"{body[:6]}-{body[6:]}{_luhn_digit(body)}"


def _sin(rng: Rng) -> str:
    body = str(rng.randint(1, 7)) + _r(rng, DIGITS, 7)
    full = body + _luhn_digit(body)
    return f"{full[:3]} {full[3:6]} {full[6:]}" if rng.random() < 0.6 else full


def _sa_id(rng: Rng) -> str:
    body = f"{rng.randint(50, 99):02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 9999):04d}{rng.randint(0, 1)}8"
    return body + _luhn_digit(body)


def _hetu(rng: Rng) -> str:
    dd, mm, yy, nnn = rng.randint(1, 28), rng.randint(1, 12), rng.randint(50, 99), rng.randint(2, 899)
    number = int(f"{dd:02d}{mm:02d}{yy:02d}{nnn:03d}")
    return f"{dd:02d}{mm:02d}{yy:02d}-{nnn:03d}{'0123456789ABCDEFHJKLMNPRSTUVWXY'[number % 31]}"


def _nino(rng: Rng) -> str:
    first = rng.choice("ABCEGHJKLMNOPRSTWXYZ")
    second = rng.choice("ABCEGHJKLMNPRSTWXYZ")
    digits = _r(rng, DIGITS, 6)
    value = f"{first}{second}{digits}{rng.choice('ABCD')}"
    return f"{value[:2]} {value[2:4]} {value[4:6]} {value[6:8]} {value[8]}" if rng.random() < 0.5 else value


def _nhs(rng: Rng) -> str:
    while True:
        digits = [rng.randint(0, 9) for _ in range(9)]
        check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
        if check == 11:
            check = 0
        if check != 10:
            s = "".join(map(str, digits)) + str(check)
            return f"{s[:3]} {s[3:6]} {s[6:]}"


def _china_id(rng: Rng) -> str:
    body = f"{rng.choice(['110101', '310104', '440305', '510107'])}{rng.randint(1950, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


def _verhoeff_digit(number: str) -> str:
    # Dihedral group D5 multiplication and the position permutation, built rather than tabulated.
    def mul(a: int, b: int) -> int:
        if a < 5 and b < 5:
            return (a + b) % 5
        if a < 5:
            return 5 + (a + b - 5) % 5
        if b < 5:
            return 5 + (a - 5 - b) % 5
        return (a - b) % 5

    base = [1, 5, 7, 6, 2, 8, 3, 0, 9, 4]
    perms = [list(range(10))]
    for _ in range(7):
        perms.append([base[x] for x in perms[-1]])
    inverse = [next(j for j in range(10) if mul(i, j) == 0) for i in range(10)]
    check = 0
    for i, ch in enumerate(reversed(number + "0")):
        check = mul(check, perms[i % 8][int(ch)])
    return str(inverse[check])


def _aadhaar(rng: Rng) -> str:
    body = str(rng.randint(2, 9)) + _r(rng, DIGITS, 10)
    s = body + _verhoeff_digit(body)
    return f"{s[:4]} {s[4:8]} {s[8:]}" if rng.random() < 0.7 else s


# The check character's table for characters in odd positions (digits, then A to Z).
CF_ODD_VALUES = "1 0 5 7 9 13 15 17 19 21 1 0 5 7 9 13 15 17 19 21 2 4 18 20 11 3 6 8 12 14 16 10 22 25 24 23"


def _codice_fiscale(rng: Rng) -> str:
    odd = dict(zip(DIGITS + UPPER, map(int, CF_ODD_VALUES.split()), strict=True))
    body = (
        _r(rng, "BCDFGHLMNPRSTVZ", 6)
        + f"{rng.randint(50, 99)}"
        + rng.choice("ABCDEHLMPRST")
        + f"{rng.randint(1, 71):02d}"
        + rng.choice("FHLM")
        + f"{rng.randint(100, 999)}"
    )
    total = sum(
        odd[c] if i % 2 == 0 else (int(c) if c.isdigit() else ord(c) - 65) for i, c in enumerate(body)
    )
    return body + chr(65 + total % 26)


def _nric(rng: Rng) -> str:
    prefix = rng.choice("ST")
    digits = _r(rng, DIGITS, 7)
    total = sum(int(d) * w for d, w in zip(digits, [2, 7, 6, 5, 4, 3, 2], strict=True)) + (
        4 if prefix == "T" else 0
    )
    return prefix + digits + "JZIHGFEDCBA"[total % 11]


def _tc_kimlik(rng: Rng) -> str:
    d = [rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(8)]
    d10 = ((d[0] + d[2] + d[4] + d[6] + d[8]) * 7 - (d[1] + d[3] + d[5] + d[7])) % 10
    d11 = (sum(d) + d10) % 10
    return "".join(map(str, [*d, d10, d11]))


def _my_number(rng: Rng) -> str:
    digits = [rng.randint(0, 9) for _ in range(11)]
    total = sum(p * (n + 1 if n <= 6 else n - 5) for n, p in enumerate(reversed(digits), start=1))
    check = 0 if total % 11 <= 1 else 11 - total % 11
    s = "".join(map(str, digits)) + str(check)
    return f"{s[:4]} {s[4:8]} {s[8:]}"


NATIONAL_IDS: tuple[tuple[str, Callable[[Rng], str]], ...] = (
    ("DNI", _dni),
    ("NIE", _nie),
    ("BSN", _bsn),
    ("PESEL", _pesel),
    ("CPF", _cpf),
    ("personnummer", _personnummer),
    ("SIN", _sin),
    ("SA ID number", _sa_id),
    ("henkilötunnus", _hetu),
    ("National Insurance number", _nino),
    ("NHS number", _nhs),
    ("居民身份证号码", _china_id),
    ("Aadhaar", _aadhaar),
    ("codice fiscale", _codice_fiscale),
    ("NRIC", _nric),
    ("T.C. Kimlik No", _tc_kimlik),
    ("My Number", _my_number),
)


def _national_id(rng: Rng) -> Case:
    label, make = rng.choice(NATIONAL_IDS)
    return _fill(
        rng.choice(
            [
                f"{label}: {{v}}",
                f"Applicant {label.lower()} {{v}} verified against the register.",
                f'{{{{"customer": {{{{"name": "M. Rossi", "id_type": "{label}", "id_number": "{{v}}"}}}}}}}}',
                f"| {label} | {{v}} |",
            ]
        ),
        "national_id",
        make(rng),
    )


def _mrz_check(field: str) -> str:
    values = {c: i for i, c in enumerate(DIGITS)} | {c: 10 + i for i, c in enumerate(UPPER)} | {"<": 0}
    return str(sum(values[c] * (7, 3, 1)[i % 3] for i, c in enumerate(field)) % 10)


def _mrz(rng: Rng) -> Case:
    country = rng.choice(["NLD", "DEU", "FRA", "ESP", "ITA", "POL"])
    surname, given = (
        rng.choice(["JANSSEN", "KOWALSKA", "MARTIN", "GARCIA"]),
        rng.choice(["ANNA", "PIOTR", "LUCA", "EVA"]),
    )
    line1 = f"P<{country}{surname}<<{given}".ljust(44, "<")
    number = _r(rng, UPPER_ALNUM, 9)
    birth = f"{rng.randint(50, 99)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    expiry = f"{rng.randint(27, 35)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    personal = "<" * 14
    body = (
        number
        + _mrz_check(number)
        + country
        + birth
        + _mrz_check(birth)
        + rng.choice("MF")
        + expiry
        + _mrz_check(expiry)
        + personal
        + _mrz_check(personal)
    )
    composite = body[:10] + body[13:20] + body[21:43]
    line2 = body + _mrz_check(composite)
    return _fill("Scanned document:\n{v}\n{v}\n", "passport_mrz", line1, line2)


def _phone(rng: Rng) -> Case:
    n = rng.randint
    number = rng.choice(
        [
            f"+353 87 {n(100, 999)} {n(1000, 9999)}",
            f"+31 6 {n(10, 99)} {n(10, 99)} {n(10, 99)} {n(10, 99)}",
            f"+46 70-{n(100, 999)} {n(10, 99)} {n(10, 99)}",
            f"+48 {n(500, 899)} {n(100, 999)} {n(100, 999)}",
            f"+7 (495) {n(100, 999)}-{n(10, 99)}-{n(10, 99)}",
            f"+27 82 {n(100, 999)} {n(1000, 9999)}",
            f"+234 803 {n(100, 999)} {n(1000, 9999)}",
            f"+254 712 {n(100000, 999999)}",
            f"+52 1 55 {n(1000, 9999)} {n(1000, 9999)}",
            f"+971 50 {n(100, 999)} {n(1000, 9999)}",
            f"+65 9{n(100, 999)} {n(1000, 9999)}",
            f"+82 10-{n(1000, 9999)}-{n(1000, 9999)}",
            f"+62 812-{n(1000, 9999)}-{n(1000, 9999)}",
            f"+63 917 {n(100, 999)} {n(1000, 9999)}",
            f"+90 532 {n(100, 999)} {n(10, 99)} {n(10, 99)}",
            f"+41 79 {n(100, 999)} {n(10, 99)} {n(10, 99)}",
            f"+44 (0)20 {n(7000, 7899)} {n(1000, 9999)}",
            f"0044 161 {n(200, 999)} {n(1000, 9999)}",
            f"00 49 170 {n(1000000, 9999999)}",
            f"tel:+34-6{n(10, 99)}-{n(100, 999)}-{n(100, 999)}",
            f"+1-{n(201, 989)}-{n(200, 999)}-{n(1000, 9999)} ext. {n(10, 999)}",
            f"+61 4{n(10, 99)} {n(100, 999)} {n(100, 999)}",
        ]
    )
    return _fill(
        rng.choice(
            [
                "WhatsApp me on {v}",
                "Mobile: {v}\n",
                '"phone": "{v}",',
                "Rückruf unter {v} bitte.",
                "contact {v} (after 6pm)",
            ]
        ),
        "phone",
        number,
    )


PII: dict[str, Callable[[Rng], Case]] = {
    "iban_more": _iban,
    "national_id": _national_id,
    "passport_mrz": _mrz,
    "phone_intl": _phone,
}


# ---- hard negatives -----------------------------------------------------------------------------------


def _negative_password_hashes(r: Rng) -> str:
    return r.choice(
        [
            f"$argon2id$v=19$m=65536,t=3,p=4${_b64(_bytes(r, 16), pad=False)}${_b64(_bytes(r, 32), pad=False)}",
            f"pbkdf2_sha256$870000${_r(r, ALNUM, 22)}${_b64(_bytes(r, 32))}",
            f"deploy:$6${_r(r, ALNUM + './', 16)}${_r(r, ALNUM + './', 86)}:19800:0:99999:7:::",
            f"admin:$apr1${_r(r, ALNUM + './', 8)}${_r(r, ALNUM + './', 22)}",
            f"| app | *{_r(r, HEX.upper(), 40)} | mysql_native_password |",
            f"SCRAM-SHA-256$4096:{_b64(_bytes(r, 16))}${_b64(_bytes(r, 32))}:{_b64(_bytes(r, 32))}",
            f"$y$j9T${_r(r, ALNUM + './', 22)}${_r(r, ALNUM + './', 43)}",
            f"$scrypt$ln=16,r=8,p=1${_b64(_bytes(r, 16), pad=False)}${_b64(_bytes(r, 32), pad=False)}",
        ]
    )


def _negative_encrypted(r: Rng) -> str:
    return r.choice(
        [
            f"password: ENC[AES256_GCM,data:{_b64(_bytes(r, 18))},iv:{_b64(_bytes(r, 32))},tag:{_b64(_bytes(r, 16))},type:str]",
            "$ANSIBLE_VAULT;1.1;AES256\n" + "\n".join(_r(r, HEX, 80) for _ in range(4)),
            f"  app:dbPassword:\n    secure: v1:{_b64(_bytes(r, 12))}:{_b64(_bytes(r, 40))}",
            f"  encryptedData:\n    password: AgB{_r(r, B64, 300)}==",
            f"<password>{{AQAAABAAAAAQ{_r(r, B64, 40)}=}}</password>",
            f"vault:v1:{_b64(_bytes(r, 48))}",
            f'"api_key": "EJ[1:{_b64(_bytes(r, 32))}:{_b64(_bytes(r, 24))}:{_b64(_bytes(r, 30))}]"',
            "-----BEGIN PGP MESSAGE-----\n\n"
            + "\n".join(_r(r, B64, 64) for _ in range(4))
            + "\n="
            + _r(r, B64, 4)
            + "\n-----END PGP MESSAGE-----",
        ]
    )


def _negative_public_client_keys(r: Rng) -> str:
    return r.choice(
        [
            f"Stripe.setPublishableKey('pk_live_{_r(r, ALNUM, 99)}')",
            f"posthog.init('phc_{_r(r, ALNUM, 43)}', {{ api_host: 'https://eu.posthog.com' }})",
            f"mapboxgl.accessToken = 'pk.eyJ1IjoiYWNtZS1tYXBzIiwiYSI6Im{_r(r, ALNUM, 20)}In0.{_r(r, URLSAFE, 22)}';",
            f'<div class="g-recaptcha" data-sitekey="6L{_r(r, URLSAFE, 38)}"></div>',
            f"GOOGLE_CLIENT_ID={r.randint(10**11, 10**12)}-{_r(r, LOWER_ALNUM, 32)}.apps.googleusercontent.com",
            f"braintree.client.create({{ authorization: 'production_{_r(r, LOWER_ALNUM, 8)}_{_r(r, LOWER_ALNUM, 16)}' }})",
            f'<script src="https://www.paypal.com/sdk/js?client-id=A{_r(r, URLSAFE, 79)}&currency=EUR"></script>',
            f"SQUARE_APPLICATION_ID=sq0idp-{_r(r, URLSAFE, 22)}",
            f"statsig.initialize('client-{_r(r, ALNUM, 43)}')",
            f"LD_CLIENT_SIDE_ID={_r(r, HEX, 24)}",
        ]
    )


def _negative_public_keys(r: Rng) -> str:
    return r.choice(
        [
            json.dumps(
                {"kty": "RSA", "kid": _r(r, HEX, 8), "use": "sig", "n": _b64url_int(r, 256), "e": "AQAB"}
            ),
            json.dumps({"kty": "EC", "crv": "P-256", "x": _b64url_int(r, 32), "y": _b64url_int(r, 32)}),
            f"[Peer]\nPublicKey = {_b64(_bytes(r, 32))}\nAllowedIPs = 10.9.0.0/24\nEndpoint = vpn.acme.example:51820",
            f"untrusted comment: minisign public key {_r(r, HEX.upper(), 16)}\nRWQ{_r(r, B64, 53)}",
            _bech32("npub", _bytes(r, 32)),
            _xkey(r, bytes.fromhex("0488B21E"), private=False),
            "bc1q" + _r(r, BECH32, 38),
            f"node pubkey 0{r.choice('23')}{_r(r, HEX, 64)}",
            f"{_r(r, 'abcdefghijklmnopqrstuvwxyz234567', 56)}.onion",
            f"256 SHA256:{_b64(_bytes(r, 32), pad=False)} root@build-01 (ED25519)",
            "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBG"
            + _r(r, B64, 58)
            + "\n"
            + "\n".join(_r(r, B64, 64) for _ in range(5))
            + "\n="
            + _r(r, B64, 4)
            + "\n-----END PGP PUBLIC KEY BLOCK-----",
            "-----BEGIN CERTIFICATE REQUEST-----\nMII"
            + _r(r, B64, 61)
            + "\n"
            + "\n".join(_r(r, B64, 64) for _ in range(5))
            + "\n-----END CERTIFICATE REQUEST-----",
            "-----BEGIN PGP SIGNATURE-----\n\niQIzBAABCAAdFiEE"
            + _r(r, B64, 48)
            + "\n"
            + _r(r, B64, 64)
            + "\n="
            + _r(r, B64, 4)
            + "\n-----END PGP SIGNATURE-----",
        ]
    )


def _negative_token_like_ids(r: Rng) -> str:
    return r.choice(
        [
            f"customer cus_{_r(r, ALNUM, 14)} paid invoice in_{_r(r, ALNUM, 24)} (event evt_{_r(r, ALNUM, 24)})",
            f'{{"id": "chatcmpl-{_r(r, ALNUM, 29)}", "object": "chat.completion", "model": "gpt-4o"}}',
            f'{{"id": "msg_01{_r(r, ALNUM, 22)}", "type": "message", "content": [{{"type": "tool_use", "id": "toolu_01{_r(r, ALNUM, 22)}"}}]}}',
            f"ulid={''.join(r.choice(CROCKFORD) for _ in range(26))} ksuid={_r(r, ALNUM, 27)}",
            f"ObjectId('{_r(r, HEX, 24)}')",
            f"traceparent: 00-{_r(r, HEX, 32)}-{_r(r, HEX, 16)}-01",
            f"X-Amzn-Trace-Id: Root=1-{_r(r, HEX, 8)}-{_r(r, HEX, 24)}",
            f"cf-ray: {_r(r, HEX, 16)}-AMS",
            f"CONTAINER ID   IMAGE\n{_r(r, HEX, 12)}   nginx:1.27\nfull id sha256:{_r(r, HEX, 64)}",
            f"api-{_r(r, HEX, 10)}-{_r(r, LOWER_ALNUM, 5)}   1/1   Running   0   3d",
            f"gid://shopify/Product/{r.randint(10**12, 10**13)}",
            f"node_id: MDQ6VXNlcj{_r(r, ALNUM, 10)}",
            f"build {_uuid(r)} used cache key linux-node-{_r(r, HEX, 64)}",
            f"magnet:?xt=urn:btih:{_r(r, HEX, 40)}&dn=ubuntu-24.04.iso",
            f"/nix/store/{_r(r, '0123456789abcdfghijklmnpqrsvwxyz', 32)}-openssl-3.0.13",
            f"ipfs://bafybei{_r(r, 'abcdefghijklmnopqrstuvwxyz234567', 52)}",
            f"Distribution E{_r(r, UPPER_ALNUM, 13)} invalidation I{_r(r, UPPER_ALNUM, 13)} completed",
        ]
    )


def _negative_placeholders(r: Rng) -> str:
    return r.choice(
        [
            "password: {{ .Values.auth.password }}",
            "DATABASE_PASSWORD=%env(DATABASE_PASSWORD)%",
            'sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="${KAFKA_USER}" password="${KAFKA_PASSWORD}";',
            "<password>${env.NEXUS_PASSWORD}</password>",
            'token = "op://Platform/terraform-cloud/credential"',
            "MasterUserPassword: '{{resolve:secretsmanager:prod/rds:SecretString:password}}'",
            "api_key: \"{{ lookup('env', 'DEEPGRAM_API_KEY') }}\"",
            'Environment="DB_PASS_FILE=/run/credentials/app.service/db"',
            "LoadCredential=db-password:/etc/app/creds/db",
            'provider "datadog" {\n  api_key = var.datadog_api_key\n  app_key = var.datadog_app_key\n}',
            "mount -t cifs //files.acme.internal/share /mnt -o credentials=/root/.smbcredentials",
            "ldapsearch -x -D cn=admin,dc=acme,dc=internal -y /etc/ldap.secret -b dc=acme,dc=internal",
            "mosquitto_pub -h broker -u $MQTT_USER -P $MQTT_PASS -t t -m 1",
            "BRAINTREE_ACCESS_TOKEN=access_token$production$<merchant_id>$<secret>",
            "sk-or-v1-<your key here>",
            "NEON_API_KEY=napi_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
            "[client]\nuser=backup\npassword=\n",
            "auth:\n  existingSecret: redis-auth\n  existingSecretPasswordKey: redis-password",
            "wpa_passphrase=CHANGE_ME",
            "PrivateKey = <contents of privatekey file>",
            "otpauth://totp/ACME:jdoe?secret=BASE32SECRET&issuer=ACME",
            'password = ${file("~/.secrets/db")}',
        ]
    )


def _negative_masked(r: Rng) -> str:
    return r.choice(
        [
            f"Invalid API key provided: sk_live_{'*' * 20}{_r(r, ALNUM, 4)}",
            f"token: xkeysib-{'*' * 12}...{_r(r, HEX, 4)}",
            f"Using key nvapi-****{_r(r, URLSAFE, 4)} for inference",
            f"IBAN: DK** **** **** **{r.randint(10, 99)} {r.randint(10, 99)}",
            "Authorization: Bearer [REDACTED]",
            f"password=******** (length {r.randint(12, 30)})",
            f"SIN on file: *** *** {r.randint(100, 999)}",
            "secret_key = <hidden>",
            f"card ending in {r.randint(1000, 9999)}",
        ]
    )


def _negative_documented_examples(r: Rng) -> str:
    return r.choice(
        [
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
            "Example IBAN: GB82 WEST 1234 5698 7654 32",
            "e.g. DE89 3704 0044 0532 0130 00",
            "SSN format: 078-05-1120 (the Woolworth wallet card number, voided)",
            "Fictional numbers for films: 555-0100 through 555-0199",
            "The Luhn test number is 79927398713.",
            "Tokens look like `pat-na1-` followed by a UUID.",
            "PASETO tokens start with a version and purpose, e.g. v4.local. or v4.public.",
            "A WireGuard key is 32 bytes, written as 44 characters of base64 ending in '='.",
            "The sample NIE in the guide is X1234567L.",
        ]
    )


def _negative_base64_data(r: Rng) -> str:
    return r.choice(
        [
            f"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAA{_r(r, B64, 120)}AAAAAElFTkSuQmCC",
            "//# sourceMappingURL=data:application/json;base64,"
            + _b64(
                json.dumps(
                    {"version": 3, "sources": ["src/app.ts"], "names": [], "mappings": "AAAA,SAAS" * 6}
                ).encode()
            ),
            f'{{"nextPageToken": "{_b64(json.dumps({"offset": r.randint(100, 9999), "limit": 50}).encode(), pad=False)}"}}',
            f"?continuationToken={_b64(f'page={r.randint(2, 99)}&sort=created'.encode())}",
            f"payload: H4sIAAAAAAAA/{_r(r, B64, 60)}",
            f"binaryData:\n  logo.ico: AAABAAEAEBAAAAEAIABoBAAAFgAAACgAAAAQAAAAIAAAAAEAIAAAAAAAAAQAABILAAASCwAAAAAAAAAAAAA{_r(r, B64, 40)}",
            f"code_challenge={_b64(hashlib.sha256(_bytes(r, 32)).digest(), urlsafe=True, pad=False)}&code_challenge_method=S256",
            f"Sec-WebSocket-Accept: {_b64(hashlib.sha1(_bytes(r, 16)).digest())}",
        ]
    )


def _negative_config_nonsecret(r: Rng) -> str:
    return r.choice(
        [
            "password_min_length = 12\npassword_require_symbols = true",
            'token_ttl = "15m"\nrefresh_token_ttl = "720h"',
            "sasl.mechanism=SCRAM-SHA-512\nsecurity.protocol=SASL_SSL\nssl.keystore.type=PKCS12",
            "[Service]\nEnvironment=NODE_ENV=production PORT=8080\nExecStart=/usr/bin/node server.js",
            "  api_key_header: X-API-Key\n  auth_method: oauth2",
            "IdentityFile ~/.ssh/id_ed25519\nIdentitiesOnly yes",
            'private_key_path = "~/.oci/oci_api_key.pem"\nfingerprint = '
            + ":".join(_r(r, HEX, 2) for _ in range(16)),
            'kms_key_id = "arn:aws:kms:eu-west-1:'
            + str(r.randint(10**11, 10**12))
            + ":key/"
            + _uuid(r)
            + '"',
            "0 3 * * * /opt/backup/run.sh --retention 14 --compress zstd",
            "[wireguard]\nlisten-port=51820\npeer-routes=true\n",
            "sshd_config: PasswordAuthentication no\nPubkeyAuthentication yes",
            "  secretName: tls-acme-example\n  issuerRef:\n    name: letsencrypt-prod",
        ]
    )


def _negative_numbers(r: Rng) -> str:
    return r.choice(
        [
            f"Order #{r.randint(10**7, 10**8)} shipped via UPS 1Z{_r(r, UPPER_ALNUM, 16)}",
            f"Windows version 10.0.{r.randint(19041, 22631)}.{r.randint(1000, 4000)}",
            f"EAN 40{_r(r, DIGITS, 11)} qty {r.randint(1, 9)}",
            f"invoice INV-2026-{r.randint(10**5, 10**6)} total EUR {r.randint(100, 9999)}.{r.randint(10, 99)}",
            f"took {r.randint(1000, 99999)} ms, {r.randint(10**6, 10**9)} bytes, build {r.randint(2026000, 2026999)}.{r.randint(1, 9)}",
            f"CVE-2026-{r.randint(10000, 59999)} fixed in 3.{r.randint(0, 20)}.{r.randint(0, 9)}",
            f"coordinates {r.uniform(-80, 80):.6f}, {r.uniform(-170, 170):.6f}",
            f"IBAN DE00 {r.randint(1000, 9999)} {r.randint(1000, 9999)} {r.randint(1000, 9999)} {r.randint(1000, 9999)} {r.randint(10, 99)} (check digits 00 are never valid)",
            f"job {r.randint(10**17, 10**18)} finished at 2026-04-02T10:{r.randint(10, 59)}:{r.randint(10, 59)}Z",
            f"resolution {r.choice([1920, 2560, 3840])}x{r.choice([1080, 1440, 2160])} @ {r.choice([60, 120, 144])} Hz",
        ]
    )


def _negative_prose(r: Rng) -> str:
    return r.choice(
        [
            "Rotate the Braintree access token every 90 days and store it in the vault.",
            "Brevo keys begin with xkeysib- and are 89 characters long; SMTP keys begin with xsmtpsib-.",
            "Set NEON_API_KEY in the environment before running the migration script.",
            "token validated for user 4411 (expires in 3600s)",
            "The session cookie is encrypted with the app's secret_key_base.",
            "Use `wg genkey | tee private.key | wg pubkey > public.key` to create a pair.",
            "Your recovery codes were regenerated; the old ones no longer work.",
            "The IBAN field accepts up to 34 characters; spaces are ignored.",
            "Enter your PESEL or passport number to continue.",
            "Webhook signature mismatch: check the signing secret in the dashboard.",
        ]
    )


NEGATIVES: dict[str, Callable[[Rng], str]] = {
    "password_hashes": _negative_password_hashes,
    "encrypted_values": _negative_encrypted,
    "public_client_keys": _negative_public_client_keys,
    "public_keys_v3": _negative_public_keys,
    "token_like_ids": _negative_token_like_ids,
    "placeholders_v3": _negative_placeholders,
    "masked_values": _negative_masked,
    "documented_examples": _negative_documented_examples,
    "base64_data": _negative_base64_data,
    "config_nonsecret": _negative_config_nonsecret,
    "numbers_not_pii": _negative_numbers,
    "prose_about_secrets": _negative_prose,
}


def _row(text: str, spans: list[Span], family: str) -> dict[str, object]:
    for _, start, end in spans:
        assert 0 <= start < end <= len(text), (family, text)
    return {
        "text": text,
        "spans": [{"kind": k, "start": s, "end": e} for k, s, e in spans],
        "group": "positive" if spans else "negative",
        "family": family,
    }


def generate(seed: int = 2026_1208, per_family: int = 8, per_negative: int = 20) -> list[dict[str, object]]:
    rng = random.Random(seed)
    rows = [
        _row(*factory(rng), family)
        for families, count in (
            (VENDORS, per_family),
            (NAMED, per_family * 2),
            (CONFIGS, per_family),
            (CONNECTIONS, per_family),
            (SIGNED, per_family),
            (TOKEN_FORMATS, per_family),
            (SESSIONS, per_family),
            (KEYS, per_family),
            (PII, per_family * 2),
        )
        for family, factory in families.items()
        for _ in range(count)
    ]
    rows += [_row(make(rng), [], family) for family, make in NEGATIVES.items() for _ in range(per_negative)]
    return rows


def main() -> None:
    rows = generate()
    with OUT.open("w") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} rows to {OUT}")


if __name__ == "__main__":
    main()
