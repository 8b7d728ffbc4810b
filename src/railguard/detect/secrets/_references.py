"""Values next to a secret-like name that point at a secret, or hide it, rather than hold it:

- references into secret stores (GCP Secret Manager `projects/<p>/secrets/<name>/versions/<v>`, Vault
  `vault:secret/data/<path>#<key>`, AWS Secrets Manager ARNs, Azure Key Vault URIs);
- Bitnami Sealed Secrets' ciphertext (`encryptedData:` values, base64 starting `Ag`), decryptable only
  by the cluster's controller;
- HTTP header names (`X-Api-Secret`), which code stores in constants named like the secret."""

from __future__ import annotations

import re

_STORE_REFERENCE = re.compile(
    r"(?:projects/[^/\s]+/secrets/[^/\s]+|vault:secret/|arn:aws[a-z\-]*:secretsmanager:|"
    r"https://[a-z0-9\-]+\.vault\.azure\.net/secrets/|azurekeyvault://|gcp-secret://)",
    re.IGNORECASE,
)
_HEADER_NAME = re.compile(r"(?:X-)?[A-Z][a-z]+(?:-[A-Z][a-z]*)+")
_SEALED_MIN_LENGTH = 100


def _sealed_secret(text: str, start: int, value: str) -> bool:
    return (
        value.startswith("Ag")
        and len(value) >= _SEALED_MIN_LENGTH
        and "encryptedData:" in text[max(0, start - 4000) : start]
    )


def points_at_secret(text: str, start: int, value: str) -> bool:
    """True when `value` (at `start` in `text`) names, encrypts or labels a secret instead of being one."""
    head = text[max(0, text.rfind("\n", 0, start) + 1) : start]
    if _STORE_REFERENCE.match(value) or _STORE_REFERENCE.search(head[-60:] + value[:40]):
        return True
    return _HEADER_NAME.fullmatch(value) is not None or _sealed_secret(text, start, value)
