"""Key material in binary containers shown as base64, found by the container's magic bytes (which fix
the first base64 characters), and vendor token formats the other rule modules lack:

- Kerberos keytabs (`05 02`: `BQIAAA...`), PKCS#12 bundles (version 3 after the outer SEQUENCE:
  `MII...IBAzCC`, or BER `MIACAQMwgA`), Java keystores (`FEEDFEED`: `/u3+7Q`, JCEKS `CECECECE`),
  DER private keys without PEM armour (PKCS#8 `...IBADAN`, PKCS#1 `...IBAAKC`, SEC1 EC `MHcCAQEEI`,
  Ed25519 `MC4CAQAwBQYDK2Vw`), OpenSSH's raw key format (`openssh-key-v1`), Tor onion service keys;
- minisign/signify/rsign secret keys: base64 after an `untrusted comment: ... secret key` line;
- tokens: AWS Bedrock API keys (`ABSK` + base64 of `BedrockAPIKey-`), OpenShift OAuth (`sha256~`),
  MaxMind licence keys (`..._mmk`), Razorpay, SettleMint, Infisical service tokens, Browserbase.

Formats are from public documentation. RE2 syntax, bounded repeats; group 1 is the secret."""

from __future__ import annotations

from railguard.detect.secrets._scanner import Rule
from railguard.detect.secrets._validators import not_placeholder, vendor_bounded

_B64_TAIL = r"[A-Za-z0-9+/]{40,}={0,2}"
_URLSAFE = "A-Za-z0-9_\\-"
_API_TOKEN_PRIORITY = 49  # the kind's own (the shape rules')


# The containers' magic heads, as base64 (one stage-1 pattern for all of them).
_KEY_HEADS = (
    r"BQIAAA",  # Kerberos keytab v2
    r"MII[A-Za-z0-9+/]{3}IBAzCC",  # PKCS#12 (PFX), DER
    r"MIACAQMwgA",  # PKCS#12, BER indefinite length
    r"/u3\+7QAAAA",  # Java KeyStore
    r"zs7OzgAAAA",  # JCEKS
    r"MII[A-Za-z0-9+/]{3}IBA(?:DAN|AKC)",  # PKCS#8 / PKCS#1 RSA private key, DER
    r"MIG[A-Za-z0-9+/]AgEAMBMGByqGSM49",  # PKCS#8 EC private key, DER
    r"M(?:HcCAQEEI|IGkAgEBBDA|IHcAgEBBEI)",  # SEC1 EC private keys (P-256, P-384, P-521)
    r"MC4CAQAwBQYDK2V[wx]",  # PKCS#8 Ed25519 / X25519 private key
    r"b3BlbnNzaC1rZXktdjEA",  # openssh-key-v1 without its PEM-style armour
    r"PT0gZWQyNTUxOXYxLXNlY3JldDogdHlwZTAgPT0",  # Tor v3 onion service secret key
)
_ANY_HEAD = "(?:" + "|".join(_KEY_HEADS) + ")"


# Vendor token formats, one stage-1 pattern for all: (full pattern, stage-1 superset).
_TOKENS = (
    (r"ABSKQmVkcm9ja0FQSUtleS[A-Za-z0-9+/]{20,400}={0,2}", r"ABSKQmVkcm9ja0FQSUtleS"),  # AWS Bedrock
    (r"sha256~[" + _URLSAFE + r"]{43}", r"sha256~[A-Za-z0-9_\-]{8}"),  # OpenShift OAuth
    (r"[A-Za-z0-9]{6}_[A-Za-z0-9]{29}_mmk", r"_[A-Za-z0-9]{29}_mmk"),  # MaxMind licence key
    (r"rzp_live_[A-Za-z0-9]{14}", r"rzp_live_[A-Za-z0-9]{8}"),  # Razorpay
    (r"sm_(?:pat|aat|sat)_[A-Za-z0-9]{16}", r"sm_(?:pat|aat|sat)_[A-Za-z0-9]{8}"),  # SettleMint
    (  # Infisical service token
        r"st\.[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}\.[a-f0-9]{32}\.[a-f0-9]{32}",
        r"st\.[a-f0-9]{8}-[a-f0-9]{4}-",
    ),
    (r"bb_live_[" + _URLSAFE + r"]{20,60}", r"bb_live_[A-Za-z0-9_\-]{8}"),  # Browserbase
)


CONTAINER_RULES: tuple[Rule, ...] = (
    # The heads are at least 6 characters: the placeholder check reads what follows.
    Rule(
        "private_key",
        "(" + _ANY_HEAD + _B64_TAIL + ")",
        vendor_bounded(6),
        0.95,
        100,
        hint=_ANY_HEAD + r"[A-Za-z0-9+/]{8}",
    ),
    Rule(
        "private_key",
        r"untrusted comment:[^\n]{0,120}secret key\r?\n([A-Za-z0-9+/]{40,400}={0,2})",
        not_placeholder,
        0.95,
        100,
        hint=r"untrusted comment:[^\n]*secret key\r?\n",
    ),
    # Placeholders are judged on the whole token (the prefixes hold no marker word).
    Rule(
        "api_token",
        "((?:" + "|".join(full for full, _ in _TOKENS) + "))",
        vendor_bounded(0),
        0.9,
        _API_TOKEN_PRIORITY,
        hint="(?:" + "|".join(hint for _, hint in _TOKENS) + ")",
    ),
)
