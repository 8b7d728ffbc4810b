"""Generate the second red-team secrets set (benchmarks/data/secrets_redteam2.jsonl), seeded.

Written before reading the rules, to measure how they generalise: vendor token formats the first
red-team set does not have, credentials in the files and commands an agent meets (.npmrc, .pypirc,
.netrc, docker config.json, Kubernetes Secrets, JDBC/ADO.NET strings, curl and HTTP dumps, cookies,
query strings, env dumps, escaped private keys), and hard negatives (hashes, digests, ids, public keys,
base64 of ordinary data, placeholders, references to secrets, documented example values). Every value
is synthesised from a public format description; none is a real credential. Each line:
{"text", "spans": [{"kind", "start", "end"}], "group": "positive" | "negative", "family"}.

Kinds are this set's own words (the scorer in bench_secrets matches spans, not kinds).

    .venv/bin/python -m benchmarks.data.secrets_redteam2
"""

from __future__ import annotations

import base64
import json
import random
import string
from collections.abc import Callable
from pathlib import Path

OUT = Path(__file__).with_name("secrets_redteam2.jsonl")
UPPER = string.ascii_uppercase
LOWER = string.ascii_lowercase
DIGITS = string.digits
ALNUM = string.ascii_letters + DIGITS
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "-_"
HEX = "0123456789abcdef"
BECH32 = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"
BASE32 = UPPER + "234567"

Rng = random.Random
Case = tuple[str, list[tuple[str, int, int]]]


