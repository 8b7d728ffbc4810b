"""Generate the fourth red-team secrets/PII set (benchmarks/data/secrets_redteam4.jsonl), seeded.

Written before reading the rules, with families the first three red-team sets do not have: secrets in
source literals of many languages (Go, Rust, Java, C#, Swift, Kotlin, PHP, Ruby; string concatenation
split over lines), notebooks (ipynb JSON sources and outputs), infrastructure outputs (Terraform state,
CloudFormation outputs, ARM parameter files, Bicep), kubeconfig credentials, API-client exports
(Insomnia, Bruno, Postman environments), HAR files and browser cookie exports, command lines that take
a secret as an argument (httpie, wget, curl --oauth2-bearer, sshpass, openssl, kubectl, helm, vault,
aws configure, gh, npm), logs and stack traces leaking DSNs and headers, encodings (form bodies,
quoted-printable, JSON unicode escapes, YAML block scalars), URLs and DSNs of other schemes (amqps,
rediss, mongodb+srv with options, ODBC, SQL Server JDBC properties, SMTP, SQLAlchemy driver URLs,
Oracle EZConnect, .pgpass), key material in binary containers shown as base64 (keytab, PKCS#12, JKS,
base64-wrapped PEM, Tor onion service keys), minisign/signify secret keys, rclone configs, Microsoft
refresh tokens, OAuth token responses, newer vendor token formats, and PII with check digits from more
countries (ES, IT, NL, BR, IN, AU, FR, KR, JP, DE, UK, US) plus labelled dates of birth, addresses,
IP addresses, local phone formats and obfuscated e-mail addresses. Hard negatives: SSH certificates
and other public material, digests, trace/request ids, object keys, encrypted blobs, base64 images,
placeholders, test fixtures, code identifiers, numbers that fail the check digits, prose, references.

Every value is synthesised from a public format description (prefix, alphabet, length, checksum); none
is a real credential or a real person's identifier. Each line:
{"text", "spans": [{"kind", "start", "end"}], "group": "positive" | "negative", "family"}.
Kinds are this set's own words (the scorer in bench_secrets matches spans, not kinds).

    .venv/bin/python -m benchmarks.data.secrets_redteam4
"""

from __future__ import annotations

import base64
import json
import quopri
import random
import string
import urllib.parse
from collections.abc import Callable
from pathlib import Path

OUT = Path(__file__).with_name("secrets_redteam4.jsonl")
UPPER = string.ascii_uppercase
LOWER = string.ascii_lowercase
DIGITS = string.digits
ALNUM = string.ascii_letters + DIGITS
URLSAFE = ALNUM + "-_"
HEX = "0123456789abcdef"
BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
PUNCT = "!#%&*+-.:=?@^_~"

Rng = random.Random
Span = tuple[str, int, int]
Case = tuple[str, list[Span]]
# A text is built from parts: plain strings, or (kind, value) pairs whose span is labelled.
Part = str | tuple[str, str]


