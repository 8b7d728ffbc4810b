"""Secret formats: vendor tokens with fixed prefixes, key blocks, credentials in URLs, and generic
assignments of high-entropy values to secret-like names. Patterns are RE2 syntax with bounded
repeats; group 1, when present, is the secret part."""

from __future__ import annotations

from railguard.detect.secrets._cli_arg_rules import CLI_ARG_RULES
from railguard.detect.secrets._container_rules import CONTAINER_RULES
from railguard.detect.secrets._context_rules import CONTEXT_RULES
from railguard.detect.secrets._credential_rules import CREDENTIAL_RULES
from railguard.detect.secrets._format_rules import FORMAT_RULES
from railguard.detect.secrets._key_rules import KEY_RULES
from railguard.detect.secrets._literal_rules import LITERAL_RULES
from railguard.detect.secrets._names import PASSWORD_NAME as _PASSWORD_NAME
from railguard.detect.secrets._names import SECRET_NAME as _SECRET_NAME
from railguard.detect.secrets._names import VALUE as _VALUE
from railguard.detect.secrets._record_rules import RECORD_RULES
from railguard.detect.secrets._saas_rules import SAAS_RULES
from railguard.detect.secrets._scanner import Rule
from railguard.detect.secrets._shape_rules import SHAPE_RULES
from railguard.detect.secrets._token_rules import TOKEN_RULES
from railguard.detect.secrets._validators import (
    cli_password,
    generic,
    password,
    private_key,
    putty_key,
    unescaped,
    vendor,
    vendor_bounded,
)

# Schemes whose URL password is a database or broker credential (the rest are `basic_auth_url`).
_DB_SCHEMES = (
    r"(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|rediss?|amqps?|mssql|sqlserver|oracle|clickhouse|"
    r"cockroachdb|couchbase|neo4j|nats|snowflake|cassandra|influxdb|kafka|memcached|elasticsearch|"
    r"db2|redshift|vertica|trino|presto)"
)