def _r(rng: Rng, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _uuid(rng: Rng) -> str:
    return "-".join(_r(rng, HEX, n) for n in (8, 4, 4, 4, 12))


def _fill(template: str, value: str, kind: str) -> Case:
    """`template` holds one `{v}` and writes literal braces doubled, as in str.format; the value's
    span is labelled."""
    head, tail = (part.replace("{{", "{").replace("}}", "}") for part in template.split("{v}", 1))
    return head + value + tail, [(kind, len(head), len(head) + len(value))]


# Where an agent meets a bare token; most give no secret-like name, so only the format can find it.
TOKEN_CONTEXTS = (
    "{v}",
    "$ mytool login --with {v}\nLogged in.",
    '{{"status": "ok", "result": {{"id": 4411, "value": "{v}"}}}}',
    "2026-03-14T09:12:44.120Z INFO  client  using {v} for https://api.vendor.example/v2",
    "deploy:\n  stage: release\n  script:\n    - ./release.sh {v}\n",
    'Traceback (most recent call last):\n  File "sync.py", line 88, in push\n'
    "    client = Client('{v}')\nValueError: upstream rejected the request",
    "kubectl create configmap app --from-literal=value={v}",
    "Here is what the setup wizard printed:\n\n    {v}\n\nkeep it somewhere safe",
    "const client = new Client({{ value: '{v}' }});",
    "| prod | {v} | 2026-01-02 |",
)


def _token(make: Callable[[Rng], str], kind: str = "api_token") -> Callable[[Rng], Case]:
    return lambda rng: _fill(rng.choice(TOKEN_CONTEXTS), make(rng), kind)


def _pick(*makers: Callable[[Rng], str]) -> Callable[[Rng], str]:
    return lambda rng: rng.choice(makers)(rng)


VENDORS: dict[str, Callable[[Rng], Case]] = {
    "postman": _token(lambda r: f"PMAK-{_r(r, HEX, 24)}-{_r(r, HEX, 34)}"),
    "supabase": _token(_pick(lambda r: "sbp_" + _r(r, HEX, 40), lambda r: "sb_secret_" + _r(r, URLSAFE, 31))),
    "planetscale": _token(
        lambda r: r.choice(["pscale_pw_", "pscale_tkn_", "pscale_oauth_"]) + _r(r, URLSAFE, 43)
    ),
    "terraform_cloud": _token(lambda r: f"{_r(r, ALNUM, 14)}.atlasv1.{_r(r, ALNUM + '-_', 67)}"),
    "pulumi": _token(lambda r: "pul-" + _r(r, HEX, 40)),
    "flyio": _token(_pick(lambda r: "fo1_" + _r(r, URLSAFE, 43), lambda r: "FlyV1 fm2_" + _r(r, B64, 180))),
    "render": _token(lambda r: "rnd_" + _r(r, ALNUM, 32)),
    "age": _token(lambda r: "AGE-SECRET-KEY-1" + _r(r, BECH32, 58), "private_key"),
    "npm_token": _token(lambda r: "npm_" + _r(r, ALNUM, 36)),
    "pypi_token": _token(lambda r: "pypi-AgEIcHlwaS5vcmc" + _r(r, URLSAFE, r.choice([64, 120, 160]))),
    "huggingface": _token(lambda r: "hf_" + _r(r, string.ascii_letters, 34)),
    "replicate": _token(lambda r: "r8_" + _r(r, ALNUM, 37)),
    "groq": _token(lambda r: "gsk_" + _r(r, ALNUM, 52)),
    "tailscale": _token(
        lambda r: f"tskey-{r.choice(['auth', 'api', 'client'])}-{_r(r, ALNUM, 11)}CNTRL-{_r(r, ALNUM, 33)}"
    ),
    "dynatrace": _token(lambda r: f"dt0c01.{_r(r, UPPER + DIGITS, 24)}.{_r(r, UPPER + DIGITS, 64)}"),
    "figma": _token(lambda r: f"figd_{_r(r, URLSAFE, 40)}"),
    "airtable": _token(lambda r: f"pat{_r(r, ALNUM, 14)}.{_r(r, HEX, 64)}"),
    "contentful": _token(lambda r: "CFPAT-" + _r(r, URLSAFE, 43)),
    "netlify": _token(lambda r: "nfp_" + _r(r, ALNUM, 36)),
    "dockerhub": _token(lambda r: "dckr_pat_" + _r(r, URLSAFE, 27)),
    "buildkite": _token(lambda r: "bkua_" + _r(r, HEX, 40)),
    "rubygems": _token(lambda r: "rubygems_" + _r(r, HEX, 48)),
    "alibaba": _token(lambda r: "LTAI" + _r(r, ALNUM, r.choice([12, 16, 20]))),
    "azure_ad_secret": _token(lambda r: _r(r, ALNUM, 3) + "8Q~" + _r(r, ALNUM + "-_.~", 34)),
    "langsmith": _token(lambda r: f"lsv2_{r.choice(['pt', 'sk'])}_{_r(r, HEX, 32)}_{_r(r, HEX, 10)}"),
    "pinecone": _token(lambda r: f"pcsk_{_r(r, ALNUM, 5)}_{_r(r, ALNUM, 63)}"),
    "xai": _token(lambda r: "xai-" + _r(r, ALNUM, 80)),
    "perplexity": _token(lambda r: "pplx-" + _r(r, ALNUM, 48)),
    "sourcegraph": _token(
        lambda r: r.choice(["sgp_", "sgp_local_", f"sgp_{_r(r, HEX, 16)}_"]) + _r(r, HEX, 40)
    ),
    "prefect": _token(lambda r: "pnu_" + _r(r, ALNUM, 36)),
    "onepassword": _token(lambda r: "ops_eyJzaWduSW5BZGRyZXNzIjoi" + _r(r, B64, 300)),
    "shippo": _token(lambda r: f"shippo_{r.choice(['live', 'test'])}_{_r(r, HEX, 40)}"),
    "flutterwave": _token(lambda r: f"FLWSECK{r.choice(['', '_TEST'])}-{_r(r, HEX, 32)}-X"),
    "easypost": _token(lambda r: "EZAK" + _r(r, HEX, 54)),
    "scalingo": _token(lambda r: "tk-us-" + _r(r, URLSAFE, 48)),
    "infracost": _token(lambda r: "ico-" + _r(r, ALNUM, 32)),
    "readme": _token(lambda r: "rdme_" + _r(r, HEX, 70)),
    "duffel": _token(lambda r: f"duffel_{r.choice(['live', 'test'])}_{_r(r, URLSAFE, 43)}"),
    "frameio": _token(lambda r: "fio-u-" + _r(r, URLSAFE, 64)),
    "bitbucket": _token(lambda r: "ATBB" + _r(r, ALNUM, 32)),
    "mapbox_secret": _token(lambda r: f"sk.eyJ1Ijoi{_r(r, ALNUM, 60)}.{_r(r, URLSAFE, 22)}"),
    "langfuse": _token(lambda r: f"sk-lf-{_uuid(r)}"),
    "deepseek": _token(lambda r: "sk-" + _r(r, HEX, 32)),
    "cohere_like_named": lambda r: _fill(
        r.choice(["CO_API_KEY={v}", "export MISTRAL_API_KEY={v}", "cohere.Client('{v}')"]),
        _r(r, ALNUM, 40),
        "api_token",
    ),
}


def _password(rng: Rng) -> str:
    return rng.choice(
        [
            _r(rng, ALNUM, rng.randint(8, 14)) + rng.choice("!#%^*_-@$") + _r(rng, DIGITS, 2),
            rng.choice(["Tiger", "Maple", "Copper", "Harbor", "Velvet"])
            + rng.choice(["_", "-", "", "."])
            + str(rng.randint(10, 9999))
            + rng.choice(["!", "#", "", "?"]),
            _r(rng, ALNUM, rng.randint(16, 32)),
            _r(rng, HEX, 32),
        ]
    )


def _webhook(rng: Rng) -> Case:
    url = rng.choice(
        [
            f"https://hooks.slack.com/services/T{_r(rng, UPPER + DIGITS, 10)}/B{_r(rng, UPPER + DIGITS, 10)}/"
            + _r(rng, ALNUM, 24),
            f"https://acme.webhook.office.com/webhookb2/{_uuid(rng)}@{_uuid(rng)}/IncomingWebhook/"
            f"{_r(rng, HEX, 32)}/{_uuid(rng)}",
            f"https://hooks.zapier.com/hooks/catch/{rng.randint(10**6, 10**7)}/{_r(rng, LOWER + DIGITS, 7)}/",
        ]
    )
    return _fill(
        rng.choice(['curl -X POST -d \'{{"text":"done"}}\' {v}', "NOTIFY_URL={v}", "  url: {v}\n"]),
        url,
        "webhook_url",
    )


def _signed_url(rng: Rng) -> Case:
    if rng.random() < 0.5:
        sig = _r(rng, HEX, 64)
        head = (
            "https://bucket-logs.s3.eu-west-1.amazonaws.com/export.csv?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            f"&X-Amz-Credential=AKIA{_r(rng, BASE32, 16)}%2F20260301%2Feu-west-1%2Fs3%2Faws4_request"
            "&X-Amz-Date=20260301T101010Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature="
        )
    else:
        sig = _r(rng, HEX, 256)
        head = (
            "https://storage.googleapis.com/reports/q1.pdf?X-Goog-Algorithm=GOOG4-RSA-SHA256"
            "&X-Goog-Credential=svc%40proj.iam.gserviceaccount.com%2F20260301%2Fauto%2Fstorage%2Fgoog4_request"
            "&X-Goog-Date=20260301T101010Z&X-Goog-Expires=900&X-Goog-SignedHeaders=host&X-Goog-Signature="
        )
    template = rng.choice(["wget '{u}{v}'", "Download link: {u}{v}", '{{"url": "{u}{v}"}}'])
    return _fill(template.replace("{u}", head), sig, "signed_url")


def _totp(rng: Rng) -> Case:
    secret = _r(rng, BASE32, 32)
    return _fill(
        rng.choice(
            [
                "otpauth://totp/Acme:ops?secret={v}&issuer=Acme",
                "qrencode -o mfa.png 'otpauth://totp/VPN:deploy?secret={v}&period=30'",
            ]
        ),
        secret,
        "otp_secret",
    )


def _wallet(rng: Rng) -> Case:
    key = "0x" + _r(rng, HEX, 64)
    return _fill(
        rng.choice(
            [
                "PRIVATE_KEY={v}\nRPC_URL=https://rpc.ankr.example/eth",
                "account = Account.from_key('{v}')",
                "forge script Deploy --broadcast --private-key {v}",
                '{{"deployer": {{"privateKey": "{v}"}}}}',
            ]
        ),
        key,
        "private_key",
    )


def _wireguard(rng: Rng) -> Case:
    key = _r(rng, B64, 43) + "="
    return _fill(
        f"[Interface]\nAddress = 10.8.0.{rng.randint(2, 250)}/24\nPrivateKey = {{v}}\nListenPort = 51820\n\n"
        f"[Peer]\nPublicKey = {_r(rng, B64, 43)}=\n",
        key,
        "private_key",
    )


def _laravel_django(rng: Rng) -> Case:
    return rng.choice(
        [
            _fill("APP_KEY=base64:{v}\nAPP_DEBUG=false", _r(rng, B64, 43) + "=", "generic_secret"),
            _fill(
                "SECRET_KEY = '{v}'",
                "django-insecure-" + _r(rng, LOWER + DIGITS + "!@#$%^&*(-_=+)", 50),
                "generic_secret",
            ),
            _fill('config.secret_key_base = "{v}"', _r(rng, HEX, 128), "generic_secret"),
            _fill("NEXTAUTH_SECRET={v}", _r(rng, B64, 43) + "=", "generic_secret"),
        ]
    )


STRUCTURAL_EXTRA: dict[str, Callable[[Rng], Case]] = {
    "webhook_url": _webhook,
    "signed_url": _signed_url,
    "totp_secret": _totp,
    "wallet_key": _wallet,
    "wireguard": _wireguard,
    "framework_secret": _laravel_django,
}


# ---- credentials in config files and commands ----------------------------------------------------


def _k8s_secret(rng: Rng) -> Case:
    name = rng.choice(
        ["password", "DB_PASSWORD", "api-token", "client_secret", "REDIS_AUTH", ".dockerconfigjson"]
    )
    value = base64.b64encode(_password(rng).encode()).decode()
    head = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app-creds\n  namespace: prod\ntype: Opaque\ndata:\n"
        f"  username: {base64.b64encode(b'app').decode()}\n  {name}: "
    )
    if rng.random() < 0.3:
        head = head.replace("data:\n", "stringData:\n").replace(base64.b64encode(b"app").decode(), "app")
        value = _password(rng)
    return _fill(head + "{v}\n", value, "generic_secret")


