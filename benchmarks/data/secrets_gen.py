"""Generate the labelled secrets set (benchmarks/data/secrets_labelled.jsonl), seeded.

Every positive is synthesised here from the token's public format (prefix, alphabet, length); no
real key is copied. Each line: {"text", "spans": [{"kind", "start", "end"}], "group"} where group
is "positive" or "negative" (look-alikes that must not fire).

    .venv/bin/python -m benchmarks.data.secrets_gen
"""

from __future__ import annotations

import base64
import json
import random
import string
from collections.abc import Callable
from pathlib import Path

OUT = Path(__file__).with_name("secrets_labelled.jsonl")
ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "-_"
BASE32 = string.ascii_uppercase + "234567"
HEX = "0123456789abcdef"

# A fragment carries its own context when the kind needs one; (start, end) locate the secret in it.
Fragment = tuple[str, int, int]


def _r(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _bare(value: str) -> Fragment:
    return value, 0, len(value)


def _inside(prefix: str, secret: str, suffix: str = "") -> Fragment:
    return prefix + secret + suffix, len(prefix), len(prefix) + len(secret)


def _jwt(rng: random.Random) -> Fragment:
    def enc(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    header = enc({"alg": rng.choice(["HS256", "RS256", "ES256"]), "typ": "JWT"})
    payload = enc(
        {"sub": str(rng.randint(1, 10**9)), "iat": rng.randint(1_600_000_000, 1_800_000_000), "role": "user"}
    )
    return _bare(f"{header}.{payload}.{_r(rng, URLSAFE, 43)}")


def _private_key(rng: random.Random) -> Fragment:
    label = rng.choice(["RSA ", "EC ", "OPENSSH ", ""])
    body = "\n".join(_r(rng, B64, 64) for _ in range(rng.randint(4, 12)))
    return _bare(f"-----BEGIN {label}PRIVATE KEY-----\n{body}\n-----END {label}PRIVATE KEY-----")


def _password(rng: random.Random) -> str:
    return _r(rng, ALNUM, rng.randint(6, 10)) + rng.choice("!#%^*_") + _r(rng, ALNUM, 3)


def _dsn(rng: random.Random) -> Fragment:
    scheme = rng.choice(["postgres", "postgresql", "mysql", "mongodb+srv", "redis", "amqp", "mssql"])
    user = "" if scheme == "redis" else rng.choice(["app", "admin", "svc_orders", "root"])
    host = rng.choice(["db.internal", "10.2.3.4", "cluster0.ab12c.mongodb.net", "cache.prod.local"])
    return _inside(f"{scheme}://{user}:", _password(rng), f"@{host}:5432/app")


def _jdbc(rng: random.Random) -> Fragment:
    return _inside("jdbc:sqlserver://db.corp:1433;databaseName=sales;user=etl;password=", _password(rng), ";")


def _basic_auth(rng: random.Random) -> Fragment:
    return _inside(
        f"https://{rng.choice(['deploy', 'ci', 'bob'])}:", _password(rng), "@git.corp.example.org/repo.git"
    )


def _generic(rng: random.Random) -> Fragment:
    name = rng.choice(["api_key", "SECRET_KEY", "client_secret", "auth_token", "DB_PASSWORD", "x-api-key"])
    value = _r(rng, ALNUM, rng.randint(16, 40))
    style = rng.choice(['{n} = "{v}"', "{n}={v}", '"{n}": "{v}"', "{n}: {v}"])
    head, tail = style.split("{v}")
    return _inside(head.format(n=name), value, tail)


def _bearer(rng: random.Random) -> Fragment:
    return _inside("Authorization: Bearer ", _r(rng, URLSAFE, rng.randint(24, 64)))


FACTORIES: dict[str, Callable[[random.Random], Fragment]] = {
    "aws_access_key": lambda r: _bare("AKIA" + _r(r, BASE32, 16)),
    "aws_secret_key": lambda r: _inside("aws_secret_access_key = ", _r(r, B64, 40)),
    "github_token": lambda r: _bare(r.choice(["ghp_", "gho_", "ghs_"]) + _r(r, ALNUM, 36)),
    "gitlab_token": lambda r: _bare("glpat-" + _r(r, URLSAFE, 20)),
    "slack_token": lambda r: _bare(
        f"xoxb-{r.randint(10**10, 10**11)}-{r.randint(10**10, 10**11)}-{_r(r, ALNUM, 24)}"
    ),
    "slack_webhook": lambda r: _bare(
        f"https://hooks.slack.com/services/T{_r(r, BASE32, 8)}/B{_r(r, BASE32, 8)}/{_r(r, ALNUM, 24)}"
    ),
    "stripe_key": lambda r: _bare(r.choice(["sk_live_", "rk_live_", "sk_test_"]) + _r(r, ALNUM, 24)),
    "openai_key": lambda r: _bare(r.choice(["sk-proj-" + _r(r, URLSAFE, 100), "sk-" + _r(r, ALNUM, 48)])),
    "anthropic_key": lambda r: _bare("sk-ant-api03-" + _r(r, URLSAFE, 93) + "AA"),
    "google_api_key": lambda r: _bare("AIza" + _r(r, URLSAFE, 35)),
    "gcp_service_account": lambda r: _inside(
        '{"type": "service_account", "project_id": "demo", "private_key_id": "', _r(r, HEX, 40), '"}'
    ),
    "azure_key": lambda r: _inside(
        "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=", _r(r, B64, 86) + "==", ";"
    ),
    "twilio_key": lambda r: _bare("SK" + _r(r, HEX, 32)),
    "sendgrid_key": lambda r: _bare(f"SG.{_r(r, URLSAFE, 22)}.{_r(r, URLSAFE, 43)}"),
    "npm_token": lambda r: _bare("npm_" + _r(r, ALNUM, 36)),
    "pypi_token": lambda r: _bare("pypi-AgEIcHlwaS5vcmc" + _r(r, URLSAFE, 120)),
    "huggingface_token": lambda r: _bare("hf_" + _r(r, string.ascii_letters, 34)),
    "jwt": _jwt,
    "private_key": _private_key,
    "connection_string": lambda r: r.choice([_dsn, _dsn, _jdbc])(r),
    "basic_auth_url": _basic_auth,
    "generic_secret": lambda r: r.choice([_generic, _generic, _bearer])(r),
}

# Realistic surroundings: code, env files, JSON, logs, prose, shell.
CONTEXTS = (
    "{f}",
    "export SERVICE_CONFIG_VALUE='{f}'",
    '{{"result": {{"config": "{f}", "status": "ok"}}}}',
    "2025-03-02T10:15:22.331Z INFO  worker-7 loaded credential {f} in 12 ms\n",
    "Sure! I found this in the repo's settings file:\n\n    {f}\n\nShould I rotate it?",
    'client = Client(url="https://api.internal", cfg="{f}", timeout=30)',
    "curl -s -H \"X-Trace: 1\" -d '{f}' https://api.example.net/v1/items",
    "- name: deploy\n  env:\n    VALUE: {f}\n  run: make release",
)

NEGATIVES: tuple[Callable[[random.Random], str], ...] = (
    lambda r: f"request id {r.getrandbits(128):032x} -> user 8d0e{r.randint(1000, 9999)}",
    lambda r: "uuid=" + "-".join(_r(r, HEX, n) for n in (8, 4, 4, 4, 12)),
    lambda r: f"commit {_r(r, HEX, 40)} Merge pull request #{r.randint(1, 9999)}",
    lambda r: f"sha256:{_r(r, HEX, 64)}  dist/app.tar.gz",
    lambda r: (
        "data: "
        + base64.b64encode(
            r.choice(["hello world, how are you today?", "the quick brown fox"]).encode()
        ).decode()
    ),
    lambda r: (
        f"version {r.randint(0, 9)}.{r.randint(0, 30)}.{r.randint(0, 99)} released on 2024-0{r.randint(1, 9)}-1{r.randint(0, 9)}"
    ),
    lambda r: (
        f"ts={r.randint(1_600_000_000, 1_800_000_000)} order #{r.randint(10**9, 10**10)} total=${r.randint(1, 999)}.99"
    ),
    lambda r: (
        "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\nAWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    ),
    lambda r: "OPENAI_API_KEY=sk-" + "x" * 48,
    lambda r: 'api_key: "your-api-key-here"',
    lambda r: "Authorization: Bearer <TOKEN>",
    lambda r: "password=${SECRET}",
    lambda r: "DB_PASSWORD=changeme",
    lambda r: "GITHUB_TOKEN=ghp_" + "a" * 36,
    lambda r: "token = get_token(user)\nmax_tokens=4096\npassword: str = field(repr=False)",
    lambda r: 'api_key = os.environ["API_KEY"]\nsecret = settings.SECRET_KEY',
    lambda r: '{"token_type": "Bearer", "expires_in": 3600, "scope": "read write"}',
    lambda r: "postgres://localhost:5432/app?sslmode=disable and https://example.com/a/b?c=1",
    lambda r: "DATABASE_URL=postgres://app:${DB_PASSWORD}@db:5432/app",
    lambda r: " ".join(
        r.choice(["token", "secret", "rotate", "deploy", "the", "key", "vault", "is"]) for _ in range(12)
    ),
    lambda r: "tokenizer = AutoTokenizer.from_pretrained('bert-base-uncased')",
    lambda r: "secret_name: my-app-secret\npassword_policy: strong",
)


def generate(seed: int = 20251121, per_kind: int = 40, negatives: int = 400) -> list[dict[str, object]]:
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    for kind, factory in FACTORIES.items():
        for _ in range(per_kind):
            fragment, start, end = factory(rng)
            template = rng.choice(CONTEXTS)
            # Quoted contexts would break multi-line fragments in JSON; keep them bare.
            if "\n" in fragment and template.startswith("{{"):
                template = "{f}"
            head = template.split("{f}")[0].replace("{{", "{").replace("}}", "}")
            text = template.replace("{{", "{").replace("}}", "}").replace("{f}", fragment)
            span = {"kind": kind, "start": len(head) + start, "end": len(head) + end}
            rows.append({"text": text, "spans": [span], "group": "positive"})
    for _ in range(negatives):
        rows.append({"text": rng.choice(NEGATIVES)(rng), "spans": [], "group": "negative"})
    return rows


def main() -> None:
    rows = generate()
    with OUT.open("w") as out:
        for row in rows:
            out.write(json.dumps(row) + "\n")
    print(f"wrote {len(rows)} rows to {OUT}")


if __name__ == "__main__":
    main()