def _r(rng: Rng, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _compose(*parts: Part) -> Case:
    text, spans = "", []
    for part in parts:
        if isinstance(part, tuple):
            kind, value = part
            spans.append((kind, len(text), len(text) + len(value)))
            text += value
        else:
            text += part
    return text, spans


def _bytes(rng: Rng, n: int) -> bytes:
    return bytes(rng.randrange(256) for _ in range(n))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _password(rng: Rng) -> str:
    """A human-chosen or generated password: words with digits/punctuation, or random characters."""
    if rng.random() < 0.4:
        word = rng.choice(["Harbor", "Quartz", "Maple", "Falcon", "Cedar", "Orbit", "Velvet", "Tundra"])
        return word + rng.choice(PUNCT) + _r(rng, DIGITS, rng.randint(3, 5)) + rng.choice(PUNCT)
    return _r(rng, ALNUM + PUNCT, rng.randint(14, 28))


def _secret(rng: Rng) -> str:
    """A generic machine secret (no vendor prefix): hex, base64url or alphanumeric."""
    pick = rng.randrange(3)
    if pick == 0:
        return _r(rng, HEX, rng.choice([32, 40, 64]))
    if pick == 1:
        return base64.urlsafe_b64encode(_bytes(rng, rng.choice([24, 32]))).decode().rstrip("=")
    return _r(rng, ALNUM, rng.randint(28, 44))


def _uuid(rng: Rng) -> str:
    return "-".join(_r(rng, HEX, n) for n in (8, 4, 4, 4, 12))


def _host(rng: Rng) -> str:
    return (
        rng.choice(["db", "cache", "mq", "mail", "files", "ledger"]) + f"-{rng.randint(1, 9)}.acme.internal"
    )


def _user(rng: Rng) -> str:
    return rng.choice(["app", "svc_billing", "deploy", "reporter", "etl", "admin", "jdoe"])


# ---- source literals ---------------------------------------------------------------------------------

SECRET_NAMES = ("apiSecret", "dbPassword", "authToken", "clientSecret", "signingKey", "accessKey")


def _snake_upper(name: str) -> str:
    return "".join("_" + c if c.isupper() else c.upper() for c in name)


def _go_const(rng: Rng) -> Case:
    name = rng.choice(SECRET_NAMES)
    head = rng.choice([f'const {name} = "', f'var {name} = "', f'\t{name} := "'])
    return _compose("package config\n\n", head, ("secret", _secret(rng)), '"\n')


def _rust_const(rng: Rng) -> Case:
    name = _snake_upper(rng.choice(SECRET_NAMES))
    head = rng.choice(
        [
            f'const {name}: &str = "',
            f"static {name}: &'static str = \"",
            f'let {name.lower()} = String::from("',
        ]
    )
    tail = '";' if head.startswith(("const", "static")) else '");'
    return _compose(head, ("secret", _secret(rng)), tail + "\n")


def _java_final(rng: Rng) -> Case:
    name = rng.choice([_snake_upper(rng.choice(SECRET_NAMES)), rng.choice(SECRET_NAMES)])
    head = rng.choice(
        [
            f'    private static final String {name} = "',
            f'    public static final String {name} = "',
            f'        String {name} = "',
        ]
    )
    return _compose(
        "public class Settings {\n",
        head,
        ("secret", _password(rng) if rng.random() < 0.4 else _secret(rng)),
        '";\n}',
    )


def _csharp_const(rng: Rng) -> Case:
    name = rng.choice(["ApiSecret", "DbPassword", "ClientSecret", "SigningKey"])
    head = rng.choice(
        [
            f'private const string {name} = "',
            f'public static readonly string {name} = @"',
            f'var {name[0].lower() + name[1:]} = "',
        ]
    )
    return _compose("namespace Acme.Billing;\n", head, ("secret", _secret(rng)), '";')


def _swift_let(rng: Rng) -> Case:
    name = rng.choice(SECRET_NAMES)
    head = rng.choice([f'let {name} = "', f'static let {name}: String = "', f'private let {name} = "'])
    return _compose("import Foundation\n\n", head, ("secret", _secret(rng)), '"\n')


def _kotlin_const(rng: Rng) -> Case:
    name = _snake_upper(rng.choice(SECRET_NAMES))
    head = rng.choice(
        [f'const val {name} = "', f'private val {name.lower()} = "', f'    val {name}: String = "']
    )
    return _compose("object Keys {\n", head, ("secret", _secret(rng)), '"\n}')


def _php_define(rng: Rng) -> Case:
    name = _snake_upper(rng.choice(SECRET_NAMES))
    head = rng.choice([f"define('{name}', '", f"const {name} = '", f"$config['{name.lower()}'] = '"])
    tail = "');" if head.startswith("define") else "';"
    return _compose("<?php\n", head, ("secret", _password(rng) if rng.random() < 0.3 else _secret(rng)), tail)


def _ruby_const(rng: Rng) -> Case:
    name = _snake_upper(rng.choice(SECRET_NAMES))
    head = rng.choice([f"{name} = '", f'  {name} = "', f"config.{name.lower()} = '"])
    quote = '"' if '"' in head else "'"
    tail = quote + rng.choice(["", ".freeze"])
    return _compose("module Acme\n", head, ("secret", _secret(rng)), tail + "\nend")


def _concat_split(rng: Rng) -> Case:
    # A token split over lines with `+`: each piece must be redacted.
    token = "sk_live_" + _r(rng, ALNUM, 40) if rng.random() < 0.5 else _r(rng, HEX, 64)
    cut = rng.randint(12, len(token) - 12)
    name = rng.choice(["API_KEY", "apiKey", "secretKey", "TOKEN"])
    return _compose(
        f'String {name} = "',
        ("secret", token[:cut]),
        '" +\n        "',
        ("secret", token[cut:]),
        '";',
    )


# ---- notebooks ---------------------------------------------------------------------------------------


def _ipynb_source(rng: Rng) -> Case:
    var = rng.choice(["OPENAI_API_KEY", "HF_TOKEN", "WANDB_API_KEY", "PINECONE_API_KEY", "DB_PASSWORD"])
    value = _secret(rng)
    return _compose(
        '{\n "cell_type": "code",\n "execution_count": 3,\n "metadata": {},\n "source": [\n  "import os\\n",\n'
        f'  "os.environ[\\"{var}\\"] = \\"',
        ("secret", value),
        '\\"\\n"\n ]\n}',
    )


def _ipynb_output(rng: Rng) -> Case:
    value = _secret(rng)
    label = rng.choice(["token", "api_key", "password", "secret"])
    return _compose(
        '"outputs": [\n {\n  "name": "stdout",\n  "output_type": "stream",\n  "text": [\n'
        f"   \"{{'{label}': '",
        ("secret", value),
        "', 'expires_in': 3600}\\n\"\n  ]\n }\n]",
    )


# ---- infrastructure outputs ----------------------------------------------------------------------------


def _tfstate_attributes(rng: Rng) -> Case:
    attr = rng.choice(
        ["password", "master_password", "secret", "access_key_secret", "client_secret", "admin_password"]
    )
    return _compose(
        '"instances": [\n  {\n    "schema_version": 0,\n    "attributes": {\n      "id": "'
        + _r(rng, LOWER + DIGITS, 12)
        + f'",\n      "{attr}": "',
        ("secret", _password(rng) if "password" in attr else _secret(rng)),
        '",\n      "username": "' + _user(rng) + '"\n    },\n    "sensitive_attributes": []\n  }\n]',
    )


def _cfn_outputs(rng: Rng) -> Case:
    key = rng.choice(["DbMasterPassword", "ApiSecretValue", "RedisAuthToken", "AdminPassword"])
    return _compose(
        '{\n  "Outputs": [\n    {\n      "OutputKey": "' + key + '",\n      "OutputValue": "',
        ("secret", _password(rng) if "Password" in key else _secret(rng)),
        '",\n      "Description": "generated by stack"\n    }\n  ]\n}',
    )


def _arm_parameters(rng: Rng) -> Case:
    name = rng.choice(["adminPassword", "sqlAdministratorLoginPassword", "vmAdminPassword", "sharedKey"])
    return _compose(
        '{\n  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#",\n'
        f'  "parameters": {{\n    "{name}": {{\n      "value": "',
        ("secret", _password(rng)),
        '"\n    }\n  }\n}',
    )


def _bicep_param(rng: Rng) -> Case:
    name = rng.choice(["adminPassword", "sqlPassword", "storageKey", "apiSecret"])
    head = rng.choice([f"@secure()\nparam {name} string = '", f"param {name} = '", f"var {name} = '"])
    return _compose(head, ("secret", _password(rng) if "assword" in name else _secret(rng)), "'\n")


# ---- kubeconfig and registry ------------------------------------------------------------------------


def _pem_body(rng: Rng, label: str = "PRIVATE KEY", lines: int = 6) -> str:
    body = "\n".join(_b64(_bytes(rng, 48)) for _ in range(lines))
    return f"-----BEGIN {label}-----\nMII{body[3:]}\n-----END {label}-----\n"


def _kubeconfig_client_key(rng: Rng) -> Case:
    key = _b64(_pem_body(rng, rng.choice(["RSA PRIVATE KEY", "EC PRIVATE KEY"])).encode())
    return _compose(
        "users:\n- name: admin@prod\n  user:\n    client-certificate-data: "
        + _b64(b"-----BEGIN CERTIFICATE-----\n" + _bytes(rng, 30))
        + "\n    client-key-data: ",
        ("private_key", key),
        "\n",
    )


def _kubeconfig_token(rng: Rng) -> Case:
    token = rng.choice(
        [
            _r(rng, LOWER + DIGITS, 6) + "." + _r(rng, LOWER + DIGITS, 16),  # kubeadm bootstrap token
            _r(rng, ALNUM, 48),
        ]
    )
    return _compose(
        "users:\n- name: ci-bot\n  user:\n    token: ",
        ("secret", token),
        "\ncontexts:\n- context:\n    cluster: prod",
    )


# ---- API clients, HAR, cookies --------------------------------------------------------------------------


def _insomnia_export(rng: Rng) -> Case:
    kind = rng.choice(["bearer", "basic"])
    if kind == "bearer":
        return _compose(
            '{"_type": "request", "name": "List invoices", "authentication": {"type": "bearer", "token": "',
            ("secret", _secret(rng)),
            '", "prefix": ""}}',
        )
    return _compose(
        '{"_type": "request", "authentication": {"type": "basic", "username": "'
        + _user(rng)
        + '", "password": "',
        ("password", _password(rng)),
        '"}}',
    )


def _bruno_file(rng: Rng) -> Case:
    if rng.random() < 0.5:
        return _compose(
            "meta {\n  name: get orders\n  type: http\n}\n\nauth:bearer {\n  token: ",
            ("secret", _secret(rng)),
            "\n}\n",
        )
    return _compose(
        "auth:basic {\n  username: " + _user(rng) + "\n  password: ", ("password", _password(rng)), "\n}\n"
    )


def _postman_env_values(rng: Rng) -> Case:
    key = rng.choice(["apiKey", "clientSecret", "access_token", "x-api-key"])
    return _compose(
        '{"name": "Production", "values": [{"key": "baseUrl", "value": "https://api.acme.example", "enabled": true},'
        f' {{"key": "{key}", "value": "',
        ("secret", _secret(rng)),
        '", "type": "secret", "enabled": true}]}',
    )


def _har_headers(rng: Rng) -> Case:
    name, prefix = rng.choice(
        [("Authorization", "Bearer "), ("authorization", "Token "), ("x-api-key", ""), ("X-Auth-Token", "")]
    )
    return _compose(
        '"request": {"method": "GET", "url": "https://api.acme.example/v1/me", "headers": [{"name": "accept", "value": "*/*"},'
        f' {{"name": "{name}", "value": "{prefix}',
        ("secret", _secret(rng)),
        '"}]}',
    )


def _har_cookies(rng: Rng) -> Case:
    name = rng.choice(["session", "sid", "auth_session", "__Host-session", "connect.sid"])
    return _compose(
        '"cookies": [{"name": "' + name + '", "value": "',
        ("secret", _r(rng, URLSAFE, rng.randint(32, 64))),
        '", "path": "/", "httpOnly": true, "secure": true}]',
    )


def _cookies_txt(rng: Rng) -> Case:
    name = rng.choice(["sessionid", "SID", "auth_token", "remember_user_token", "_session"])
    return _compose(
        "# Netscape HTTP Cookie File\n.acme.example\tTRUE\t/\tTRUE\t1798761600\t" + name + "\t",
        ("secret", _r(rng, URLSAFE, rng.randint(32, 60))),
        "\n",
    )


def _cookie_json_export(rng: Rng) -> Case:
    name = rng.choice(["sessionid", "auth", "access_token", "sid"])
    return _compose(
        '[{"domain": ".acme.example", "expirationDate": 1798761600.5, "hostOnly": false, "httpOnly": true, "name": "'
        + name
        + '", "path": "/", "secure": true, "value": "',
        ("secret", _r(rng, URLSAFE, rng.randint(32, 60))),
        '"}]',
    )


# ---- command lines ----------------------------------------------------------------------------------------


def _httpie_auth(rng: Rng) -> Case:
    if rng.random() < 0.5:
        return _compose(
            "http -a " + _user(rng) + ":",
            ("password", _password(rng).replace("'", "")),
            " GET https://api.acme.example/v2/ping",
        )
    return _compose("https -A bearer -a ", ("secret", _secret(rng)), " api.acme.example/v2/me")


def _wget_auth(rng: Rng) -> Case:
    if rng.random() < 0.5:
        return _compose(
            "wget --user=" + _user(rng) + " --password=",
            ("password", _r(rng, ALNUM + "._-", 18)),
            " https://files.acme.example/export.tar",
        )
    return _compose(
        "wget --header='Authorization: Token ", ("secret", _secret(rng)), "' https://files.acme.example/x"
    )


def _curl_oauth2_bearer(rng: Rng) -> Case:
    flag = rng.choice(
        [
            "--oauth2-bearer ",
            "--oauth2-bearer=",
            "--aws-sigv4 aws:amz:us-east-1:s3 --user AKIA" + _r(rng, UPPER + DIGITS, 16) + ":",
        ]
    )
    return _compose("curl -s " + flag, ("secret", _secret(rng)), " https://api.acme.example/v1/items")


def _sshpass_cli(rng: Rng) -> Case:
    return _compose(
        "sshpass -p '",
        ("password", _password(rng).replace("'", "")),
        "' ssh -o StrictHostKeyChecking=no " + _user(rng) + "@" + _host(rng),
    )


def _openssl_pass_arg(rng: Rng) -> Case:
    flag = rng.choice(["-passout pass:", "-passin pass:", "-password pass:", "-k "])
    return _compose(
        "openssl pkcs12 -export -in cert.pem -inkey key.pem -out bundle.p12 " + flag,
        ("password", _r(rng, ALNUM + "_.-", rng.randint(12, 20))),
    )


def _kubectl_from_literal(rng: Rng) -> Case:
    key = rng.choice(["password", "api-key", "token", "DB_PASS", "client_secret"])
    return _compose(
        "kubectl create secret generic app-creds -n prod --from-literal=username="
        + _user(rng)
        + f" --from-literal={key}=",
        ("secret", _r(rng, ALNUM + "_.-", rng.randint(16, 32))),
    )


def _helm_set_arg(rng: Rng) -> Case:
    key = rng.choice(
        ["postgresql.auth.password", "redis.auth.password", "secrets.apiKey", "global.adminPassword"]
    )
    return _compose(
        f"helm upgrade --install app ./chart --set {key}=",
        ("secret", _r(rng, ALNUM + "_.-", rng.randint(16, 32))),
        " --namespace prod",
    )


def _vault_kv_put(rng: Rng) -> Case:
    key = rng.choice(["password", "api_key", "token", "secret"])
    return _compose(
        f"vault kv put secret/apps/billing {key}=",
        ("secret", _r(rng, ALNUM + "_.-", rng.randint(16, 32))),
        " user=" + _user(rng),
    )


def _aws_configure_set(rng: Rng) -> Case:
    return _compose(
        "aws configure set aws_secret_access_key ", ("secret", _r(rng, ALNUM + "/+", 40)), " --profile prod"
    )


def _gh_secret_set(rng: Rng) -> Case:
    name = rng.choice(["NPM_TOKEN", "DEPLOY_KEY", "SLACK_WEBHOOK_SECRET", "DB_PASSWORD"])
    flag = rng.choice(["--body ", "-b "])
    return _compose(f'gh secret set {name} {flag}"', ("secret", _secret(rng)), '" --repo acme/billing')


def _npm_config_set(rng: Rng) -> Case:
    registry = rng.choice(
        ["npm.pkg.github.com", "registry.acme.example/npm/", "acme.jfrog.io/artifactory/api/npm/npm/"]
    )
    return _compose(f'npm config set "//{registry}:_authToken" "', ("secret", _secret(rng)), '"')


# ---- logs and stack traces --------------------------------------------------------------------------------


def _traceback_dsn(rng: Rng) -> Case:
    scheme = rng.choice(["postgresql", "mysql", "postgresql+psycopg", "mysql+pymysql"])
    return _compose(
        'Traceback (most recent call last):\n  File "/srv/app/db.py", line 12, in <module>\n'
        f'    engine = create_engine("{scheme}://{_user(rng)}:',
        ("password", _r(rng, ALNUM + "_.-!", rng.randint(12, 22))),
        f'@{_host(rng)}:5432/app")\nsqlalchemy.exc.OperationalError: could not connect',
    )


def _java_exception_jdbc(rng: Rng) -> Case:
    return _compose(
        "Caused by: java.sql.SQLException: Access denied, url=jdbc:mysql://"
        + _host(rng)
        + ":3306/app?user="
        + _user(rng)
        + "&password=",
        ("password", _r(rng, ALNUM + "_.-!", rng.randint(12, 22))),
        "&useSSL=true\n\tat com.mysql.cj.jdbc.ConnectionImpl.<init>(ConnectionImpl.java:447)",
    )


def _logged_header_dict(rng: Rng) -> Case:
    name, prefix = rng.choice(
        [("Authorization", "Token "), ("Authorization", "Bearer "), ("X-Api-Key", ""), ("Api-Key", "")]
    )
    return _compose(
        f"DEBUG urllib3 request headers: {{'User-Agent': 'python-requests/2.32', '{name}': '{prefix}",
        ("secret", _secret(rng)),
        "', 'Accept': '*/*'}",
    )


def _go_header_map(rng: Rng) -> Case:
    name, prefix = rng.choice([("Authorization", "Bearer "), ("X-Api-Key", ""), ("Authorization", "Basic ")])
    value = _b64(f"{_user(rng)}:{_password(rng)}".encode()) if prefix == "Basic " else _secret(rng)
    return _compose(
        f"2026/05/02 10:11:12 request: GET /v1/items headers=map[Accept:[application/json] {name}:[{prefix}",
        ("secret", value),
        "] User-Agent:[Go-http-client/1.1]]",
    )


# ---- encodings ------------------------------------------------------------------------------------------


def _form_urlencoded_body(rng: Rng) -> Case:
    raw = _password(rng)
    key = rng.choice(["password", "client_secret", "passwd"])
    return _compose(
        "POST /oauth/token HTTP/1.1\nContent-Type: application/x-www-form-urlencoded\n\n"
        f"grant_type=password&username={_user(rng)}%40acme.example&{key}=",
        ("password", urllib.parse.quote(raw, safe="")),
        "&scope=read",
    )


def _quoted_printable(rng: Rng) -> Case:
    raw = f"password={_password(rng)}"
    encoded = quopri.encodestring(raw.encode()).decode()
    cut = encoded.index("=3D") + 3
    value = encoded[cut:].rstrip("\n")
    head = "Content-Transfer-Encoding: quoted-printable\n\nYour new credentials:\n" + encoded[:cut]
    return _compose(head, ("password", value), "\n")


def _json_unicode_escaped(rng: Rng) -> Case:
    raw = _secret(rng)
    escaped = "".join(f"\\u{ord(c):04x}" if rng.random() < 0.3 else c for c in raw)
    key = rng.choice(["api_key", "token", "secret"])
    return _compose('{"\\u0061pp": "billing", "' + key + '": "', ("secret", escaped), '"}')


def _yaml_block_scalar(rng: Rng) -> Case:
    key = rng.choice(["password", "api_token", "client_secret", "private_token"])
    style = rng.choice(["|", ">-", "|-"])
    return _compose(
        f"credentials:\n  {key}: {style}\n    ", ("secret", _secret(rng)), "\n  region: eu-west-1\n"
    )


# ---- URLs and DSNs of other schemes -------------------------------------------------------------------------


def _userinfo_url(scheme: str, port: int, path: str) -> Callable[[Rng], Case]:
    def make(rng: Rng) -> Case:
        lead = rng.choice(["", "BROKER_URL=", "url: ", "export CONN='"])
        tail = "'" if lead.endswith("'") else ""
        return _compose(
            f"{lead}{scheme}://{_user(rng)}:",
            ("password", _r(rng, ALNUM + "_.-~", rng.randint(12, 24))),
            f"@{_host(rng)}:{port}{path}{tail}",
        )

    return make


def _mongodb_srv_options(rng: Rng) -> Case:
    return _compose(
        f"mongodb+srv://{_user(rng)}:",
        ("password", _r(rng, ALNUM, rng.randint(12, 24))),
        "@cluster0.ab1cd.mongodb.net/app?retryWrites=true&w=majority&authSource=admin&appName=Cluster0",
    )


def _odbc_dsn(rng: Rng) -> Case:
    braced = rng.random() < 0.5
    pwd = _password(rng).replace("}", "")
    return _compose(
        f"Driver={{ODBC Driver 18 for SQL Server}};Server=tcp:{_host(rng)},1433;Database=app;Uid={_user(rng)};Pwd=",
        ("password", "{" + pwd + "}" if braced else pwd.replace(";", "")),
        ";Encrypt=yes;",
    )


def _jdbc_sqlserver(rng: Rng) -> Case:
    return _compose(
        f"jdbc:sqlserver://{_host(rng)}:1433;databaseName=app;user={_user(rng)};password=",
        ("password", _r(rng, ALNUM + "_.-!", rng.randint(12, 22))),
        ";encrypt=true;",
    )


def _sqlalchemy_driver_url(rng: Rng) -> Case:
    scheme = rng.choice(["mssql+pyodbc", "oracle+oracledb", "snowflake", "clickhouse+native", "cockroachdb"])
    return _compose(
        f'SQLALCHEMY_DATABASE_URI = "{scheme}://{_user(rng)}:',
        ("password", _r(rng, ALNUM + "_.-", rng.randint(12, 22))),
        f'@{_host(rng)}/app"',
    )


def _oracle_ezconnect(rng: Rng) -> Case:
    lead = rng.choice(["sqlldr userid=", "expdp ", "impdp ", "rman target "])
    return _compose(
        lead + _user(rng) + "/",
        ("password", _r(rng, ALNUM + "_#$", rng.randint(10, 18))),
        f"@{_host(rng)}:1521/ORCLPDB1",
    )


def _pgpass(rng: Rng) -> Case:
    return _compose(
        "# ~/.pgpass\n" + f"{_host(rng)}:5432:app:{_user(rng)}:",
        ("password", _r(rng, ALNUM + "_.-!", rng.randint(12, 22))),
        "\n",
    )


# ---- key material -----------------------------------------------------------------------------------------------


def _minisign_secret(rng: Rng) -> Case:
    encrypted = rng.random() < 0.6
    head = b"EdScB2" if encrypted else b"Ed\x00\x00B2"
    key = _b64(head + _bytes(rng, 152))
    comment = "minisign encrypted secret key" if encrypted else "minisign secret key"
    return _compose(f"untrusted comment: {comment}\n", ("private_key", key), "\n")


def _signify_secret(rng: Rng) -> Case:
    key = _b64(b"EdBK" + bytes([0, 0, 0, 42]) + _bytes(rng, 96))
    return _compose("untrusted comment: signify secret key\n", ("private_key", key), "\n")


def _keytab_b64(rng: Rng) -> Case:
    key = _b64(b"\x05\x02\x00\x00\x00" + _bytes(rng, rng.randint(60, 120)))
    lead = rng.choice(["KRB5_KEYTAB_B64=", "keytab: ", '"keytab_base64": "', "echo "])
    tail = {'"keytab_base64": "': '"', "echo ": " | base64 -d > /etc/krb5.keytab"}.get(lead, "")
    return _compose(lead, ("private_key", key), tail)


def _der_len(n: int) -> bytes:
    return bytes([0x82, n >> 8, n & 0xFF])


def _pkcs12_b64(rng: Rng) -> Case:
    inner = _bytes(rng, rng.randint(400, 700))
    der = b"\x30" + _der_len(len(inner) + 7) + b"\x02\x01\x03\x30" + _der_len(len(inner)) + inner
    lead = rng.choice(["AZURE_CLIENT_CERTIFICATE=", "  pfx: ", '"certificateData": "', "signing_p12: "])
    tail = '"' if lead.endswith('"') else ""
    return _compose(lead, ("private_key", _b64(der)), tail)


def _jks_b64(rng: Rng) -> Case:
    der = bytes.fromhex("feedfeed0000000200000001") + _bytes(rng, rng.randint(300, 500))
    lead = rng.choice(["KEYSTORE_BASE64=", "  keystore.jks: ", "ANDROID_KEYSTORE: "])
    return _compose(lead, ("private_key", _b64(der)))


def _pem_base64(rng: Rng) -> Case:
    label = rng.choice(["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY"])
    value = _b64(_pem_body(rng, label).encode())
    lead = rng.choice(["PRIVATE_KEY_B64=", "  tls.key: ", '"privateKey": "', "SSH_KEY_BASE64: "])
    tail = '"' if lead.endswith('"') else ""
    return _compose(lead, ("private_key", value), tail)


def _tor_hs_secret(rng: Rng) -> Case:
    value = _b64(b"== ed25519v1-secret: type0 ==\x00\x00\x00" + _bytes(rng, 64))
    lead = rng.choice(["hs_ed25519_secret_key (base64): ", "ONION_KEY=", "secret_key: "])
    return _compose(lead, ("private_key", value))


def _rclone_conf(rng: Rng) -> Case:
    obscured = base64.urlsafe_b64encode(_bytes(rng, rng.randint(20, 40))).decode().rstrip("=")
    key = rng.choice(["pass", "password", "secret_access_key", "token"])
    return _compose(
        "[remote]\ntype = " + rng.choice(["sftp", "webdav", "s3"]) + f"\nuser = {_user(rng)}\n{key} = ",
        ("secret", obscured),
        "\n",
    )


def _ms_refresh_token(rng: Rng) -> Case:
    token = "0.A" + _r(rng, URLSAFE, 3) + "A" + _r(rng, URLSAFE + ".", rng.randint(250, 400))
    lead = rng.choice(
        [
            '"refresh_token": "',
            '"RefreshToken": {"k": {"credential_type": "RefreshToken", "secret": "',
            "refreshToken=",
        ]
    )
    tail = '"' if lead.endswith('"') else ""
    return _compose(lead, ("secret", token), tail)


def _oauth_token_response(rng: Rng) -> Case:
    return _compose(
        '{"access_token": "',
        ("secret", _secret(rng)),
        '", "token_type": "Bearer", "expires_in": 3599, "refresh_token": "',
        ("secret", _r(rng, URLSAFE, 48)),
        '", "scope": "read write"}',
    )


# ---- vendor token formats ------------------------------------------------------------------------------------------

BARE = (
    "{v}",
    "Here is the key you asked for: {v}",
    '{{"name": "ci", "credential": "{v}"}}',
    "2026-05-02T10:11:12Z INFO bootstrap: loaded {v} from keychain",
    "| prod | {v} | owner: platform |",
    "client = Client('{v}')",
    "VALUE={v}",
    '<string name="k">{v}</string>',
)


def _bare(make: Callable[[Rng], str]) -> Callable[[Rng], Case]:
    def case(rng: Rng) -> Case:
        head, tail = (p.replace("{{", "{").replace("}}", "}") for p in rng.choice(BARE).split("{v}"))
        return _compose(head, ("api_token", make(rng)), tail)

    return case


VENDORS: dict[str, Callable[[Rng], str]] = {
    "resend": lambda r: "re_" + _r(r, ALNUM, 8) + "_" + _r(r, ALNUM, 24),
    "razorpay": lambda r: "rzp_live_" + _r(r, ALNUM, 14),
    "adafruit_io": lambda r: "aio_" + _r(r, ALNUM, 28),
    "clojars": lambda r: "CLOJARS_" + _r(r, LOWER + DIGITS, 60),
    "maxmind": lambda r: _r(r, ALNUM, 6) + "_" + _r(r, ALNUM, 29) + "_mmk",
    "openshift": lambda r: "sha256~" + _r(r, URLSAFE, 43),
    "gocardless": lambda r: "live_" + _r(r, URLSAFE, 40),
    "settlemint": lambda r: r.choice(["sm_pat_", "sm_aat_", "sm_sat_"]) + _r(r, ALNUM, 16),
    "bedrock_api_key": lambda r: (
        "ABSK"
        + _b64(f"BedrockAPIKey-{_r(r, LOWER + DIGITS, 4)}-at-{_r(r, DIGITS, 12)}:".encode() + _bytes(r, 30))
    ),
    "mercury": lambda r: (
        "secret-token:mercury_production_" + r.choice(["rma", "wma"]) + "_" + _r(r, BASE58, 44) + "_yrucrem"
    ),
    "jina": lambda r: "jina_" + _r(r, HEX, 32) + _r(r, ALNUM, 28),
    "browserbase": lambda r: "bb_live_" + _r(r, URLSAFE, 27),
    "infisical": lambda r: "st." + _uuid(r) + "." + _r(r, HEX, 32) + "." + _r(r, HEX, 32),
    "slack_app_token": lambda r: f"xapp-1-A{_r(r, UPPER + DIGITS, 10)}-{_r(r, DIGITS, 13)}-{_r(r, HEX, 64)}",
    "rootly": lambda r: "rootly_" + _r(r, HEX, 64),
    "stytch": lambda r: "secret-live-" + _r(r, URLSAFE, 36),
}


# ---- PII -------------------------------------------------------------------------------------------------------------


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _pii(labels: tuple[str, ...], kind: str, make: Callable[[Rng], str]) -> Callable[[Rng], Case]:
    frames = (
        "{l}: {v}",
        '"{l}": "{v}",',
        "Please update my {l} to {v} thanks",
        "{l} {v}\n",
        "<td>{l}</td><td>{v}</td>",
    )

    def case(rng: Rng) -> Case:
        head, tail = rng.choice(frames).replace("{l}", rng.choice(labels)).split("{v}")
        return _compose(head, (kind, make(rng)), tail)

    return case


def _es_nif(rng: Rng) -> str:
    letters = "TRWAGMYFPDXBNJZSQVHLCKE"
    if rng.random() < 0.5:
        n = rng.randint(10_000_000, 99_999_999)
        return f"{n}{letters[n % 23]}"
    lead = rng.randrange(3)
    n = rng.randint(1_000_000, 9_999_999)
    return f"{'XYZ'[lead]}{n:07d}{letters[int(f'{lead}{n:07d}') % 23]}"


IT_ODD = dict(
    zip(
        DIGITS + UPPER,
        [
            1,
            0,
            5,
            7,
            9,
            13,
            15,
            17,
            19,
            21,
            1,
            0,
            5,
            7,
            9,
            13,
            15,
            17,
            19,
            21,
            2,
            4,
            18,
            20,
            11,
            3,
            6,
            8,
            12,
            14,
            16,
            10,
            22,
            25,
            24,
            23,
        ],
        strict=True,
    )
)


def _it_codice_fiscale(rng: Rng) -> str:
    body = (
        _r(rng, "BCDFGLMNPRSTVZ", 6)
        + f"{rng.randint(40, 99)}"
        + rng.choice("ABCDEHLMPRST")
        + f"{rng.choice([rng.randint(1, 28), rng.randint(41, 68)]):02d}"
        + rng.choice("ABCDEFGHLM")
        + f"{rng.randint(1, 999):03d}"
    )
    total = sum(
        IT_ODD[c] if i % 2 == 0 else (int(c) if c.isdigit() else ord(c) - 65) for i, c in enumerate(body)
    )
    return body + chr(65 + total % 26)


def _nl_bsn(rng: Rng) -> str:
    while True:
        d = [rng.randrange(10) for _ in range(9)]
        if d[0] and (sum(d[i] * (9 - i) for i in range(8)) - d[8]) % 11 == 0:
            return "".join(map(str, d))


def _br_cpf(rng: Rng) -> str:
    d = [rng.randrange(10) for _ in range(9)]
    for weight in (10, 11):
        d.append(sum(x * (weight - i) for i, x in enumerate(d)) * 10 % 11 % 10)
    s = "".join(map(str, d))
    return f"{s[:3]}.{s[3:6]}.{s[6:9]}-{s[9:]}" if rng.random() < 0.7 else s


def _in_pan(rng: Rng) -> str:
    return (
        _r(rng, UPPER, 3)
        + rng.choice("PCHFATBLJG")
        + _r(rng, UPPER, 1)
        + _r(rng, DIGITS, 4)
        + _r(rng, UPPER, 1)
    )


_D = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
]  # fmt: skip
_P = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
]  # fmt: skip
_INV = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9]