def _docker_config(rng: Rng) -> Case:
    auth = base64.b64encode(
        f"{rng.choice(['ci', 'deploy', 'robot$pull'])}:{_password(rng)}".encode()
    ).decode()
    registry = rng.choice(
        [
            "https://index.docker.io/v1/",
            "ghcr.io",
            "registry.gitlab.com",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
        ]
    )
    template = rng.choice(
        [
            '{{\n  "auths": {{\n    "' + registry + '": {{\n      "auth": "{v}"\n    }}\n  }}\n}}',
            '$ cat ~/.docker/config.json\n{{"auths":{{"' + registry + '":{{"auth":"{v}","email":""}}}}}}',
        ]
    )
    return _fill(template, auth, "generic_secret")


def _npmrc(rng: Rng) -> Case:
    value = rng.choice([_uuid(rng), "npm_" + _r(rng, ALNUM, 36), _r(rng, B64, 40) + "="])
    return _fill(
        rng.choice(
            [
                "registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken={v}\n",
                "@acme:registry=https://npm.pkg.github.com\n//npm.pkg.github.com/:_authToken={v}",
                "echo '//npm.acme.internal/repository/npm/:_auth={v}' >> ~/.npmrc",
                'npmAuthToken: "{v}"\nnpmRegistryServer: "https://npm.acme.internal"',  # .yarnrc.yml
            ]
        ),
        value,
        "generic_secret",
    )


