"""Generate the red-team secrets/PII set (benchmarks/data/secrets_redteam.jsonl), seeded.

Written independently of the rules to probe what they miss: vendor formats beyond the first rule
set, credentials in many config syntaxes, PII variants, and hard negatives (hashes, ids, images,
placeholders, documented test values). Every value is synthesised from a public format description
(prefix, alphabet, length, checksum); none is a real credential. Each line:
{"text", "spans": [{"kind", "start", "end"}], "group": "positive" | "negative", "family"}.

    .venv/bin/python -m benchmarks.data.secrets_redteam
"""

from __future__ import annotations

import base64
import json
import random
import string
from collections.abc import Callable
from pathlib import Path

OUT = Path(__file__).with_name("secrets_redteam.jsonl")
UPPER = string.ascii_uppercase
ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "-_"
HEX = "0123456789abcdef"
BASE32 = UPPER + "234567"

Rng = random.Random
# A case: text plus labelled spans (kind, start, end) inside it.
Case = tuple[str, list[tuple[str, int, int]]]


def _r(rng: Rng, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _inside(kind: str, head: str, secret: str, tail: str = "") -> Case:
    return head + secret + tail, [(kind, len(head), len(head) + len(secret))]


# Neutral surroundings for a bare token: no secret-like name nearby, so only the format can find it.
NEUTRAL = (
    "{f}",
    "SERVICE_VALUE={f}",
    'cfg = {{"value": "{f}", "retries": 3}}',
    "settings:\n  upstream:\n    value: {f}\n  region: eu-west-1",
    "2025-06-01 12:00:03,114 DEBUG loader: using {f} for upstream calls",
    "X-Upstream-Value: {f}",
    "I pasted {f} into the form, but it says unauthorized. Any idea?",
    "docker run -e VALUE={f} registry.local/app:1.4",
    "line one of the notes\n{f}\nline three of the notes",
    "client.configure(value='{f}')",
)


def _neutral(kind: str, token: str, rng: Rng) -> Case:
    template = rng.choice(NEUTRAL)
    head = template.split("{f}")[0].replace("{{", "{").replace("}}", "}")
    text = template.replace("{{", "{").replace("}}", "}").replace("{f}", token)
    return text, [(kind, len(head), len(head) + len(token))]


def _token(kind: str, make: Callable[[Rng], str]) -> Callable[[Rng], Case]:
    return lambda rng: _neutral(kind, make(rng), rng)


def _jwt(rng: Rng) -> str:
    def enc(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    head = enc({"alg": rng.choice(["RS256", "HS512", "EdDSA"]), "kid": _r(rng, HEX, 8)})
    body = enc(
        {
            "iss": "https://auth.corp.local",
            "sub": _r(rng, HEX, 12),
            "exp": rng.randint(1_700_000_000, 1_900_000_000),
        }
    )
    return f"{head}.{body}.{_r(rng, URLSAFE, rng.choice([43, 86, 342]))}"


def _pem(rng: Rng) -> Case:
    label = rng.choice(["EC", "DSA", "OPENSSH", "ENCRYPTED", "RSA"])
    lines = [_r(rng, B64, 64) for _ in range(rng.randint(3, 8))] + [_r(rng, B64, 20) + "=="]
    body = "\n".join(lines)
    if label == "RSA":  # legacy encrypted PEM: headers before the body
        body = f"Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,{_r(rng, HEX.upper(), 32)}\n\n{body}"
    key = f"-----BEGIN {label} PRIVATE KEY-----\n{body}\n-----END {label} PRIVATE KEY-----"
    return _inside("private_key", rng.choice(["", "cat id_key\n", "key.pem:\n"]), key, "\n")


def _pgp(rng: Rng) -> Case:
    body = "\n".join(_r(rng, B64, 64) for _ in range(rng.randint(4, 9)))
    key = (
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\nComment: exported\n\n"
        f"{body}\n={_r(rng, B64, 4)}\n-----END PGP PRIVATE KEY BLOCK-----"
    )
    return _inside("private_key", "backup of signing key:\n", key)


def _putty(rng: Rng) -> Case:
    public = "\n".join(_r(rng, B64, 64) for _ in range(4))
    private = "\n".join(_r(rng, B64, 64) for _ in range(rng.randint(4, 8)))
    key = (
        f"PuTTY-User-Key-File-{rng.choice([2, 3])}: ssh-rsa\nEncryption: none\nComment: deploy@ci\n"
        f"Public-Lines: 4\n{public}\nPrivate-Lines: 6\n{private}\nPrivate-MAC: {_r(rng, HEX, 64)}"
    )
    return _inside("private_key", "", key, "\n")


def _gcp_json(rng: Rng) -> Case:
    key_id = _r(rng, HEX, 40)
    body = "\\n".join(_r(rng, B64, 64) for _ in range(6))
    pem = f"-----BEGIN PRIVATE KEY-----\\n{body}\\n-----END PRIVATE KEY-----\\n"
    head = '{\n  "type": "service_account",\n  "project_id": "proj-' + _r(rng, HEX, 6) + '",\n'
    head += '  "private_key_id": "'
    mid = '",\n  "private_key": "'
    email = "svc@proj.iam.gserviceaccount.com"
    text = head + key_id + mid + pem + '",\n  "client_email": "' + email + '"\n}'
    spans = [
        ("email", text.index(email), text.index(email) + len(email)),
        ("gcp_service_account", len(head), len(head) + 40),
        ("private_key", len(head) + 40 + len(mid), len(head) + 40 + len(mid) + len(pem)),
    ]
    return text, spans


def _aws_session(rng: Rng) -> Case:
    token = rng.choice(["IQoJb3JpZ2luX2Vj", "FwoGZXIvYXdzE"]) + _r(rng, B64, rng.randint(300, 500))
    key = "ASIA" + _r(rng, BASE32, 16)
    text = f"[profile tmp]\naws_access_key_id = {key}\naws_session_token = {token}\n"
    start = text.index(token)
    return text, [
        ("aws_access_key", text.index(key), text.index(key) + 20),
        ("aws_session_token", start, start + len(token)),
    ]


def _azure(rng: Rng) -> Case:
    choice = rng.randrange(3)
    if choice == 0:
        key = _r(rng, B64, 86) + "=="
        return _inside(
            "azure_key",
            "AZURE_STORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=https;AccountName=st"
            + _r(rng, string.ascii_lowercase, 8)
            + ";AccountKey=",
            key,
            ";EndpointSuffix=core.windows.net",
        )
    if choice == 1:
        key = _r(rng, B64, 43) + "="
        return _inside(
            "azure_key",
            "Endpoint=sb://bus-prod.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;"
            "SharedAccessKey=",
            key,
        )
    sig = _r(rng, ALNUM, 40) + rng.choice(["%2B", "%2F", "x"]) + _r(rng, ALNUM, 3) + "%3D"
    return _inside(
        "azure_key",
        "https://st01.blob.core.windows.net/backups/db.bak?sv=2022-11-02&ss=b&srt=o&sp=r"
        "&se=2026-01-01T00:00:00Z&spr=https&sig=",
        sig,
        ' "download"',
    )


def _sentry(rng: Rng) -> Case:
    if rng.random() < 0.6:
        key = _r(rng, HEX, 32)
        host = rng.choice(["ingest.sentry.io", "ingest.us.sentry.io", "ingest.de.sentry.io"])
        return _inside(
            "sentry_token", 'sentry_sdk.init(dsn="https://', key, f'@o{rng.randint(10**5, 10**7)}.{host}/42")'
        )
    return _neutral(
        "sentry_token",
        rng.choice(["sntrys_eyJpYXQiOjE3" + _r(rng, URLSAFE, 120), "sntryu_" + _r(rng, HEX, 64)]),
        rng,
    )


def _discord_webhook(rng: Rng) -> Case:
    url = (
        f"https://{rng.choice(['discord.com', 'discordapp.com'])}/api/webhooks/"
        f"{rng.randint(10**17, 10**19)}/{_r(rng, URLSAFE, 68)}"
    )
    return _inside("discord_webhook", "curl -X POST -H 'Content-Type: application/json' ", url, " -d '{}'")


def _discord_bot(rng: Rng) -> str:
    user_id = str(rng.randint(10**17, 10**19 - 1)).encode()
    head = base64.b64encode(user_id).decode().rstrip("=")
    return f"{head}.{_r(rng, URLSAFE, 6)}.{_r(rng, URLSAFE, 38)}"


def _okta(rng: Rng) -> Case:
    token = "00" + _r(rng, URLSAFE, 40)
    return rng.choice(
        [
            _inside("okta_token", "Authorization: SSWS ", token),
            _inside("okta_token", "OKTA_API_TOKEN=", token),
            _inside("okta_token", 'okta:\n  client:\n    token: "', token, '"'),
        ]
    )


def _cloudflare(rng: Rng) -> Case:
    token = _r(rng, URLSAFE, 40)
    gkey = _r(rng, HEX, 37)
    return rng.choice(
        [
            _inside("cloudflare_token", "export CLOUDFLARE_API_TOKEN=", token),
            _inside("cloudflare_token", "CF_API_TOKEN: ", token),
            _inside("cloudflare_token", "X-Auth-Key: ", gkey, "\nX-Auth-Email-Verified: true"),
        ]
    )


def _datadog(rng: Rng) -> Case:
    return rng.choice(
        [
            _inside("datadog_key", "DD_API_KEY=", _r(rng, HEX, 32)),
            _inside("datadog_key", "datadog_app_key: ", _r(rng, HEX, 40)),
            _inside("datadog_key", "-H 'DD-API-KEY: ", _r(rng, HEX, 32), "'"),
        ]
    )


def _heroku(rng: Rng) -> Case:
    uuid = "-".join(_r(rng, HEX, n) for n in (8, 4, 4, 4, 12))
    return rng.choice(
        [
            _inside("heroku_key", "HEROKU_API_KEY=", uuid),
            _neutral("heroku_key", "HRKU-AA" + _r(rng, URLSAFE, 58), rng),
        ]
    )


def _twilio(rng: Rng) -> Case:
    sid = "AC" + _r(rng, HEX, 32)
    return rng.choice(
        [_neutral("twilio_key", sid, rng), _neutral("twilio_key", "SK" + _r(rng, HEX, 32), rng)]
    )


def _vault(rng: Rng) -> str:
    return rng.choice(["hvs.", "hvb."]) + _r(rng, URLSAFE, rng.choice([24, 90, 138]))


FACTORIES: dict[str, Callable[[Rng], Case]] = {
    "azure": _azure,
    "digitalocean": _token(
        "digitalocean_token", lambda r: r.choice(["dop_v1_", "doo_v1_", "dor_v1_"]) + _r(r, HEX, 64)
    ),
    "shopify": _token(
        "shopify_token", lambda r: r.choice(["shpat_", "shpss_", "shpca_", "shppa_"]) + _r(r, HEX, 32)
    ),
    "mailgun": _token("mailgun_key", lambda r: "key-" + _r(r, HEX, 32)),
    "mailchimp": _token("mailchimp_key", lambda r: _r(r, HEX, 32) + f"-us{r.randint(1, 21)}"),
    "square": _token(
        "square_token",
        lambda r: r.choice(
            ["sq0atp-" + _r(r, URLSAFE, 22), "sq0csp-" + _r(r, URLSAFE, 43), "EAAA" + _r(r, URLSAFE, 60)]
        ),
    ),
    "heroku": _heroku,
    "datadog": _datadog,
    "newrelic": _token(
        "newrelic_key",
        lambda r: r.choice(
            ["NRAK-" + _r(r, UPPER + string.digits, 27), "NRJS-" + _r(r, HEX, 19), _r(r, HEX, 36) + "NRAL"]
        ),
    ),
    "sentry": _sentry,
    "discord_bot": _token("discord_token", _discord_bot),
    "discord_webhook": _discord_webhook,
    "telegram": _token("telegram_bot_token", lambda r: f"{r.randint(10**8, 10**10)}:AA{_r(r, URLSAFE, 33)}"),
    "linear": _token("linear_key", lambda r: "lin_api_" + _r(r, ALNUM, 40)),
    "notion": _token(
        "notion_token", lambda r: r.choice(["secret_" + _r(r, ALNUM, 43), "ntn_" + _r(r, ALNUM, 46)])
    ),
    "doppler": _token(
        "doppler_token", lambda r: r.choice(["dp.pt.", "dp.st.", "dp.sa.", "dp.ct."]) + _r(r, ALNUM, 43)
    ),
    "vault": _token("vault_token", _vault),
    "databricks": _token("databricks_token", lambda r: "dapi" + _r(r, HEX, 32) + r.choice(["", "-2", "-3"])),
    "atlassian": _token(
        "atlassian_token", lambda r: "ATATT3xFfGF0" + _r(r, URLSAFE + "=", 174) + "=" + _r(r, HEX.upper(), 8)
    ),
    "okta": _okta,
    "cloudflare": _cloudflare,
    "grafana": _token(
        "grafana_token",
        lambda r: r.choice(
            ["glc_eyJvIjoi" + _r(r, ALNUM, 100) + "=", "glsa_" + _r(r, ALNUM, 32) + "_" + _r(r, HEX, 8)]
        ),
    ),
    "gitlab": _token(
        "gitlab_token",
        lambda r: (
            r.choice(["glpat-", "gldt-", "glrt-", "glcbt-", "glptt-", "gloas-", "glimt-"])
            + _r(r, URLSAFE, 20)
        ),
    ),
    "github": _token(
        "github_token",
        lambda r: r.choice(
            [
                r.choice(["ghs_", "gho_", "ghu_", "ghr_"]) + _r(r, ALNUM, 36),
                "github_pat_" + _r(r, ALNUM, 22) + "_" + _r(r, ALNUM, 59),
            ]
        ),
    ),
    "slack": _token(
        "slack_token",
        lambda r: r.choice(
            [
                f"xapp-1-A{_r(r, UPPER + string.digits, 10)}-{r.randint(10**12, 10**13)}-{_r(r, HEX, 64)}",
                f"xoxe.xoxp-1-{_r(r, ALNUM, 140)}",
                f"xoxe-1-{_r(r, ALNUM, 140)}",
            ]
        ),
    ),
    "stripe": _token(
        "stripe_key", lambda r: r.choice(["rk_live_" + _r(r, ALNUM, 99), "whsec_" + _r(r, ALNUM, 32)])
    ),
    "sendgrid": _token("sendgrid_key", lambda r: f"SG.{_r(r, URLSAFE, 22)}.{_r(r, URLSAFE, 43)}"),
    "twilio": _twilio,
    "openai": _token(
        "openai_key",
        lambda r: (
            r.choice(["sk-proj-", "sk-svcacct-", "sk-admin-"]) + _r(r, URLSAFE, r.choice([48, 100, 156]))
        ),
    ),
    "anthropic": _token(
        "anthropic_key", lambda r: r.choice(["sk-ant-api03-", "sk-ant-admin01-"]) + _r(r, URLSAFE, 93) + "AA"
    ),
    "google_oauth": _token(
        "google_oauth", lambda r: r.choice(["GOCSPX-" + _r(r, URLSAFE, 28), "ya29.a0" + _r(r, URLSAFE, 150)])
    ),
    "firebase": _token("firebase_key", lambda r: f"AAAA{_r(r, URLSAFE, 7)}:APA91b{_r(r, URLSAFE, 134)}"),
    "firebase_web": lambda r: _inside(
        "google_api_key",
        'const firebaseConfig = {\n  apiKey: "',
        "AIza" + _r(r, URLSAFE, 35),
        '",\n  authDomain: "x.firebaseapp.com"\n};',
    ),
    "aws": _aws_session,
    "gcp_json": _gcp_json,
    "pem": _pem,
    "pgp": _pgp,
    "putty": _putty,
    "jwt": _token("jwt", _jwt),
}


def _password(rng: Rng) -> str:
    return rng.choice(
        [
            _r(rng, ALNUM, rng.randint(7, 12)) + rng.choice("!#%^*_-") + _r(rng, string.digits, 2),
            rng.choice(["Summer", "Winter", "Falcon", "Orange"])
            + str(rng.randint(1990, 2030))
            + rng.choice("!#$"),
            _r(rng, ALNUM, 20),
        ]
    )


def _dsn(rng: Rng) -> Case:
    scheme, kind = rng.choice(
        [
            ("mongodb+srv", "connection_string"),
            ("rediss", "connection_string"),
            ("amqps", "connection_string"),
            ("mssql", "connection_string"),
            ("postgresql+psycopg2", "connection_string"),
            ("mysql+pymysql", "connection_string"),
            ("snowflake", "connection_string"),
            ("sftp", "basic_auth_url"),
            ("ldap", "basic_auth_url"),
            ("ldaps", "basic_auth_url"),
            ("ftp", "basic_auth_url"),
            ("smb", "basic_auth_url"),
            ("imaps", "basic_auth_url"),
        ]
    )
    user = rng.choice(["svc", "admin", "etl_user", "cn=reader"])
    password = _password(rng)
    host = rng.choice(
        ["db.prod.internal:27017/app", "db-1.internal", "files.corp.local/share", "acct.eu-west-1/db"]
    )
    return _inside(
        kind, rng.choice(["URL=", "connect('", "  uri: "]) + f"{scheme}://{user}:", password, f"@{host}"
    )


def _jdbc(rng: Rng) -> Case:
    password = _password(rng)
    return rng.choice(
        [
            _inside(
                "connection_string", "jdbc:postgresql://db:5432/app?user=app&password=", password, "&ssl=true"
            ),
            _inside("connection_string", "spring.datasource.url=jdbc:mysql://app:", password, "@db:3306/app"),
            _inside("connection_string", "jdbc:oracle:thin:scott/", password, "@//db:1521/ORCL"),
        ]
    )


def _auth_header(rng: Rng) -> Case:
    basic = base64.b64encode(f"svc-{rng.randint(1, 99)}:{_password(rng)}".encode()).decode()
    return rng.choice(
        [
            _inside("generic_secret", "Authorization: Basic ", basic),
            _inside(
                "generic_secret", '"headers": {"Authorization": "Bearer ', _r(rng, URLSAFE + ".", 60), '"}'
            ),
            _inside("generic_secret", "curl -u admin:", _password(rng), " https://jenkins.local/api/json"),
        ]
    )


ASSIGNMENTS = (
    'password: "{v}"',  # YAML
    'db_password = "{v}"',  # TOML
    "[database]\npassword={v}\nhost=db",  # INI
    '<add key="DbPassword" value="{v}" />',  # XML attribute pair
    "<password>{v}</password>",  # XML element
    "export DB_PASS='{v}'",  # shell
    "connect(host='db', user='app', passwd='{v}')",  # Python kwargs
    '{{"apiKey": "{v}", "region": "eu"}}',  # JSON
    "environment:\n  - MYSQL_ROOT_PASSWORD={v}",  # docker compose
    "passwd: {v}",
    "ENV API_KEY={v}",  # Dockerfile
    "machine api.corp.local login deploy password {v}",  # .netrc
    "CREATE USER app IDENTIFIED BY '{v}';",  # SQL
    "secret_key_base: {v}",
    "client_secret={v}&grant_type=client_credentials",
    "$password = '{v}';",  # PHP
)


def _assignment(rng: Rng) -> Case:
    template = rng.choice(ASSIGNMENTS)
    value = _password(rng) if "{v}" in template else ""
    head = template.split("{v}")[0].replace("{{", "{").replace("}}", "}")
    text = template.replace("{{", "{").replace("}}", "}").replace("{v}", value)
    return text, [("generic_secret", len(head), len(head) + len(value))]


CREDENTIALS: dict[str, Callable[[Rng], Case]] = {
    "dsn": _dsn,
    "jdbc": _jdbc,
    "auth_header": _auth_header,
    "assignment": _assignment,
}


def _luhn_complete(digits: str) -> str:
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = int(char)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return digits + str(-total % 10)


def _card(rng: Rng) -> Case:
    network = rng.choice(["visa", "mc", "amex", "unionpay16", "unionpay19", "discover"])
    prefix, length = {
        "visa": ("4", 16),
        "mc": (rng.choice(["51", "55", "2221", "2720"]), 16),
        "amex": (rng.choice(["34", "37"]), 15),
        "unionpay16": ("62", 16),
        "unionpay19": ("62", 19),
        "discover": ("6011", 16),
    }[network]
    digits = _luhn_complete(prefix + _r(rng, string.digits, length - len(prefix) - 1))
    sep = rng.choice([" ", "-", "", "."]) if network != "unionpay19" else rng.choice([" ", ""])
    if network == "amex":
        number = sep.join([digits[:4], digits[4:10], digits[10:]])
    else:
        number = sep.join(digits[i : i + 4] for i in range(0, len(digits), 4))
    head = rng.choice(["Card: ", "card_number=", "paid with ", '{"pan": "'])
    return _inside("credit_card", head, number, '"}' if head.startswith("{") else " exp 09/28")


IBAN_LENGTH = {
    "DE": 22,
    "FR": 27,
    "ES": 24,
    "IT": 27,
    "NL": 18,
    "BE": 16,
    "CH": 21,
    "PL": 28,
    "SE": 24,
    "NO": 15,
    "GB": 22,
    "PT": 25,
    "AT": 20,
    "IE": 22,
    "SA": 24,
    "BR": 29,
    "TR": 26,
    "MT": 31,
}


def _iban(rng: Rng) -> Case:
    country = rng.choice(sorted(IBAN_LENGTH))
    bban = _r(rng, string.digits, IBAN_LENGTH[country] - 4)
    if country in ("GB", "IE", "NL", "MT"):
        bban = _r(rng, UPPER, 4) + bban[4:]
    numeric = int("".join(str(int(c, 36)) for c in bban + country + "00"))
    compact = f"{country}{98 - numeric % 97:02d}{bban}"
    spaced = (
        " ".join(compact[i : i + 4] for i in range(0, len(compact), 4)) if rng.random() < 0.6 else compact
    )
    return _inside(
        "iban", rng.choice(["IBAN: ", "Please wire to ", "iban="]), spaced, rng.choice(["", ". Thanks", "\n"])
    )


def _phone(rng: Rng) -> Case:
    number = rng.choice(
        [
            f"+44 20 {rng.randint(7000, 8999)} {rng.randint(1000, 9999)}",
            f"+1 ({rng.randint(201, 989)}) {rng.randint(200, 999)}-{rng.randint(1000, 9999)}",
            f"+49.30.{rng.randint(1000000, 9999999)}",
            f"+33 {rng.randint(1, 9)} {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)}",
            f"+81-3-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}",
            f"+91 {rng.randint(70000, 99999)} {rng.randint(10000, 99999)}",
            f"+{rng.choice(['61', '86', '34', '39'])}{rng.randint(10**8, 10**10)}",
            f"+55 11 9{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}",
            f"({rng.randint(201, 989)}) {rng.randint(200, 999)}-{rng.randint(1000, 9999)}",
            f"{rng.randint(201, 989)}.{rng.randint(200, 999)}.{rng.randint(1000, 9999)}",
        ]
    )
    return _inside(
        "phone",
        rng.choice(["Call me at ", "tel: ", "phone=", "Contact: Ana, "]),
        number,
        rng.choice(["", " tomorrow", ".", "\n"]),
    )


def _ssn(rng: Rng) -> Case:
    area, group, serial = rng.randint(1, 665), rng.randint(1, 99), rng.randint(1, 9999)
    value = rng.choice(
        [
            f"{area:03d}-{group:02d}-{serial:04d}",
            f"{area:03d} {group:02d} {serial:04d}",
            f"{area:03d}{group:02d}{serial:04d}",
        ]
    )
    return _inside(
        "us_ssn",
        rng.choice(["SSN: ", "social security number ", "ssn="]),
        value,
        rng.choice(["", " (verified)"]),
    )


def _email(rng: Rng) -> Case:
    value = rng.choice(
        [
            f"{_r(rng, string.ascii_lowercase, 5)}.{_r(rng, string.ascii_lowercase, 6)}+{rng.choice(['news', 'billing', 'x'])}@mail.corp-{rng.randint(1, 99)}.co.uk",
            f"{_r(rng, string.ascii_lowercase, 6)}@eu.sub.{_r(rng, string.ascii_lowercase, 7)}.io",
            rng.choice(["josé.garcía", "müller", "françois", "zoë"]) + f"{rng.randint(1, 99)}@exemple.fr",
            rng.choice(["用户", "пользователь", "δοκιμή"])
            + "@"
            + rng.choice(["例子.中国", "пример.рф", "παράδειγμα.ελ"]),
        ]
    )
    return _inside(
        "email",
        rng.choice(["From: ", "reply to ", "mailto:", '"email": "']),
        value,
        rng.choice(["", " thanks", '"']),
    )


def _ipv6(rng: Rng) -> Case:
    h = lambda: format(rng.randint(1, 0xFFFF), "x")  # noqa: E731
    value = rng.choice(
        [
            f"2001:db8::{h()}",
            f"fe80::{h()}:{h()}",
            f"2a02:{h()}:{h()}::{h()}",
            f"::ffff:192.0.2.{rng.randint(1, 254)}",
            f"2001:db8:{h()}:{h()}:{h()}:{h()}:{h()}:{h()}",
        ]
    )
    return _inside(
        "ip_address",
        rng.choice(["peer ", "addr=", "listening on [", "from "]),
        value,
        rng.choice(["", "]:443", " port 22"]),
    )


PII: dict[str, Callable[[Rng], Case]] = {
    "card": _card,
    "iban": _iban,
    "phone": _phone,
    "ssn": _ssn,
    "email": _email,
    "ipv6": _ipv6,
}


def _uuid(rng: Rng) -> str:
    return "-".join(_r(rng, HEX, n) for n in (8, 4, 4, 4, 12))


NEGATIVES: dict[str, Callable[[Rng], str]] = {
    "uuid": lambda r: f"request_id={_uuid(r)} trace={_uuid(r).replace('-', '')}",
    "hashes": lambda r: f"md5 {_r(r, HEX, 32)}  sha1 {_r(r, HEX, 40)}  sha256 {_r(r, HEX, 64)}",
    "git": lambda r: f"commit {_r(r, HEX, 40)}\nAuthor: Dev Team\n    fix {_r(r, HEX, 7)}",
    "image": lambda r: '<img src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAA' + _r(r, B64, 400) + '==">',
    "random_id": lambda r: (
        f"id: {_r(r, ALNUM, 20)} order ORD-{r.randint(10**7, 10**8)} sku {_r(r, UPPER, 3)}-{r.randint(100, 999)}"
    ),
    "version": lambda r: (
        f"numpy=={r.randint(1, 2)}.{r.randint(0, 26)}.{r.randint(0, 9)} build 2024.{r.randint(1, 12)}.{r.randint(1, 28)} v{r.randint(1, 9)}.{r.randint(0, 9)}.{r.randint(0, 9)}.{r.randint(0, 99)}"
    ),
    "timestamp": lambda r: (
        f"ts={r.randint(1_600_000_000_000, 1_800_000_000_000)} at 2025-0{r.randint(1, 9)}-1{r.randint(0, 9)}T1{r.randint(0, 9)}:0{r.randint(0, 9)}:00.{r.randint(100, 999)}Z"
    ),
    "isbn": lambda r: (
        f"ISBN 978-{r.randint(0, 1)}-{r.randint(100, 999)}-{r.randint(10000, 99999)}-{r.randint(0, 9)}"
    ),
    "order": lambda r: (
        f"Order #{r.randint(10**9, 10**10)} / invoice INV-{r.randint(2020, 2026)}-{r.randint(10**5, 10**6)}"
    ),
    "placeholder": lambda r: r.choice(
        [
            "API_KEY=<YOUR_API_KEY>",
            "token: xxx",
            'password = "${TOKEN}"',
            "DB_PASSWORD=changeme",
            "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
            "OPENAI_API_KEY=sk-proj-...",
            "export GITHUB_TOKEN=ghp_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
            "Authorization: Bearer {{access_token}}",
            "SLACK_BOT_TOKEN=xoxb-your-bot-token",
            "password: <password>",
            'secret = os.getenv("APP_SECRET")',
            "stripe_key = 'sk_live_...'",
            "DSN=postgres://user:pass@localhost/db",
        ]
    ),
    "test_card": lambda r: r.choice(
        [
            "Use the test card 4242 4242 4242 4242 with any future date in sandbox mode.",
            "Stripe test card: 4000 0566 5566 5556 (Visa debit)",
            "For testing, enter 5555 5555 5555 4444 and CVC 123.",
        ]
    ),
    "phone_like_date": lambda r: (
        f"Released on {r.randint(1, 28):02d}.{r.randint(1, 12):02d}.{r.randint(2000, 2030)} and 2024-{r.randint(1, 12):02d}-{r.randint(1, 28):02d} 10:{r.randint(10, 59)}"
    ),
    "prose": lambda r: "Rotate the secret token in the vault and update the api key in the password manager.",
    "code": lambda r: (
        "token = request.headers.get('Authorization')\npassword_hash = bcrypt.hash(password)\nmax_tokens=4096"
    ),
}


def _row(text: str, spans: list[tuple[str, int, int]], family: str) -> dict[str, object]:
    return {
        "text": text,
        "spans": [{"kind": k, "start": s, "end": e} for k, s, e in spans],
        "group": "positive" if spans else "negative",
        "family": family,
    }


def generate(seed: int = 18_0618, per_family: int = 12, per_negative: int = 15) -> list[dict[str, object]]:
    rng = random.Random(seed)
    rows = [
        _row(*factory(rng), family)
        for families in (FACTORIES, CREDENTIALS, PII)
        for family, factory in families.items()
        for _ in range(per_family if families is FACTORIES else per_family * 3)
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