def _verhoeff_digit(body: str) -> str:
    c = 0
    for i, ch in enumerate(reversed(body)):
        c = _D[c][_P[(i + 1) % 8][int(ch)]]
    return str(_INV[c])


def _in_aadhaar(rng: Rng) -> str:
    body = str(rng.randint(2, 9)) + _r(rng, DIGITS, 10)
    s = body + _verhoeff_digit(body)
    return f"{s[:4]} {s[4:8]} {s[8:]}" if rng.random() < 0.7 else s


def _au_tfn(rng: Rng) -> str:
    weights = (1, 4, 3, 7, 5, 8, 6, 9, 10)
    while True:
        d = [rng.randrange(10) for _ in range(9)]
        if d[0] and sum(a * b for a, b in zip(d, weights, strict=True)) % 11 == 0:
            s = "".join(map(str, d))
            return f"{s[:3]} {s[3:6]} {s[6:]}"


def _fr_nir(rng: Rng) -> str:
    body = f"{rng.randint(1, 2)}{rng.randint(40, 99):02d}{rng.randint(1, 12):02d}{rng.randint(1, 95):02d}{rng.randint(1, 999):03d}{rng.randint(1, 999):03d}"
    key = 97 - int(body) % 97
    return f"{body[0]} {body[1:3]} {body[3:5]} {body[5:7]} {body[7:10]} {body[10:13]} {key:02d}"