def _pypirc(rng: Rng) -> Case:
    value = rng.choice([_password(rng), "pypi-AgENdGVzdC5weXBpLm9yZw" + _r(rng, URLSAFE, 80)])
    return _fill(
        rng.choice(
            [
                "[distutils]\nindex-servers = internal\n\n[internal]\nrepository = https://pypi.acme.internal/\n"
                "username = deploy\npassword = {v}\n",
                "[global]\nindex-url = https://deploy:{v}@pypi.acme.internal/simple\n",  # pip.conf
                "poetry config http-basic.internal deploy {v}",
                "TWINE_PASSWORD={v} twine upload dist/*",
            ]
        ),
        value,
        "generic_secret",
    )


def _netrc(rng: Rng) -> Case:
    value = _password(rng)
    return _fill(
        rng.choice(
            [
                "machine git.acme.internal\n  login deploy\n  password {v}\n",
                "machine api.heroku.com\n    login ops\n    password {v}\nmachine git.heroku.com\n",
                "default login anonymous password {v}",
            ]
        ),
        value,
        "generic_secret",
    )


def _conn_strings(rng: Rng) -> Case:
    value = _password(rng).replace(";", "")
    return _fill(
        rng.choice(
            [
                "jdbc:sqlserver://db.acme.internal:1433;databaseName=app;user=sa;password={v};encrypt=true",
                "Server=tcp:sql-prod.database.windows.net,1433;Initial Catalog=app;User ID=app;Password={v};",
                "Data Source=db01;Initial Catalog=Billing;uid=billing;pwd={v}",
                "Driver={{ODBC Driver 18 for SQL Server}};Server=db;UID=rpt;PWD={v};",
                "jdbc:mysql://db:3306/shop?user=shop&password={v}&useSSL=false",
                "host=db.internal port=5432 dbname=app user=app password={v} sslmode=require",
                "jdbc:oracle:thin:@//db:1521/ORCL?user=scott&password={v}",
            ]
        ),
        value,
        "connection_string",
    )


def _url_userinfo(rng: Rng) -> Case:
    value = _password(rng).replace("@", "").replace("#", "").replace("?", "")
    return _fill(
        rng.choice(
            [
                "REDIS_URL=redis://:{v}@cache.internal:6379/0",
                "CELERY_BROKER_URL=amqp://worker:{v}@rabbit.internal:5672//",
                "git clone https://oauth2:{v}@gitlab.acme.internal/platform/infra.git",
                "git remote -v\norigin\thttps://deploy:{v}@github.com/acme/app.git (fetch)",
                "CLOUDINARY_URL=cloudinary://{n}:{v}@acme-media",
                "SMTP_URL=smtps://mailer:{v}@smtp.acme.internal:465",
                "elasticsearch: https://elastic:{v}@es.internal:9200",
                "nats://svc:{v}@nats.internal:4222",
                "proxy = http://corp\\\\jdoe:{v}@proxy.corp.local:8080",
                "pip install --index-url https://__token__:{v}@gitlab.acme.internal/api/v4/projects/7/packages/pypi/simple pkg",
            ]
        ).replace("{n}", str(rng.randint(10**14, 10**15))),
        value,
        "connection_string",
    )


def _bearer(rng: Rng) -> str:
    return rng.choice(
        [
            _r(rng, URLSAFE, rng.randint(32, 64)),
            _r(rng, HEX, 40),
            _r(rng, ALNUM, 24) + "." + _r(rng, URLSAFE, 40),
        ]
    )


