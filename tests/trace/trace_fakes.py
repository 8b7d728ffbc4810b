"""Realistic fake values of every secret and PII kind the redactor supports. Secrets come from the
labelled-set generator in benchmarks/data (loaded by path: benchmarks is not an installed package)."""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path
from types import ModuleType

from railguard.detect.redact import PII_KINDS, SECRET_KINDS
from railguard.detect.secrets import find_secrets

# A policy that blocks mail to outside addresses (the tests' engine).
BLOCKING_POLICY = """
rules:
  - rule: mail/external
    desc: no mail outside the company
    tools: [send_email]
    when: "!args.to.endsWith('@corp.example.com')"
    verdict: block
    message: "external recipient"
"""

_DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data"

# Checksummed/shape-valid PII, each with a little context (value, text around it).
PII_SAMPLES: dict[str, tuple[str, str]] = {
    "email": ("ana.lopez+billing@mail.example.co.uk", "write to {v} today"),
    "phone": ("+1-984-182-0190", "call {v} now"),
    "credit_card": ("4539 1488 0343 6467", "card {v} exp 12/27"),
    "iban": ("DE89 3704 0044 0532 0130 00", "IBAN: {v} thanks"),
    "us_ssn": ("460-89-9847", "SSN {v} on file"),
    "national_id": ("48213795E", "DNI {v} on file"),
    "ip_address": ("192.168.10.24", "connect to {v}:8080"),
    "tax_id": ("948-82-3278", "ITIN {v} on file"),
    "health_id": ("5R33-R75-QA18", "Medicare card {v}"),
    "driver_licence": ("PATEL510024NJ9LR", "licence {v} expires 2031"),
    "date_of_birth": ("03/11/1978", "Date of birth: {v}"),
    "postal_address": ("42 Larch Avenue, Denver, CO 80203", "Billing address: {v}\n"),
    "bank_account": ("285854990", "ABA routing number {v}"),
}


def _load(name: str, folder: Path = _DATA) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"railguard_{name}", folder / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _redteam_samples() -> dict[str, tuple[str, str]]:
    """One (value, text) per kind from the red-team generators: the kinds the first generator lacks."""
    out: dict[str, tuple[str, str]] = {}
    for row in _load("secrets_redteam").generate(seed=7, per_family=1, per_negative=0):
        for kind, start, end in ((s["kind"], s["start"], s["end"]) for s in row["spans"]):  # type: ignore[attr-defined]
            out.setdefault(kind, (row["text"][start:end], row["text"]))  # type: ignore[index]
    # the second set labels vendor tokens by family under one kind ("api_token"); the vendor kind a
    # planted value is stored under is whichever the scanner names for the labelled span
    for row in _load("secrets_redteam2").generate(seed=7, per_vendor=1, per_family=1, per_negative=0):
        text: str = row["text"]  # type: ignore[assignment]
        for span in row["spans"]:  # type: ignore[attr-defined]
            for found in find_secrets(text):
                if found.start < span["end"] and span["start"] < found.end:
                    out.setdefault(found.kind, (text[span["start"] : span["end"]], text))
    # vendor rules no generator has a family for: the per-kind cases of the detector's own tests
    cases = _load("test_secrets_generalise", Path(__file__).resolve().parents[1] / "detect").ALL_POSITIVES
    for kind, template, value in cases:
        out.setdefault(kind, (value, template.format(v=value)))
    return out


def planted(seed: int = 7) -> list[tuple[str, str, str]]:
    """[(kind, value, text containing value)] covering every kind in SECRET_KINDS and PII_KINDS."""
    rng = random.Random(seed)
    factories = _load("secrets_gen").FACTORIES
    extra = _redteam_samples()
    out: list[tuple[str, str, str]] = []
    for kind in sorted(SECRET_KINDS):
        if kind in factories:
            fragment, start, end = factories[kind](rng)
            out.append((kind, fragment[start:end], fragment))
        else:
            value, text = extra[kind]
            out.append((kind, value, text))
    for kind in sorted(PII_KINDS):
        value, template = PII_SAMPLES[kind]
        out.append((kind, value, template.format(v=value)))
    return out


def leak_probes(value: str) -> list[bytes]:
    """Byte strings whose presence means `value` leaked: the value itself, its JSON-escaped form,
    and a distinctive middle chunk (catches a secret redacted only in part)."""
    probes = {value, value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')}
    if len(value) >= 24:
        middle = len(value) // 2
        probes.add(value[middle - 6 : middle + 6])
    return [p.encode() for p in probes]