def _us_mbi(rng: Rng) -> str:
    alpha = "ACDEFGHJKMNPQRTUVWXY"
    an = alpha + DIGITS
    s = (
        str(rng.randint(1, 9)) + rng.choice(alpha) + rng.choice(an) + rng.choice(DIGITS)
        + rng.choice(alpha) + rng.choice(an) + rng.choice(DIGITS)
        + rng.choice(alpha) + rng.choice(alpha) + rng.choice(DIGITS) + rng.choice(DIGITS)
    )  # fmt: skip
    return f"{s[:4]}-{s[4:7]}-{s[7:]}" if rng.random() < 0.6 else s


def _au_medicare(rng: Rng) -> str:
    d = [rng.randint(2, 6)] + [rng.randrange(10) for _ in range(7)]
    check = sum(a * b for a, b in zip(d, (1, 3, 7, 9, 1, 3, 7, 9), strict=True)) % 10
    s = "".join(map(str, d)) + str(check) + str(rng.randint(1, 9))
    return f"{s[:4]} {s[4:9]} {s[9]}"


def _de_kvnr(rng: Rng) -> str:
    letter = rng.choice(UPPER)
    digits = _r(rng, DIGITS, 8)
    total = 0
    for i, ch in enumerate(f"{ord(letter) - 64:02d}" + digits):
        p = int(ch) * (1 if i % 2 == 0 else 2)
        total += p // 10 + p % 10
    return letter + digits + str(total % 10)