def _curl_auth(rng: Rng) -> Case:
    return rng.choice(
        [
            _fill(
                "curl -sS -H 'Authorization: Bearer {v}' https://api.acme.example/v1/users",
                _bearer(rng),
                "generic_secret",
            ),
            _fill('curl -H "X-API-Key: {v}" https://api.acme.example/items', _bearer(rng), "generic_secret"),
            _fill(
                'curl -H "PRIVATE-TOKEN: {v}" "https://gitlab.acme.internal/api/v4/projects"',
                _bearer(rng),
                "generic_secret",
            ),
            _fill(
                "curl --user deploy:{v} https://nexus.acme.internal/service/rest/v1/status",
                _password(rng),
                "generic_secret",
            ),
            _fill(
                "wget --user=ci --password='{v}' https://artifacts.acme.internal/build.zip",
                _password(rng),
                "generic_secret",
            ),
            _fill(
                "http POST api.acme.example/items 'Authorization:Token {v}'", _bearer(rng), "generic_secret"
            ),
            _fill(
                "requests.get(url, headers={{'Authorization': 'token {v}'}})",
                _bearer(rng),
                "generic_secret",
            ),
            _fill("fetch(url, {{ headers: {{ 'x-api-key': '{v}' }} }})", _bearer(rng), "generic_secret"),
        ]
    )


def _http_log(rng: Rng) -> Case:
    basic = base64.b64encode(f"{rng.choice(['admin', 'svc', 'jenkins'])}:{_password(rng)}".encode()).decode()
    return rng.choice(
        [
            _fill(
                "> GET /api/v2/repos HTTP/1.1\n> Host: api.acme.example\n> User-Agent: curl/8.5.0\n"
                "> Authorization: Basic {v}\n> Accept: */*\n>\n< HTTP/1.1 200 OK",
                basic,
                "generic_secret",
            ),
            _fill(
                "10.0.3.7 - - [14/Mar/2026:09:12:44 +0000] request headers: {{'Host': 'svc', "
                "'Authorization': 'Bearer {v}', 'Accept': '*/*'}}",
                _bearer(rng),
                "generic_secret",
            ),
            _fill("Proxy-Authorization: Basic {v}\r\nConnection: keep-alive", basic, "generic_secret"),
            _fill(
                "DEBUG urllib3.connectionpool send: b'POST /token HTTP/1.1\\r\\nAuthorization: Bearer {v}\\r\\n'",
                _bearer(rng),
                "generic_secret",
            ),
        ]
    )


def _cookie(rng: Rng) -> Case:
    value = rng.choice(
        [
            _r(rng, URLSAFE, 43),
            _r(rng, LOWER + DIGITS, 32),
            "s%3A" + _r(rng, URLSAFE, 32) + "." + _r(rng, URLSAFE, 43),
        ]
    )
    name = rng.choice(
        [
            "sessionid",
            "session",
            "connect.sid",
            "_gitlab_session",
            "JSESSIONID",
            "laravel_session",
            "__Secure-next-auth.session-token",
        ]
    )
    return _fill(
        rng.choice(
            [
                f"curl -b '{name}={{v}}; theme=dark' https://app.acme.example/admin",
                f"Set-Cookie: {name}={{v}}; Path=/; HttpOnly; Secure; SameSite=Lax",
                f"Cookie: lang=en; {name}={{v}}",
                f'{{{{"name": "{name}", "value": "{{v}}", "domain": ".acme.example", "httpOnly": true}}}}',
            ]
        ),
        value,
        "session_token",
    )


def _query_secret(rng: Rng) -> Case:
    value = _bearer(rng).replace(".", "")
    param = rng.choice(["api_key", "apikey", "access_token", "key", "token", "client_secret", "sig", "auth"])
    return _fill(
        rng.choice(
            [
                f"requests.exceptions.HTTPError: 401 Client Error: Unauthorized for url: "
                f"https://api.acme.example/v1/data?{param}={{v}}&page=2",
                f'GET /v1/forecast?lat=52.1&lon=4.3&{param}={{v}} HTTP/1.1" 200 512',
                f"curl 'https://maps.acme.example/geocode/json?address=Main+St&{param}={{v}}'",
            ]
        ),
        value,
        "generic_secret",
    )


def _pem_body(rng: Rng, lines: int) -> list[str]:
    return [_r(rng, B64, 64) for _ in range(lines)] + [_r(rng, B64, 24) + "=="]


def _escaped_key(rng: Rng) -> Case:
    label = rng.choice(["", "RSA ", "EC ", "OPENSSH ", "ENCRYPTED "])
    begin, end = f"-----BEGIN {label}PRIVATE KEY-----", f"-----END {label}PRIVATE KEY-----"
    body = _pem_body(rng, rng.randint(4, 10))
    style = rng.randrange(5)
    if style == 0:  # JSON with \n escapes, not a GCP file
        key = "\\n".join([begin, *body, end]) + "\\n"
        return _fill('{{"tls": {{"cert_file": "/etc/tls/crt.pem", "key": "{v}"}}}}', key, "private_key")
    if style == 1:  # env var with literal \n
        key = "\\n".join([begin, *body, end])
        return _fill('export JWT_PRIVATE_KEY="{v}"', key, "private_key")
    if style == 2:  # YAML block scalar, indented
        key = "\n    ".join([begin, *body, end])
        return _fill("ssh:\n  deploy_key: |\n    {v}\n  known_hosts: github.com", key, "private_key")
    if style == 3:  # Python triple-quoted string
        key = "\n".join([begin, *body, end])
        return _fill('SIGNING_KEY = """{v}\n"""', key, "private_key")
    # Kubernetes / kubeconfig: the PEM itself base64-encoded
    pem = "\n".join([begin, *body, end]) + "\n"
    value = base64.b64encode(pem.encode()).decode()
    return _fill(
        rng.choice(["  client-key-data: {v}\n", "data:\n  tls.key: {v}\n", "SSH_KEY_B64={v}"]),
        value,
        "private_key",
    )