SECRET_RULES: tuple[Rule, ...] = (
    Rule(
        "aws_access_key",
        r"((?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16})\b",
        vendor(4),
        0.95,
        90,
    ),
    Rule(
        "aws_secret_key",
        r"(?i)aws.{0,20}?(?:secret|sk).{0,20}?[\"'\s:=]+([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+]|$)",
        generic(40, 3.5),
        0.9,
        85,
    ),
    Rule("github_token", r"((?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255})\b", vendor(4), 0.99, 90),
    Rule("github_token", r"(github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})\b", vendor(11), 0.99, 90),
    Rule(
        "gitlab_token",
        r"((?:glpat|gldt|glrt|glptt|glsoat|glcbt|gloas|glimt|glft|glagent|glwt|glffct)-[A-Za-z0-9_\-]{20,300})",
        vendor_bounded(6),
        0.99,
        90,
    ),
    Rule("slack_token", r"(xox(?:[abposre]|e\.xox[bp])-[0-9A-Za-z\-]{10,})", vendor_bounded(5), 0.95, 90),
    Rule(
        "gitlab_token", r"(GR1348941[A-Za-z0-9_\-]{20,})", vendor_bounded(9), 0.95, 90
    ),  # runner registration
    Rule("slack_token", r"(xapp-\d-[A-Z0-9]+-\d+-[a-f0-9]{32,80})", vendor_bounded(5), 0.95, 90),
    Rule(
        "slack_webhook",
        r"(https://hooks\.slack\.com/(?:services|workflows)/T[A-Z0-9]{6,12}/[A-Z0-9]{6,12}/[A-Za-z0-9]{16,40})",
        vendor(40),
        0.99,
        95,
    ),
    Rule("stripe_key", r"((?:sk|rk)_(?:live|test)_[A-Za-z0-9]{20,})\b", vendor(8), 0.99, 90),
    Rule("stripe_key", r"(whsec_[A-Za-z0-9+/=]{32,})", vendor_bounded(6), 0.99, 90),
    Rule(
        "anthropic_key",
        r"(sk-ant-(?:api|admin|oat)\d{2}-[A-Za-z0-9_\-]{32,})",
        vendor_bounded(14),
        0.99,
        95,
    ),
    Rule(
        "openai_key",
        r"(sk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_\-]{32,})",
        vendor_bounded(8),
        0.99,
        90,
    ),
    Rule("openai_key", r"(sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20})\b", vendor(3), 0.99, 90),
    Rule("openai_key", r"(sk-[A-Za-z0-9]{48})\b", vendor(3), 0.9, 90),
    Rule("google_api_key", r"(AIza[0-9A-Za-z_\-]{35})", vendor_bounded(4), 0.95, 90),
    Rule(
        "gcp_service_account",
        r"\"private_key_id\"\s*:\s*\"([a-f0-9]{40})\"",
        vendor(0),
        0.95,
        90,
    ),
    Rule("azure_key", r"(?i)AccountKey=([A-Za-z0-9+/]{86}==)", vendor(0), 0.95, 90),
    Rule("azure_key", r"(?i)SharedAccessKey=([A-Za-z0-9+/]{42,44}=)", vendor(0), 0.95, 90),
    # A SAS signature: an HMAC-SHA256 in base64 (44 chars ending in `=`), usually URL-encoded.
    Rule("azure_key", r"[?&]sig=((?:[A-Za-z0-9]|%2[BbFf]|[+/]){40,90}(?:%3[Dd]|=))", vendor(0), 0.9, 90),
    Rule("azure_key", r"([A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.\-]{31,34})", vendor_bounded(0), 0.9, 90),
    Rule("twilio_key", r"((?:SK|AC)[0-9a-f]{32})\b", vendor(2), 0.9, 90),
    Rule("sendgrid_key", r"(SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43})", vendor_bounded(3), 0.99, 90),
    Rule("npm_token", r"(npm_[A-Za-z0-9]{36})\b", vendor(4), 0.99, 90),
    Rule(
        "pypi_token",
        r"(pypi-AgE(?:IcHlwaS5vcmc|NdGVzdC5weXBpLm9yZw)[A-Za-z0-9_\-]{50,})",
        vendor_bounded(20),
        0.99,
        90,
    ),
    Rule("huggingface_token", r"(hf_[A-Za-z0-9]{34,40})\b", vendor(3), 0.95, 90),
    # JWTs: the compact-JOSE rule in `_shape_rules` (JWS with any payload, JWE).
    Rule(
        "private_key",
        r"(PuTTY-User-Key-File-\d: [\s\S]*?Private-Lines: \d+\r?\n(?:[A-Za-z0-9+/=]+(?:\r?\n|$))+"
        r"(?:Private-MAC: [0-9a-fA-F]+)?)",
        putty_key,
        0.99,
        100,
        hint=r"PuTTY-User-Key-File-\d: ",  # Hyperscan rejects the `$` inside the pattern
    ),
    Rule(
        "private_key",
        r"(-----BEGIN[A-Z0-9 ]{0,40} PRIVATE KEY(?: BLOCK)?-----(?:[\s\S]*?-----END[A-Z0-9 ]{0,40} "
        r"PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s\\]*))",
        private_key,
        0.99,
        100,
    ),
    Rule(
        "connection_string",
        r"(?i)" + _DB_SCHEMES + r"(?:\+[a-z0-9]+)?://[^\s:@/'\"]*:"
        r"([^\s@/'\"]{1,})@",
        password,
        0.95,
        85,
    ),
    Rule(
        "connection_string",
        r"(?i)jdbc:[a-z0-9:]{2,40}[^\s'\"]*?[;?&](?:password|pwd)=([^;&\s'\"]{1,})",
        password,
        0.95,
        85,
    ),
    Rule("connection_string", r"(?i)jdbc:oracle:thin:[^/\s:@'\"]{1,}/([^@\s'\"]{1,})@", password, 0.95, 85),
    Rule(
        "connection_string",
        r"(?i)(?:server|data source|host)=[^;'\"\n]{1,};[^'\"\n]*?(?:password|pwd)=([^;'\"\n]{1,})",
        password,
        0.9,
        85,
    ),
    Rule(
        "basic_auth_url",
        # Any other scheme (https, sftp, ldap, smb, imaps...); below connection_string on a tie.
        r"(?i)\b[a-z][a-z0-9+.\-]{1,30}://[^\s:@/'\"]{1,}:([^\s@/'\"]{1,})@[^\s'\"]",
        password,
        0.9,
        84,
    ),
    Rule(
        "generic_secret",
        # Any scheme: Bearer, Basic, Token (`token=` too), Splunk, GenieKey, ApiKey, Negotiate...
        r"(?i)(?:authorization|proxy-authorization)[\"']?\s*[:=]\s*[\"']?[a-z][a-z0-9_\-]{1,20}\s+(?:token=)?"
        r"[\"']?([A-Za-z0-9_\-.~+/]{8,}=*)",
        generic(8, 2.5),
        0.85,
        60,
    ),
    Rule("generic_secret", r"\bBearer\s+([A-Za-z0-9_\-.~+/]{16,}=*)", generic(16, 3.0), 0.8, 60),
    Rule(
        "generic_secret",
        r"(?i)" + _SECRET_NAME + r"[A-Za-z0-9_.\-]*\\?[\"']?\s*(?::=|=>|[:=])\s*"
        r"(?:[rbuf]?\\?[\"'`])?" + _VALUE,
        unescaped(generic(8, 3.0)),
        0.7,
        50,
    ),
    # A quoted value may hold `,;()[]` (`"Pa$s(w0rd;"`): read it up to the closing quote.
    Rule(
        "generic_secret",
        r"(?i)"
        + _SECRET_NAME
        + r"[A-Za-z0-9_.\-]*[\"']?\s*(?::=|=>|[:=])\s*[rbuf]?[\"'`]([^\"'`\s]{6,200})[\"'`]",
        generic(8, 3.0),
        0.7,
        50,
    ),
    # Human-chosen passwords are short and less random than keys: a laxer bar after a password name.
    Rule(
        "generic_secret",
        r"(?i)"
        + _PASSWORD_NAME
        + r"[A-Za-z0-9_.\-]*\\?[\"']?\s*(?::=|=>|[:=])\s*(?:[rbuf]?\\?[\"'`])?"
        + _VALUE,
        unescaped(generic(6, 2.2)),
        0.65,
        50,
    ),
    Rule("generic_secret", r"(?i)--?" + _SECRET_NAME + r"[=\s]+[\"']?" + _VALUE, generic(8, 3.0), 0.7, 50),
    # curl/wget/httpie `-u user:password`
    Rule(
        "generic_secret",
        r"(?:^|\s)(?:-u|--user)[\s=]+[\"']?[^\s:\"'@]{1,64}:([^\s\"']{4,})",
        cli_password,
        0.8,
        55,
    ),
    # XML: <add key="DbPassword" value="..."/> and <password>...</password>
    Rule(
        "generic_secret",
        r"(?i)(?:key|name)\s*=\s*[\"'][^\"'<>]{0,40}?" + _SECRET_NAME + r"[^\"'<>]{0,40}[\"']\s+value\s*=\s*"
        r"[\"']([^\"'<>]{4,})[\"']",
        password,
        0.8,
        55,
        hint=r"(?i)[\"']\s+value\s*=\s*[\"']",  # stage-1 superset without the slow leading repeats
    ),
    Rule(
        "generic_secret",
        r"(?i)<[a-z0-9_:.\-]{0,40}?" + _SECRET_NAME + r"[a-z0-9_.\-]{0,40}>([^<\s]{4,})</",
        password,
        0.8,
        55,
    ),
    # Session cookies: `Cookie: sessionid=...`, `Set-Cookie: auth_token=...; HttpOnly`
    Rule(
        "generic_secret",
        r"(?i)\bcookie:[^\n]*?\b[a-z0-9_\-.]*(?:sess|sid|token|auth|jwt)[a-z0-9_\-.]*=([^;\s\"']{16,})",
        generic(16, 3.0),
        0.75,
        55,
    ),
    # .netrc and SQL `IDENTIFIED BY '...'`
    Rule("generic_secret", r"\bmachine\s+\S+\s+login\s+\S+\s+password\s+(\S+)", password, 0.85, 55),
    Rule(
        "generic_secret",
        r"(?i)\bidentified\s+by\s+(?:password\s+)?['\"]([^'\"\s]{4,})['\"]",
        password,
        0.85,
        55,
    ),
    *SAAS_RULES,
    *TOKEN_RULES,
    *CREDENTIAL_RULES,
    *SHAPE_RULES,
    *FORMAT_RULES,
    *CONTEXT_RULES,
    *KEY_RULES,
    *LITERAL_RULES,
    *RECORD_RULES,
    *CLI_ARG_RULES,
    *CONTAINER_RULES,
)