def _uk_driving_licence(rng: Rng) -> str:
    surname = rng.choice(["MORGAN", "SMITH", "PATEL", "OWEN", "LI", "ROBERTS"])[:5].ljust(5, "9")
    year, month, day = rng.randint(50, 99), rng.randint(1, 12), rng.randint(1, 28)
    month += 50 if rng.random() < 0.5 else 0
    return f"{surname}{year // 10}{month:02d}{day:02d}{year % 10}{_r(rng, UPPER, 2)}9{_r(rng, UPPER, 2)}"


def _kr_rrn(rng: Rng) -> str:
    body = f"{rng.randint(60, 99)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(1, 2)}{_r(rng, DIGITS, 5)}"
    weights = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
    check = (11 - sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11) % 10
    return f"{body[:6]}-{body[6:]}{check}"


def _jp_my_number(rng: Rng) -> str:
    body = _r(rng, DIGITS, 11)
    total = sum(int(body[10 - n + 1]) * (n + 1 if n <= 6 else n - 5) for n in range(1, 12))
    rem = total % 11
    s = body + str(0 if rem <= 1 else 11 - rem)
    return f"{s[:4]} {s[4:8]} {s[8:]}" if rng.random() < 0.5 else s


def _us_itin(rng: Rng) -> str:
    group = rng.choice([*list(range(70, 89)), 90, 91, 92, *list(range(94, 100))])
    return f"9{rng.randint(0, 99):02d}-{group}-{rng.randint(0, 9999):04d}"