ENV_NAMES = (
    "HONEYCOMB_WRITEKEY",
    "ROLLBAR_ACCESS_TOKEN",
    "SEGMENT_WRITE_KEY",
    "ALGOLIA_ADMIN_KEY",
    "MEILI_MASTER_KEY",
    "SESSION_SECRET",
    "JWT_SIGNING_KEY",
    "ENCRYPTION_KEY",
    "GPG_PASSPHRASE",
    "SIGNING_SECRET",
    "HMAC_KEY",
    "WEBHOOK_SECRET",
    "APP_CLIENT_SECRET",
    "MINIO_ROOT_PASSWORD",
    "KEYCLOAK_ADMIN_PASSWORD",
    "RABBITMQ_DEFAULT_PASS",
    "CODECOV_TOKEN",
    "SONAR_TOKEN",
    "SNYK_TOKEN",
    "CF_API_TOKEN",
    "VAULT_TOKEN",
    "AUTH0_CLIENT_SECRET",
    "POSTHOG_PERSONAL_API_KEY",
    "LD_SDK_KEY",
    "BUGSNAG_API_KEY",
    "PGPASSWORD",
    "MYSQL_PWD",
    "REDISCLI_AUTH",
)


def _env_dump(rng: Rng) -> Case:
    name = rng.choice(ENV_NAMES)
    value = _password(rng)
    before = [
        "HOME=/home/runner",
        "PATH=/usr/local/bin:/usr/bin:/bin",
        f"HOSTNAME=runner-{_r(rng, LOWER + DIGITS, 8)}",
    ]
    template = rng.choice(
        [
            "$ printenv\n" + "\n".join(before) + f"\n{name}={{v}}\nLANG=C.UTF-8",
            f"$ env | grep -i {name.split('_')[0].lower()}\n{name}={{v}}",
            'docker inspect app --format \'{{{{json .Config.Env}}}}\'\n["NODE_ENV=production","'
            + name
            + '={v}"]',
            f"set -x {name} '{{v}}'",  # fish
            f'$env:{name} = "{{v}}"',  # PowerShell
            f'setx {name} "{{v}}"',
            f'  - name: {name}\n    value: "{{v}}"',  # k8s env
        ]
    )
    return _fill(template, value, "generic_secret")


CONFIG_TEMPLATES = (
    '[database]\nhost = db.internal\npassword = "{v}"\n',  # TOML
    "spring.datasource.password={v}\nspring.datasource.username=app",  # properties
    "db.password = {v}",
    "mail.smtp.auth.pass: '{v}'",
    'export AWS_SECRET_ACCESS_KEY="{v}"',
    'admin_password = "{v}"  # terraform.tfvars',
    'ansible_become_pass: "{v}"',
    '  "secretAccessKey": "{v}",',
    'let apiSecret = "{v}";',
    'private static final String API_TOKEN = "{v}";',
    "auth_token: !!str {v}",
    '<entry key="jdbc.password">{v}</entry>',
    "<Password>{v}</Password>",
    "keystore.pass={v}",
    "bind_pw = {v}",  # LDAP
    "requirepass {v}",  # redis.conf
    "masterauth {v}",
    "rpcpassword={v}",
    "STRIPE_WEBHOOK_SECRET='{v}'",
    "--db-password={v}",
    "vault kv put secret/app api_key={v}",
    "mysql -u root -p'{v}' -h db.internal app",
    "sshpass -p '{v}' ssh deploy@10.0.0.8",
    "PGPASSWORD={v} psql -h db -U app -c 'select 1'",
    "docker login -u ci -p {v} registry.acme.internal",
    "htpasswd -b -c /etc/nginx/.htpasswd admin {v}",
    "openssl pkcs12 -export -in c.pem -out c.p12 -passout pass:{v}",
    "redis-cli -h cache -a {v} ping",
    "az login --service-principal -u http://app -p {v} --tenant acme",
    "ALTER USER app WITH PASSWORD '{v}';",
    "x_api_secret: {v}",
    '"password" => "{v}",',  # PHP/Ruby hash
    "credentials: {{ user: 'svc', pass: '{v}' }}",
)


def _config(rng: Rng) -> Case:
    return _fill(rng.choice(CONFIG_TEMPLATES), _password(rng), "generic_secret")


