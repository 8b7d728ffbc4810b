"""Pieces shared by the rule modules: the names that announce a secret value, and a bare value."""

from __future__ import annotations

# Names that announce a secret value. `auth` alone is too common (auth: oauth2, `ignored_auth: Config`) to
# be listed: only an env-style name's last part (REDIS_AUTH) or npm's `_auth` key; `pass` only as a whole
# word's end (DB_PASS), not inside `bypass_cache` or `compass`; `pw` only after `_` (bind_pw; `pw:mcp` is a
# debug namespace).
# `<qualifier>_key` names whose value is a credential (MEILI_MASTER_KEY, LD_SDK_KEY, APP_KEY, OVH's
# application/consumer keys); LDAP's bind password (`bindpw`, sssd `authtok`); Wi-Fi/IPsec `psk`; a
# secret key after an access key id (`OSS_SK`, `HUAWEICLOUD_SDK_SK`).
SECRET_NAME = (
    r"(?:secret|token|passw(?:or)?d|passphrase|pwd|api[_.\-]?key|apikey|access[_.\-]?key|auth[_.\-]?key|"
    r"credential|private[_.\-]?key|signing[_.\-]?key|encryption[_.\-]?key|session[_.\-]?key|"
    r"(?:master|admin|sdk|write|license|app|client|deploy|shared|hmac|jwt|ingest|storage(?:account)?)[_.\-]?key|dockerconfigjson|"
    r"(?:application|consumer)[_.\-]?key|authtok|bind_?pw\b|(?:\b|_)psk\b|_sk\b|"
    r"(?:\b|_)pass\b|_pw\b|(?-i:_AUTH|\b_auth)\b)"
)
PASSWORD_NAME = r"(?:passw(?:or)?d|passphrase|pwd|(?:\b|_)pass\b|_pw\b)"
VALUE = r"([^\s\"'`,;()\[\]{}<>]{6,})"