def _us_bank_account(rng: Rng) -> Case:
    while True:
        routing = _r(rng, DIGITS, 9)
        if (
            sum(int(c) * w for c, w in zip(routing, (3, 7, 1) * 3, strict=True)) % 10 == 0
            and routing[0] in "0123"
        ):
            break
    account = _r(rng, DIGITS, rng.randint(8, 12))
    return _compose(
        "Direct deposit form\nRouting number: ",
        ("bank_routing", routing),
        "\nAccount number: ",
        ("bank_account", account),
        "\n",
    )


def _se_personnummer(rng: Rng) -> str:
    while True:
        body = f"{rng.randint(40, 99)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{_r(rng, DIGITS, 4)}"
        if _luhn_ok(body):
            return f"{body[:6]}-{body[6:]}"


def _dob_labelled(rng: Rng) -> Case:
    y, m, d = rng.randint(1940, 2006), rng.randint(1, 12), rng.randint(1, 28)
    months = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ]
    value = rng.choice(
        [
            f"{d:02d}/{m:02d}/{y}",
            f"{y}-{m:02d}-{d:02d}",
            f"{months[m - 1]} {d}, {y}",
            f"{d}.{m}.{y}",
            f"{d} {months[m - 1][:3]} {y}",
        ]
    )
    label = rng.choice(
        ["Date of birth: ", "DOB: ", "born on ", '"date_of_birth": "', "Geburtsdatum: ", "birthdate="]
    )
    tail = '"' if label.endswith('"') else ""
    return _compose(
        "Patient: A. Kowalski\n" if rng.random() < 0.5 else "", label, ("date_of_birth", value), tail
    )


def _postal_address_labelled(rng: Rng) -> Case:
    value = rng.choice(
        [
            f"{rng.randint(1, 999)} {rng.choice(['Maple', 'Oak', 'Harbor', 'Elm'])} {rng.choice(['Street', 'Ave', 'Road', 'Lane'])}, {rng.choice(['Springfield, IL 62704', 'Austin, TX 78701', 'Portland, OR 97205'])}",
            f"{rng.randint(1, 99)} {rng.choice(['High Street', 'Church Road', 'Station Road'])}, {rng.choice(['Leeds LS1 4AP', 'Bristol BS1 5TR', 'York YO1 7HH'])}",
            f"{rng.choice(['Hauptstraße', 'Bahnhofstraße', 'Gartenweg'])} {rng.randint(1, 120)}, {rng.randint(10000, 99999)} {rng.choice(['Berlin', 'Köln', 'Leipzig'])}",
        ]
    )
    label = rng.choice(["Home address: ", "Shipping address: ", '"address": "', "Address:\n"])
    tail = '"' if label.endswith('"') else ""
    return _compose(label, ("address", value), tail)


def _ipv4_labelled(rng: Rng) -> Case:
    ip = f"{rng.choice([81, 92, 145, 178, 203, 212])}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    label = rng.choice(["Client IP: ", "remote_addr=", '"ip_address": "', "Login from IP "])
    tail = '"' if label.endswith('"') else " at 2026-05-02 10:11"
    return _compose("user=jdoe ", label, ("ip_address", ip), tail)


def _phone_local_formats(rng: Rng) -> Case:
    value = rng.choice(
        [
            f"(020) {rng.randint(7000, 8999)} {rng.randint(1000, 9999)}",
            f"06 {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)}",
            f"0171 {rng.randint(1000000, 9999999)}",
            f"090-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}",
            f"07{rng.randint(100, 999)} {rng.randint(100000, 999999)}",
            f"({rng.randint(201, 989)}) {rng.randint(200, 999)}-{rng.randint(1000, 9999)}",
            f"0{rng.randint(400, 499)} {rng.randint(100, 999)} {rng.randint(100, 999)}",
        ]
    )
    label = rng.choice(["Tel: ", "Call me on ", "mobile: ", "Telefon: ", "ph. "])
    return _compose(label, ("phone", value), rng.choice(["", " after 5pm", ".\n"]))


def _email_obfuscated(rng: Rng) -> Case:
    user = rng.choice(["jane.doe", "m.rossi", "pkowalski", "anna_b"])
    domain = rng.choice(["example", "acme-mail", "posteo"])
    tld = rng.choice(["com", "org", "de"])
    value = rng.choice(
        [
            f"{user} at {domain} dot {tld}",
            f"{user}[at]{domain}[dot]{tld}",
            f"{user} (at) {domain}.{tld}",
            f"{user} AT {domain} DOT {tld}",
            f"{user}@{domain} [dot] {tld}",
        ]
    )
    return _compose(
        rng.choice(["Reach me: ", "contact - ", "write to "]), ("email", value), rng.choice(["", " please"])
    )