def _escaped_json(rng: Rng) -> Case:
    """A credential inside JSON that was itself serialised into a string (tool output of tool output)."""
    value = _password(rng)
    name = rng.choice(["password", "api_key", "token", "client_secret", "secret"])
    inner = f'{{{{\\"user\\": \\"svc\\", \\"{name}\\": \\"{{v}}\\"}}}}'
    return _fill('{{"tool": "read_file", "output": "' + inner + '", "exit": 0}}', value, "generic_secret")


CREDENTIALS: dict[str, Callable[[Rng], Case]] = {
    "k8s_secret": _k8s_secret,
    "docker_config": _docker_config,
    "npmrc": _npmrc,
    "pypirc": _pypirc,
    "netrc": _netrc,
    "conn_string": _conn_strings,
    "url_userinfo": _url_userinfo,
    "curl_auth": _curl_auth,
    "http_log": _http_log,
    "cookie": _cookie,
    "query_secret": _query_secret,
    "escaped_key": _escaped_key,
    "env_dump": _env_dump,
    "config_assign": _config,
    "escaped_json": _escaped_json,
}


# ---- hard negatives ------------------------------------------------------------------------------


def _b64(data: str) -> str:
    return base64.b64encode(data.encode()).decode()


NEGATIVES: dict[str, Callable[[Rng], str]] = {
    "ids": lambda r: r.choice(
        [
            f"request_id={_uuid(r)} span={_r(r, HEX, 16)} trace={_r(r, HEX, 32)}",
            f'{{"id": "{_uuid(r)}", "etag": "\\"{_r(r, HEX, 32)}\\"", "resourceVersion": "{r.randint(10**6, 10**8)}"}}',
            f"arn:aws:iam::{r.randint(10**11, 10**12)}:role/deploy-{_r(r, LOWER, 5)} i-{_r(r, HEX, 17)}",
            f"x-amzn-RequestId: {_uuid(r)}\nx-amz-id-2: {_r(r, B64, 76)}",
        ]
    ),
    "hashes": lambda r: r.choice(
        [
            f"{_r(r, HEX, 64)}  dist/app-1.4.2.tar.gz",
            f"SHA256 (release.zip) = {_r(r, HEX, 64)}\nMD5 (release.zip) = {_r(r, HEX, 32)}",
            f"checksum: sha1:{_r(r, HEX, 40)}",
            f"$2b$12${_r(r, ALNUM + './', 53)}",  # a bcrypt hash is not the password
        ]
    ),
    "git": lambda r: r.choice(
        [
            f"commit {_r(r, HEX, 40)}\nMerge: {_r(r, HEX, 7)} {_r(r, HEX, 7)}\nAuthor: CI Bot\n\n    bump deps",
            f"https://github.com/acme/app/commit/{_r(r, HEX, 40)}",
            f"{_r(r, HEX, 40)} refs/heads/main\n{_r(r, HEX, 40)} refs/tags/v1.{r.randint(0, 9)}.0",
            f"Updating {_r(r, HEX, 7)}..{_r(r, HEX, 7)}\nFast-forward\n src/app.py | 4 ++--",
        ]
    ),
    "digests": lambda r: r.choice(
        [
            f"image: ghcr.io/acme/api@sha256:{_r(r, HEX, 64)}",
            f"Digest: sha256:{_r(r, HEX, 64)}\nStatus: Downloaded newer image for nginx:1.27",
            f"github.com/pkg/errors v0.9.1 h1:{_r(r, B64, 43)}=",
            f'      "integrity": "sha512-{_r(r, B64, 86)}==",',
            f'<script src="app.js" integrity="sha384-{_r(r, B64, 64)}" crossorigin="anonymous"></script>',
            f"--hash=sha256:{_r(r, HEX, 64)} \\\n    --hash=sha256:{_r(r, HEX, 64)}",
        ]
    ),
    "public_keys": lambda r: r.choice(
        [
            f"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{_r(r, B64, 43)} deploy@ci",
            f"github.com ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQ{_r(r, B64, 300)}",
            "-----BEGIN PUBLIC KEY-----\n"
            + "\n".join(_r(r, B64, 64) for _ in range(4))
            + "\n-----END PUBLIC KEY-----",
            "-----BEGIN CERTIFICATE-----\n"
            + "\n".join(_r(r, B64, 64) for _ in range(8))
            + "\n-----END CERTIFICATE-----",
            f"age1{_r(r, BECH32.lower(), 58)}",  # an age recipient (public)
            f"PublicKey = {_r(r, B64, 43)}=\nEndpoint = vpn.acme.example:51820",
        ]
    ),
    "plain_base64": lambda r: r.choice(
        [
            f"data:\n  config.json: {_b64(json.dumps({'replicas': r.randint(1, 9), 'region': 'eu-west-1', 'debug': False}))}",
            f"echo {_b64('hello from the build step number ' + str(r.randint(1, 999)))} | base64 -d",
            f'{{"payload": "{_b64("order=" + str(r.randint(10**5, 10**6)) + "&status=shipped&carrier=ups")}"}}',
            f"Content-Transfer-Encoding: base64\n\n{_b64('Hi team, the quarterly report is attached. Regards, Ops ' * 2)}",
        ]
    ),
    "placeholders": lambda r: r.choice(
        [
            "export API_TOKEN=<your-token>",
            "password: ${DB_PASSWORD}",
            'DATABASE_URL="postgres://${PGUSER}:${PGPASSWORD}@${PGHOST}/app"',
            "token: {{ secrets.DEPLOY_TOKEN }}",
            "ADMIN_PASSWORD=changeme",
            'api_key = "xxxxxxxxxxxxxxxxxxxxxxxx"',
            "//registry.npmjs.org/:_authToken=${NPM_TOKEN}",
            'curl -H "Authorization: Bearer $TOKEN" https://api.acme.example',
            "password = ********",
            "Authorization: Basic <base64 user:pass>",
            "client_secret: REDACTED",
            "SECRET_KEY=your-secret-key-here",
            "machine example.com login USER password PASSWORD",
            "PMAK-<your-postman-key>",
            "HF_TOKEN=hf_...",
            "docker login -u $CI_REGISTRY_USER -p $CI_REGISTRY_PASSWORD $CI_REGISTRY",
            "mysql -u root -p",
            "redis://:<password>@localhost:6379",
            "password=%(DB_PASS)s",
            'auth: "[MASKED]"',
        ]
    ),
    "references": lambda r: r.choice(
        [
            "valueFrom:\n  secretKeyRef:\n    name: db-creds\n    key: password",
            "password_file = /run/secrets/db_password",
            'api_key = os.environ["API_KEY"]',
            "const token = process.env.GITHUB_TOKEN;",
            "vault kv get -field=password secret/data/app/db",
            "aws secretsmanager get-secret-value --secret-id prod/app/db",
            "PASSWORD_MIN_LENGTH=12\nPASSWORD_RESET_TIMEOUT=3600",
            "token_type=bearer&expires_in=3600&scope=read",
            "if not password:\n    raise ValueError('password required')",
            "max_tokens=4096 prompt_tokens=812 completion_tokens=221",
            'FATAL:  password authentication failed for user "app"',
            "password: !vault-ref db/prod#password",
        ]
    ),
    "no_secret_urls": lambda r: r.choice(
        [
            "postgres://app@db.internal:5432/app?sslmode=require",
            "redis://cache.internal:6379/0",
            "amqp://rabbit.internal:5672/%2F",
            "git clone git@github.com:acme/app.git",
            f"https://cdn.acme.example/assets/main.{_r(r, HEX, 8)}.js",
            f"https://www.youtube.com/watch?v={_r(r, URLSAFE, 11)}&t=42s",
            f"https://api.acme.example/v1/items?page={r.randint(1, 9)}&sort=desc&cursor={_r(r, HEX, 24)}",
        ]
    ),
    "docs_examples": lambda r: r.choice(
        [
            "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "Your key looks like `sk-...` and starts with a prefix; never commit it.",
            "Tokens start with `ghp_` followed by 36 characters.",
            "Example: AGE-SECRET-KEY-1... (keep this file private)",
            "Set HUGGINGFACE_TOKEN to a token with read scope (hf_xxx).",
            "The header is `Authorization: Bearer <token>`.",
        ]
    ),
    "chain_public": lambda r: r.choice(
        [
            f"tx 0x{_r(r, HEX, 64)} confirmed in block {r.randint(10**7, 10**8)}",
            f"to: 0x{_r(r, HEX, 40)} value: {r.randint(1, 99)}.{r.randint(0, 99)} ETH",
            f"blockHash: 0x{_r(r, HEX, 64)}\nparentHash: 0x{_r(r, HEX, 64)}",
        ]
    ),
    "code_text": lambda r: r.choice(
        [
            "def check_password(user, password):\n    return bcrypt.checkpw(password.encode(), user.password_hash)",
            "session_token = secrets.token_urlsafe(32)",
            "The session cookie is rotated on login; tokens expire after 15 minutes.",
            f"build {_r(r, LOWER + DIGITS, 12)} finished in {r.randint(10, 99)}s, cache key node-{_r(r, HEX, 40)}",
            "kubectl get secret app-creds -o jsonpath='{.data.password}' | base64 -d",
        ]
    ),
}


def _row(text: str, spans: list[tuple[str, int, int]], family: str) -> dict[str, object]:
    return {
        "text": text,
        "spans": [{"kind": k, "start": s, "end": e} for k, s, e in spans],
        "group": "positive" if spans else "negative",
        "family": family,
    }


def generate(
    seed: int = 2026_1207, per_vendor: int = 8, per_family: int = 20, per_negative: int = 20
) -> list[dict[str, object]]:
    rng = random.Random(seed)
    rows = [
        _row(*factory(rng), family)
        for families, count in (
            (VENDORS, per_vendor),
            (STRUCTURAL_EXTRA, per_vendor),
            (CREDENTIALS, per_family),
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