PII_FORMATS: dict[str, Callable[[Rng], Case]] = {
    "es_nif_nie": _pii(("DNI", "NIF", "NIE", "N.I.F."), "national_id", _es_nif),
    "it_codice_fiscale": _pii(
        ("Codice fiscale", "C.F.", "codice_fiscale"), "national_id", _it_codice_fiscale
    ),
    "nl_bsn": _pii(("BSN", "burgerservicenummer"), "national_id", _nl_bsn),
    "br_cpf": _pii(("CPF", "cpf"), "national_id", _br_cpf),
    "in_pan": _pii(("PAN", "PAN card", "Permanent Account Number"), "tax_id", _in_pan),
    "in_aadhaar": _pii(("Aadhaar", "Aadhaar no.", "UID"), "national_id", _in_aadhaar),
    "au_tfn": _pii(("TFN", "Tax File Number"), "tax_id", _au_tfn),
    "fr_nir": _pii(("N° de sécurité sociale", "NIR", "numéro INSEE"), "national_id", _fr_nir),
    "us_mbi": _pii(("Medicare Beneficiary Identifier", "MBI", "Medicare ID"), "health_id", _us_mbi),
    "au_medicare": _pii(("Medicare card", "Medicare number"), "health_id", _au_medicare),
    "de_kvnr": _pii(("Krankenversichertennummer", "KVNR", "Versichertennummer"), "health_id", _de_kvnr),
    "uk_driving_licence": _pii(
        ("Driving licence number", "Licence No.", "DVLA licence"), "driver_licence", _uk_driving_licence
    ),
    "kr_rrn": _pii(("주민등록번호", "RRN", "Resident registration number"), "national_id", _kr_rrn),
    "jp_my_number": _pii(("マイナンバー", "My Number", "個人番号"), "national_id", _jp_my_number),
    "us_itin": _pii(("ITIN", "Individual Taxpayer Identification Number"), "tax_id", _us_itin),
    "se_personnummer": _pii(("Personnummer", "personnr"), "national_id", _se_personnummer),
}

PII_CASES: dict[str, Callable[[Rng], Case]] = {
    "us_bank_account": _us_bank_account,
    "dob_labelled": _dob_labelled,
    "postal_address_labelled": _postal_address_labelled,
    "ipv4_labelled": _ipv4_labelled,
    "phone_local_formats": _phone_local_formats,
    "email_obfuscated": _email_obfuscated,
}

STRUCTURAL: dict[str, Callable[[Rng], Case]] = {
    "go_const": _go_const,
    "rust_const": _rust_const,
    "java_final": _java_final,
    "csharp_const": _csharp_const,
    "swift_let": _swift_let,
    "kotlin_const": _kotlin_const,
    "php_define": _php_define,
    "ruby_const": _ruby_const,
    "concat_split": _concat_split,
    "ipynb_source": _ipynb_source,
    "ipynb_output": _ipynb_output,
    "tfstate_attributes": _tfstate_attributes,
    "cfn_outputs": _cfn_outputs,
    "arm_parameters": _arm_parameters,
    "bicep_param": _bicep_param,
    "kubeconfig_client_key": _kubeconfig_client_key,
    "kubeconfig_token": _kubeconfig_token,
    "insomnia_export": _insomnia_export,
    "bruno_file": _bruno_file,
    "postman_env_values": _postman_env_values,
    "har_headers": _har_headers,
    "har_cookies": _har_cookies,
    "cookies_txt": _cookies_txt,
    "cookie_json_export": _cookie_json_export,
    "httpie_auth": _httpie_auth,
    "wget_auth": _wget_auth,
    "curl_oauth2_bearer": _curl_oauth2_bearer,
    "sshpass_cli": _sshpass_cli,
    "openssl_pass_arg": _openssl_pass_arg,
    "kubectl_from_literal": _kubectl_from_literal,
    "helm_set_arg": _helm_set_arg,
    "vault_kv_put": _vault_kv_put,
    "aws_configure_set": _aws_configure_set,
    "gh_secret_set": _gh_secret_set,
    "npm_config_set": _npm_config_set,
    "traceback_dsn": _traceback_dsn,
    "java_exception_jdbc": _java_exception_jdbc,
    "logged_header_dict": _logged_header_dict,
    "go_header_map": _go_header_map,
    "form_urlencoded_body": _form_urlencoded_body,
    "quoted_printable": _quoted_printable,
    "json_unicode_escaped": _json_unicode_escaped,
    "yaml_block_scalar": _yaml_block_scalar,
    "amqps_url": _userinfo_url("amqps", 5671, "/vhost"),
    "rediss_url": _userinfo_url("rediss", 6380, "/0"),
    "smtp_url": _userinfo_url("smtps", 465, ""),
    "mongodb_srv_options": _mongodb_srv_options,
    "odbc_dsn": _odbc_dsn,
    "jdbc_sqlserver": _jdbc_sqlserver,
    "sqlalchemy_driver_url": _sqlalchemy_driver_url,
    "oracle_ezconnect": _oracle_ezconnect,
    "pgpass": _pgpass,
    "minisign_secret": _minisign_secret,
    "signify_secret": _signify_secret,
    "keytab_b64": _keytab_b64,
    "pkcs12_b64": _pkcs12_b64,
    "jks_b64": _jks_b64,
    "pem_base64": _pem_base64,
    "tor_hs_secret": _tor_hs_secret,
    "rclone_conf": _rclone_conf,
    "ms_refresh_token": _ms_refresh_token,
    "oauth_token_response": _oauth_token_response,
}


# ---- hard negatives ------------------------------------------------------------------------------------------------------


def _neg_ssh_certs(rng: Rng) -> str:
    blob = _b64(b"\x00\x00\x00\x28ssh-ed25519-cert-v01@openssh.com" + _bytes(rng, 200))
    return rng.choice(
        [
            f"ssh-ed25519-cert-v01@openssh.com {blob} deploy@ci",
            f"@cert-authority *.acme.internal ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{_b64(_bytes(rng, 24))}",
            f"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ{_b64(_bytes(rng, 180))} jdoe@laptop",
            f"untrusted comment: minisign public key {_r(rng, HEX.upper(), 16)}\nRWQ{_b64(_bytes(rng, 39))}",
            f"age1{_r(rng, 'qpzry9x8gf2tvdw0s3jn54khce6mua7l', 58)}",
        ]
    )


def _neg_digests(rng: Rng) -> str:
    return rng.choice(
        [
            f"{_r(rng, HEX, 64)}  dist/app-1.4.2.tar.gz",
            f"image: ghcr.io/acme/api@sha256:{_r(rng, HEX, 64)}",
            f'"integrity": "sha512-{_b64(_bytes(rng, 64))}"',
            f"commit {_r(rng, HEX, 40)}\nAuthor: J. Doe <jdoe@acme.example>",
            f"blake2b-256: {_r(rng, HEX, 64)}",
            f'ETag: "{_r(rng, HEX, 32)}"',
        ]
    )


def _neg_trace_ids(rng: Rng) -> str:
    return rng.choice(
        [
            f"traceparent: 00-{_r(rng, HEX, 32)}-{_r(rng, HEX, 16)}-01",
            f"X-Request-Id: {_uuid(rng)}",
            f"x-amz-request-id: {_r(rng, UPPER + DIGITS, 16)}\nx-amz-id-2: {_b64(_bytes(rng, 54))}",
            f"request_id={_r(rng, '0123456789ABCDEFGHJKMNPQRSTVWXYZ', 26)} status=200 duration_ms=41",
            f'{{"span_id": "{_r(rng, HEX, 16)}", "trace_id": "{_r(rng, HEX, 32)}"}}',
            f"cf-ray: {_r(rng, HEX, 16)}-FRA",
        ]
    )


def _neg_object_keys(rng: Rng) -> str:
    return rng.choice(
        [
            f"s3://acme-artifacts/builds/{_r(rng, HEX, 40)}/app.zip",
            f"https://cdn.acme.example/assets/main.{_r(rng, HEX, 20)}.js",
            f"ipfs://bafybei{_r(rng, 'abcdefghijklmnopqrstuvwxyz234567', 52)}",
            f"gs://acme-uploads/{_uuid(rng)}/{_r(rng, URLSAFE, 22)}.png",
            f"/var/lib/docker/overlay2/{_r(rng, HEX, 64)}/diff",
            f"blob key: uploads/{_r(rng, LOWER + DIGITS, 28)}",
        ]
    )


def _neg_encrypted(rng: Rng) -> str:
    return rng.choice(
        [
            f"password: ENC[AES256_GCM,data:{_b64(_bytes(rng, 18))},iv:{_b64(_bytes(rng, 32))},tag:{_b64(_bytes(rng, 16))},type:str]",
            "$ANSIBLE_VAULT;1.1;AES256\n" + "\n".join(_r(rng, HEX, 80) for _ in range(3)),
            f"-----BEGIN AGE ENCRYPTED FILE-----\n{_b64(_bytes(rng, 48))}\n-----END AGE ENCRYPTED FILE-----",
            f"  encryptedData:\n    password: Ag{_b64(_bytes(rng, 180))}",
            f"db_password: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  {_r(rng, HEX, 64)}",
        ]
    )


def _neg_images(rng: Rng) -> str:
    return rng.choice(
        [
            f'<img src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAA{_b64(_bytes(rng, 120))}">',
            f"background: url(data:image/gif;base64,R0lGODlh{_b64(_bytes(rng, 90))});",
            f'"image/png": "iVBORw0KGgoAAAANSUhEUgAA{_b64(_bytes(rng, 150))}"',
            f"src: url(data:font/woff2;base64,d09GMgABAAAA{_b64(_bytes(rng, 100))}) format('woff2');",
        ]
    )


def _neg_placeholders(rng: Rng) -> str:
    return rng.choice(
        [
            'api_key = "${API_KEY}"',
            "password: <your-password-here>",
            "token: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "AUTH_TOKEN={{ secrets.AUTH_TOKEN }}",
            'conn = f"postgresql://{user}:{password}@{host}/db"',
            "client_secret: $(cat /run/secrets/client_secret)",
            'DB_PASSWORD="op://Production/db/password"',
            "curl -H 'Authorization: Bearer $TOKEN' https://api.acme.example",
            'sshpass -p "$SSH_PASS" ssh deploy@host',
            "kubectl create secret generic x --from-literal=password=$(openssl rand -hex 16)",
            "password=%(db_password)s",
            "secret_key = os.environ['SECRET_KEY']",
        ]
    )


def _neg_test_fixtures(rng: Rng) -> str:
    return rng.choice(
        [
            'FAKE_TOKEN = "fake-token-for-tests"  # test fixture',
            'api_key="your_api_key"',
            "password: changeme-in-production  # example only",
            'mock_secret = "0000000000000000000000000000000000000000"',
            "token = 'EXAMPLE-TOKEN-DO-NOT-USE'",
            "AKIAIOSFODNN7EXAMPLE",
            'assert redact("secret=abc") == "secret=[REDACTED]"',
            "password: ********",
        ]
    )


def _neg_code_identifiers(rng: Rng) -> str:
    return rng.choice(
        [
            'private static final String PASSWORD_RESET_TEMPLATE_NAME = "passwordResetEmailTemplate";',
            "const tokenRefreshIntervalMs = 300000;",
            f'className="css-{_r(rng, LOWER + DIGITS, 6)} MuiButtonBase-root MuiButton-containedPrimary"',
            'let apiSecretHeaderName = "X-Api-Secret"',
            'const val AUTH_TOKEN_KEY = "auth_token"',
            f'webpackChunkName: "chunk-{_r(rng, HEX, 8)}"',
            "define('DB_PASSWORD_FIELD', 'password');",
            'String apiKeyParam = "api_key";',
        ]
    )


def _neg_numbers(rng: Rng) -> str:
    return rng.choice(
        [
            f"Order #{rng.randint(10**8, 10**9 - 1)} shipped",
            f"Invoice no. {rng.randint(10**10, 10**11 - 1)}",
            f"Created: {rng.randint(2019, 2026)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            f"version {rng.randint(1, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 99)}",
            f"lat/lon: {rng.uniform(-80, 80):.5f}, {rng.uniform(-170, 170):.5f}",
            f"Tracking: 1Z{_r(rng, UPPER + DIGITS, 16)}",
            f"build {rng.randint(10**11, 10**12 - 1)} took {rng.randint(10, 99)}s",
            f"listening on 0.0.0.0:{rng.randint(1024, 65000)}",
        ]
    )


def _neg_prose(rng: Rng) -> str:
    return rng.choice(
        [
            "Rotate the database password every 90 days and store it in the vault.",
            "The API key is read from the environment at startup; never commit it.",
            "Enter your date of birth and tax file number on the next screen.",
            "If the token expires, the client refreshes it with the stored refresh token.",
            "Set `client_secret` in the dashboard under Settings > Credentials.",
            "Your driving licence number is printed on the front of the card.",
        ]
    )


def _neg_references(rng: Rng) -> str:
    return rng.choice(
        [
            "password_file: /run/secrets/db_password",
            "valueFrom:\n  secretKeyRef:\n    name: app-creds\n    key: password",
            f"arn:aws:secretsmanager:eu-west-1:{_r(rng, DIGITS, 12)}:secret:prod/db-{_r(rng, ALNUM, 6)}",
            "client_secret: vault:secret/data/apps/billing#client_secret",
            "token: !Ref ApiTokenParameter",
            '"adminPassword": {"reference": {"keyVault": {"id": "/subscriptions/x/vaults/kv"}, "secretName": "admin"}}',
            "api_key_ref: projects/acme/secrets/api-key/versions/latest",
        ]
    )


NEGATIVES: dict[str, Callable[[Rng], str]] = {
    "ssh_certs_public": _neg_ssh_certs,
    "digests_v4": _neg_digests,
    "trace_ids": _neg_trace_ids,
    "object_keys": _neg_object_keys,
    "encrypted_blobs_v4": _neg_encrypted,
    "base64_media": _neg_images,
    "placeholders_v4": _neg_placeholders,
    "test_fixtures_v4": _neg_test_fixtures,
    "code_identifiers": _neg_code_identifiers,
    "numbers_v4": _neg_numbers,
    "prose_v4": _neg_prose,
    "references_v4": _neg_references,
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


def generate(seed: int = 2026_1208_4, per_family: int = 8, per_negative: int = 20) -> list[dict[str, object]]:
    rng = random.Random(seed)
    factories: dict[str, Callable[[Rng], Case]] = {
        **STRUCTURAL,
        **{name: _bare(make) for name, make in VENDORS.items()},
        **PII_FORMATS,
        **PII_CASES,
    }
    rows = [_row(*factory(rng), family) for family, factory in factories.items() for _ in range(per_family)]
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
