"""What a vendor CLI's command does beyond its verb, for every vendor CLI, catalogued or never heard of.

The catalogue judges `NOUN VERB` by the verb: a mutation asks, a deletion blocks. Some mutations are as final
as a deletion, and their shape is the same across vendors, so they are judged by the words and flags that say
it rather than by a list of tools: ownership moved to another account, an administrator or owner role granted,
storage made public, a firewall opened to the whole internet, deletion protection, backups, TLS or attack
protection switched off, everything cancelled at once, remote data replaced by an import or restore, a SQL
statement that drops data sent through a vendor's shell. A CLI the catalogue has never heard of is judged by the
same shapes, and asks when it moves money, messages people, flips a feature flag or changes production.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from railguard.detect.shell._catalogue import CliSpec, catalogue, classify, tokens, verb_class
from railguard.detect.shell._model import ShellFinding
from railguard.detect.shell._rules_db import sql_is_destructive
from railguard.detect.shell._view import CommandView, Ctx, finding

_SUBCOMMAND = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[-:_][A-Za-z0-9]+)*$")
_SPLIT = re.compile(r"[,;/|\s\"'{}\[\]().=]+")
# Tools with their own detailed rules for these effects (IAM, ACLs, security groups, visibility).
_OWN_RULES = frozenset({"aws", "gcloud", "gsutil", "az", "kubectl", "oc", "helm", "gh", "glab", "terraform",
                        "pulumi", "ansible", "ansible-playbook", "docker", "podman", "vault"})  # fmt: skip

_OWNER_OPTIONS = frozenset({"org", "organization", "team", "owner", "account", "workspace", "to"})
_ROLE_KEYS = frozenset({"role", "roles", "policy", "policies", "group", "groups", "permission", "permissions",
                        "access", "clusterrole"})  # fmt: skip
_ADMIN_VALUES = frozenset({"admin", "admins", "administrator", "administrators", "owner", "owners", "superuser",
                           "superadmin", "root"})  # fmt: skip
_PUBLIC_VALUES = frozenset({"public-read", "public-read-write", "publicread", "publicreadwrite", "objectread",
                            "objectreadwithoutlist", "allusers", "allauthenticatedusers", "public"})  # fmt: skip
_STORAGE_NOUNS = frozenset({"bucket", "buckets", "object", "objects", "obj", "storage", "acl", "setacl", "blob",
                            "blobs", "container", "r2", "space", "spaces", "files"})  # fmt: skip
_BUCKET_SCHEMES = ("s3://", "gs://", "oss://", "cos://", "sos://", "obs://", "r2://", "b2://")
_WORLD = re.compile(r"(?<![\d.])0\.0\.0\.0/0(?!\d)|(?<![\w:])::/0(?!\d)")
_ACCEPT_ALL = re.compile(r"(?i)(?:inbound|ingress|default)[-_]?(?:default[-_]?)?policy[\s=:\"']+accept")
_FIREWALL_WORDS = frozenset({"firewall", "firewalls", "security", "sg", "rule", "rules", "ingress", "inbound",
                             "allow", "access", "accesslist", "accesslists", "acl", "filter", "cidr", "trusted",
                             "whitelist", "allowlist", "source", "restrictions", "authorize", "ip"})  # fmt: skip
# Nouns of what keeps data or a service safe: switching one off leaves it one mistake from loss or exposure.
# Heartbeats, triggers and paging integrations are what wakes someone: one switched off hides every incident
# it watches. Monitors and alerts are many: muting one asks, muting them all blocks.
_GUARD_NOUNS = frozenset({"protection", "protect", "protected", "backup", "backups", "termination", "deletion",
                          "pitr", "safe", "encryption", "ssl", "tls", "https", "mfa", "waf", "ngwaf", "appsec",
                          "sso", "audit", "attack", "brute", "breached", "captcha", "ddos", "heartbeat",
                          "heartbeats", "escalation", "escalations", "paging", "oncall", "mtls", "trigger",
                          "triggers", "integration", "integrations"})  # fmt: skip
_ALERT_NOUNS = frozenset({"monitor", "monitors", "alert", "alerts", "alerting", "downtime", "silence", "mute",
                          "maintenance", "notifications"})  # fmt: skip
_OFF_VERBS = frozenset({"disable", "disabled", "deactivate", "off", "pause", "mute", "cancel", "unprotect",
                        "suspend", "silence"})  # fmt: skip
_FALSE = frozenset({"false", "off", "0", "no", "disabled", "disable", "none", "passive", "essentially_off"})
_BULK_VERBS = frozenset({"cancel", "deactivate", "revoke", "terminate", "disable", "mute", "suspend",
                         "invalidate", "expire", "unsubscribe", "close", "void"})  # fmt: skip
_OVERWRITE_FLAGS = frozenset({"overwrite", "replace", "clobber"})
_RESTORE_VERBS = frozenset({"restore", "revert"})
_CREDENTIAL_NOUNS = frozenset({"token", "tokens", "key", "keys", "apikey", "apikeys", "secret", "secrets",
                               "credential", "credentials", "password", "certificate", "cert"})  # fmt: skip
_INVALIDATE = frozenset({"invalidate", "rotate", "revoke", "regenerate", "roll", "reset", "expire"})
_ADDRESS_NOUNS = frozenset({"ip", "ips", "address", "addresses", "eip", "fip", "ipv4", "ipv6"})
_GRAPHQL_FIELD = re.compile(r"\b([a-z][A-Za-z0-9]*|[A-Z][A-Za-z0-9]*)\s*[({]")
_MAIN_NAMES = frozenset({"main", "master", "production", "prod", "primary", "live"})
_SQL_PATH = frozenset({"shell", "execute", "exec", "sql", "query", "console"})
_SQL_OPTIONS = frozenset({"-q", "--query", "-c", "--command", "--sql", "-e", "--execute", "--statement"})
_SECRET_NOUNS = frozenset({"secret", "secrets", "env", "password", "passwords", "credential", "credentials"})
_REVEAL = frozenset({"get", "reveal", "pull", "export", "dump", "show", "print", "decrypt", "download"})
_REVEAL_FLAGS = frozenset({"--plain", "--show-values", "--reveal", "--decrypt", "--show-secrets", "--values",
                           "--with-values", "--unmask"})  # fmt: skip
# An export to a local file is a backup (`wp db export backup.sql`); one written to a bucket or URL leaves.
_EXPORT_VERBS = frozenset({"export", "extract", "dump", "unload"})
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://\S")
_MONEY = frozenset({"refund", "refunds", "payout", "payouts", "charge", "charges", "capture", "pay", "transfer",
                    "transfers", "disburse", "withdraw", "withdrawal"})  # fmt: skip
_MESSAGE_NOUNS = frozenset({"sms", "mms", "email", "emails", "mail", "message", "messages", "broadcast",
                            "campaign", "campaigns", "notification", "notifications", "push"})  # fmt: skip
_RECIPIENT_KEYS = frozenset(
    {"to", "dst", "recipient", "recipients", "phone", "number", "deliver", "audience"}
)
_FLAG_NOUNS = frozenset({"flag", "flags", "feature", "features", "gate", "gates", "toggle", "treatment",
                         "experiment", "rollout"})  # fmt: skip
_ENV_KEYS = frozenset({"env", "environment", "stage", "context", "target"})
_PRODUCTION = frozenset({"prod", "production", "prd", "live"})
_LONG_DURATION = re.compile(r"^\+?(\d+)\s*(d|w|h)$", re.I)


@dataclass(frozen=True, slots=True)
class _Command:
    """One vendor command: its path words and their tokens, its options as (key tokens, value) pairs."""

    what: str
    klass: str  # read | mutate | destroy | allow | ask | block
    path_tokens: frozenset[str]
    options: tuple[tuple[frozenset[str], str, str], ...]  # (key tokens, key, value)
    flags: frozenset[str]
    operands: tuple[str, ...]
    args: tuple[str, ...]

    def values(self, keys: frozenset[str]) -> list[str]:
        return [value for key_tokens, _, value in self.options if key_tokens & keys]

    def value_tokens(self, value: str) -> set[str]:
        return {t for part in _SPLIT.split(value) if part for t in tokens(part)} | {value.lower()}


def _options(args: list[str]) -> tuple[tuple[frozenset[str], str, str], ...]:
    """`--k=v`, `--k v` (a following word that is no option) and `k=v` operands (`scw ... acl=public-read`)."""
    out: list[tuple[frozenset[str], str, str]] = []
    for i, text in enumerate(args):
        if text.startswith("-") and len(text) > 1:
            key, eq, value = text.partition("=")
            if not eq and i + 1 < len(args) and not args[i + 1].startswith("-"):
                value = args[i + 1]
            out.append((frozenset(tokens(key.lstrip("-"))), key, value))
        elif "=" in text and _SUBCOMMAND.match(text.split("=", 1)[0]):
            key, _, value = text.partition("=")
            out.append((frozenset(tokens(key)), key, value))
    return tuple(out)


def _command(name: str, words: list[str], klass: str, args: list[str]) -> _Command:
    flags = frozenset(a.split("=", 1)[0] for a in args if a.startswith("-") and len(a) > 1)
    operands = tuple(a for a in args if not a.startswith("-"))
    path_tokens = frozenset(t for w in words for t in tokens(w))
    return _Command(
        " ".join([name, *words]), klass, path_tokens, _options(args), flags, operands, tuple(args)
    )


def _transfers_ownership(cmd: _Command, words: list[str]) -> bool:
    # `transfer` first is a service's name (`gcloud transfer jobs`, `aws transfer create-server`)
    first = tokens(words[0])[:1] if words else []
    if "transfer" in cmd.path_tokens and first != ["transfer"]:
        return True
    owner_options = any(keys & _OWNER_OPTIONS for keys, _, _ in cmd.options)
    return "move" in cmd.path_tokens and owner_options


_GRANT_WORDS = frozenset({"add", "invite", "attach", "assign", "grant", "bind", "binding", "policy", "member",
                          "members"})  # fmt: skip


def _grants_admin(cmd: _Command) -> bool:
    """An admin or owner role given to a principal (`members add --role owner`, `user-policy-create --roles
    Administrator`); an app's own user created as an administrator asks like any account."""
    if not cmd.path_tokens & _GRANT_WORDS:
        return False
    return any(cmd.value_tokens(v) & _ADMIN_VALUES for v in cmd.values(_ROLE_KEYS))


def _makes_public(cmd: _Command) -> bool:
    storage = bool(cmd.path_tokens & _STORAGE_NOUNS) or any(a.startswith(_BUCKET_SCHEMES) for a in cmd.args)
    if not storage:
        return False
    if "public" in cmd.path_tokens and cmd.path_tokens & {"set", "enable", "put", "update", "make", "mark"}:
        return not any(v.lower() in _FALSE for _, _, v in cmd.options)
    if (
        cmd.path_tokens & {"url", "domain"}
        and cmd.path_tokens & {"dev", "public"}
        and "enable" in cmd.path_tokens
    ):
        return True
    for keys, key, value in cmd.options:
        if key in ("--acl-public", "--public") and value.lower() not in _FALSE:
            return True
        if keys & {"acl", "public", "access", "visibility"} and value.lower() in _PUBLIC_VALUES:
            return True
    return any(o.lower() in _PUBLIC_VALUES - {"public"} for o in cmd.operands)


_WEB_PORTS = frozenset({"80", "443"})


def _web_ports_only(cmd: _Command) -> bool:
    """A public web server's ports open to everyone are what it is for (`--dst-port 443`)."""
    ports = [p for v in cmd.values(frozenset({"port", "ports"})) for p in re.split(r"[,:\-]", v) if p]
    return bool(ports) and set(ports) <= _WEB_PORTS


def _opens_to_world(cmd: _Command) -> bool:
    context = set(cmd.path_tokens)
    for keys, _, _ in cmd.options:
        context |= keys
    if not context & _FIREWALL_WORDS and not any("security" in a.lower() for a in cmd.args):
        return False
    if _web_ports_only(cmd):
        return False
    if any(_WORLD.search(a) or _ACCEPT_ALL.search(a) for a in cmd.args):
        return True
    if any(keys & {"inbound", "ingress"} and value.lower() == "accept" for keys, _, value in cmd.options):
        return True
    whole = "0.0.0.0" in cmd.values(frozenset({"subnet", "cidr", "source", "ip", "network"}))
    return whole and "0" in cmd.values(frozenset({"size", "prefix", "mask", "bits"}))


# A JSON key set false or "off" (`{"force_ssl": false}`): the key is checked for a guard word after the match.
_JSON_OFF = re.compile(r"\"([\w-]{1,64})\"\s*:\s*(?:false|\"off\"|0)\b", re.I)
_JSON_GUARDS = ("ssl", "tls", "https", "protection", "backup", "mfa", "waf", "encrypt")
# Switch-like options of a guarded path (`attack-protection update ... --enabled=false`).
_SWITCH_KEYS = frozenset({"enable", "enabled", "active", "status", "state", "mode", "value", "on"})


def _switches_protection_off(cmd: _Command) -> bool:
    for arg in cmd.args:
        if any(g in m.group(1).lower() for m in _JSON_OFF.finditer(arg) for g in _JSON_GUARDS):
            return True
    guarded = bool(cmd.path_tokens & _GUARD_NOUNS)
    if guarded and cmd.path_tokens & _OFF_VERBS:
        return True
    # `settings update ssl off`: a guard named as an operand, its new value the next one
    pairs = zip(cmd.operands, cmd.operands[1:], strict=False)
    if any(set(tokens(name)) & _GUARD_NOUNS and value.lower() in _FALSE for name, value in pairs):
        return True
    for keys, key, value in cmd.options:
        if "verify" in keys:  # `--no-verify-ssl` is judged as TLS verification elsewhere
            continue
        flag_guard = bool(keys & _GUARD_NOUNS)
        if flag_guard and (keys & {"disable", "disabled", "no", "off"}) and key.startswith("-"):
            return True
        if (flag_guard or (guarded and keys & _SWITCH_KEYS)) and value.lower() in _FALSE and value:
            return True
        if guarded and keys & {"disable", "disabled"} and value.lower() in ("", "true", "yes", "1"):
            return True
        if "retention" in keys and value.strip() in ("0", "0s", "0d"):
            return True
    return False


def _silences_everything(cmd: _Command) -> bool:
    if not cmd.path_tokens & _ALERT_NOUNS:
        return False
    muting = cmd.path_tokens & (_OFF_VERBS | {"create", "post", "add", "set", "schedule", "update"})
    if not muting:
        return False
    if "all" in cmd.path_tokens or "--all" in cmd.flags or "*" in cmd.operands:
        return True
    if any(re.fullmatch(r".*=~\s*\"?\.[*+]\"?", v) for _, _, v in cmd.options):
        return True
    durations = [_LONG_DURATION.match(v.strip()) for _, _, v in cmd.options]
    return any(
        m and int(m.group(1)) * {"h": 1, "d": 24, "w": 168}[m.group(2).lower()] >= 168 for m in durations if m
    )


def _everything_at_once(cmd: _Command) -> bool:
    bulk = "--all" in cmd.flags or "*" in cmd.operands or "*" in (v for _, _, v in cmd.options)
    return bulk and bool(cmd.path_tokens & _BULK_VERBS)


def _replaces_remote_data(cmd: _Command) -> bool:
    if any(keys & _OVERWRITE_FLAGS for keys, key, _ in cmd.options if key.startswith("-")):
        return True
    if not cmd.path_tokens & _RESTORE_VERBS:
        return False
    names = {t for o in cmd.operands for t in re.split(r"[@^:/]", o.lower())}
    return bool(names & _MAIN_NAMES)


def _sql_drops(cmd: _Command, args: list[str]) -> bool:
    if not cmd.path_tokens & _SQL_PATH or "--local" in cmd.flags:
        return False
    texts = [v for _, key, v in cmd.options if key in _SQL_OPTIONS]
    texts += [a for a in args if " " in a and not a.startswith("-")]
    return any(sql_is_destructive(text, None) for text in texts)


def _invalidates_credentials(cmd: _Command) -> bool:
    """Keys and tokens in use revoked, rotated or invalidated: whatever runs with them stops (minting new
    ones is a mutation that asks)."""
    return bool(cmd.path_tokens & _CREDENTIAL_NOUNS and cmd.path_tokens & _INVALIDATE)


def _releases_address(cmd: _Command) -> bool:
    """A public address released goes back to the provider's pool: DNS and allow-lists point at a stranger."""
    return bool("release" in cmd.path_tokens and cmd.path_tokens & _ADDRESS_NOUNS)


def _graphql_deletes(cmd: _Command) -> bool:
    """A GraphQL mutation document whose fields delete (`productDelete`, `deleteUser`)."""
    verbs = catalogue().verbs
    documents = [arg for arg in cmd.args if "mutation" in arg and "{" in arg]
    return any(
        verb_class(m.group(1), verbs) == "destroy" for d in documents for m in _GRAPHQL_FIELD.finditer(d)
    )


def _block_findings(
    cmd: _Command, words: list[str], args: list[str], category: str
) -> Iterator[ShellFinding]:
    checks: tuple[tuple[str, Callable[[], bool], str], ...] = (
        ("vendor-ownership-transfer", lambda: _transfers_ownership(cmd, words), "moves ownership to another account"),
        ("vendor-admin-grant", lambda: _grants_admin(cmd), "grants an administrator or owner role"),
        ("vendor-public-access", lambda: _makes_public(cmd), "makes stored data public"),
        ("vendor-open-to-world", lambda: _opens_to_world(cmd), "opens access to the whole internet"),
        ("vendor-protection-off", lambda: _switches_protection_off(cmd), "switches a protection or backup off"),
        ("vendor-silence-everything", lambda: _silences_everything(cmd), "silences alerting broadly or for long"),
        ("vendor-bulk-cancel", lambda: _everything_at_once(cmd), "cancels or revokes everything at once"),
        ("vendor-replace-remote-data", lambda: _replaces_remote_data(cmd), "replaces live remote data"),
        ("vendor-sql-drop", lambda: _sql_drops(cmd, args), "runs SQL that destroys data"),
        ("vendor-credential-invalidate", lambda: _invalidates_credentials(cmd), "revokes or rotates credentials"),
        ("vendor-address-release", lambda: _releases_address(cmd), "gives a public address back"),
        ("vendor-graphql-delete", lambda: _graphql_deletes(cmd), "sends a GraphQL mutation that deletes"),
    )  # fmt: skip
    for rule, hit, detail in checks:  # the first shape that matches says why
        if hit():
            yield finding(category, rule, "block", "critical", f"{cmd.what} {detail}")
            return


def _ask_findings(cmd: _Command) -> Iterator[ShellFinding]:
    """Reads that reveal secret values or copy data out."""
    if cmd.path_tokens & _SECRET_NOUNS and (cmd.path_tokens & _REVEAL or cmd.flags & _REVEAL_FLAGS):
        yield finding("secrets", "vendor-secret-reveal", "ask", "high", f"{cmd.what} prints secret values")
    elif cmd.path_tokens & _EXPORT_VERBS and any(_URL.match(o) for o in cmd.operands):
        yield finding("data_loss", "vendor-data-export", "ask", "medium", f"{cmd.what} exports data to a URL")


def _judged(spec: CliSpec, view: CommandView) -> tuple[list[str], list[str], str]:
    cat = catalogue()
    args = [w.text for w in view.args]
    flags = frozenset(a.split("=", 1)[0] for a in args if a.startswith("-"))
    effect = classify(spec, args, flags, cat.verbs)
    return list(effect.path), args, effect.klass


# Subcommands that run something else (`railway run CMD`, `porter kubectl ...`): their words are not the CLI's.
_RUNNERS = frozenset({"run", "exec", "shell", "connect", "dev", "start", "serve", "console", "ssh", "kubectl",
                      "local", "proxy", "x"})  # fmt: skip


def _deeper(words: list[str], args: list[str]) -> list[str]:
    """Subcommand words right after the catalogued depth (`vultr-cli dns domain delete`, `databricks account
    workspaces delete`): up to two, before the first option."""
    operands: list[str] = []
    for text in args:
        if text.startswith("-"):
            break
        operands.append(text)
    if operands[: len(words)] != words:
        return []
    extra: list[str] = []
    for text in operands[len(words) :][:2]:
        if not _SUBCOMMAND.match(text):
            break
        extra.append(text)
    return extra


def _destroys_deeper(extra: list[str]) -> bool:
    verbs = catalogue().verbs
    return any(tokens(word)[:1] and verbs.get(tokens(word)[0]) == "destroy" for word in extra)


def check_vendor_long_tail(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    """A catalogued vendor CLI's command: the shapes above, past its verb's own verdict."""
    spec = catalogue().clis.get(view.name)
    if spec is None or spec.kind != "remote" or spec.name in _OWN_RULES:
        return
    words, args, klass = _judged(spec, view)
    if klass in ("destroy", "block") or not words:
        return
    extra = [] if set(words) & _RUNNERS or klass == "mutate" else _deeper(words, args)
    # an explicit allow or read of a noun (`datadog-ci synthetics`) says nothing of a verb after it
    listed = next((len(r.path) for r in spec.rules if tuple(words[: len(r.path)]) == r.path), len(words))
    beyond = words[listed:] if klass in ("allow", "read") else []
    if _destroys_deeper([*beyond, *extra]):
        what = " ".join([view.name, *words, *extra])
        yield finding(
            spec.category, "vendor-destroy-deeper", "block", "critical", f"{what} deletes or tears down"
        )
        return
    if klass == "allow":
        return
    if klass == "ask" and extra:  # no verb within the depth: the deeper words say what it does
        words = [*words, *extra]
    cmd = _command(view.name, words, klass, args)
    if klass == "read":
        yield from _ask_findings(cmd)
        return
    yield from _block_findings(cmd, words, args, spec.category)


def _unknown_path(view: CommandView) -> list[str]:
    words: list[str] = []
    for word in view.args:
        text = word.text
        if text.startswith("-") or len(words) >= 3 or not _SUBCOMMAND.match(text):
            break
        words.append(text)
    return words


_CONFIRM_SKIPS = frozenset({"--force", "-f", "--yes", "-y", "--confirm", "--all", "--skip-confirmation",
                            "--no-prompt", "--non-interactive"})  # fmt: skip
_FINAL_VERBS = frozenset({"destroy", "terminate", "purge", "wipe", "nuke", "erase", "drop", "truncate"})
# What a developer's own tools keep on this machine (`rye toolchain remove -f`, `tool cache delete --all`): a
# deletion of these without confirmation still only asks. Local cluster tools likewise (`k3d cluster delete`).
_LOCAL_NOUNS = frozenset({"toolchain", "toolchains", "cache", "caches", "env", "envs", "venv", "virtualenv",
                          "version", "versions", "plugin", "plugins", "package", "packages", "dep", "deps",
                          "dependency", "dependencies", "module", "modules", "extension", "extensions", "runtime",
                          "runtimes", "sdk", "sdks", "local", "context", "contexts", "config", "profile",
                          "profiles", "alias", "aliases", "shim", "shims", "tool", "tools", "template",
                          "templates", "image", "images", "container", "containers", "snapshot", "snapshots",
                          "session", "sessions", "history", "log", "logs", "tmp", "temp", "build", "builds",
                          "artifact", "artifacts", "node", "nodes"})  # fmt: skip
_LOCAL_CLUSTER_TOOLS = frozenset(
    {"k3d", "k3s", "ctlptl", "colima", "limactl", "kubectx", "kubens", "vcluster"}
)


def unknown_vendor_findings(view: CommandView) -> Iterator[ShellFinding]:
    """A CLI nothing else judges, shaped `NOUN [NOUN] VERB`: the same shapes as a catalogued one; a
    deletion without its confirmation, or a final one, blocks; money, messages, flags and production asks."""
    words = _unknown_path(view)
    if len(words) < 2:
        return
    verbs = catalogue().verbs
    classes = [verb_class(w, verbs) for w in words]
    first_verb = next((i for i, c in enumerate(classes) if c is not None), None)
    if first_verb == 0:
        # `tool remove NAME`: a local tool's own verb, but `refund create` or `payout send` moves money
        if {t for w in words for t in tokens(w)} & _MONEY:
            yield finding(
                "payments", "unknown-cli-money", "ask", "high", f"{view.name} {words[0]} moves money"
            )
        return
    # the first verb after the nouns decides; what follows it names things (`bucket set-acl archive`)
    klass = classes[first_verb] if first_verb is not None else "ask"
    words = words if first_verb is None else words[: first_verb + 1]
    args = [w.text for w in view.args]
    cmd = _command(view.name, words, klass or "ask", args)
    if klass == "read":
        yield from _ask_findings(cmd)
        return
    if klass == "destroy":
        if view.name in _LOCAL_CLUSTER_TOOLS or cmd.path_tokens & _LOCAL_NOUNS:
            return
        if cmd.flags & _CONFIRM_SKIPS or cmd.path_tokens & _FINAL_VERBS:
            yield finding("infra", "unknown-cli-destroy-unconfirmed", "block", "critical",
                          f"{cmd.what} deletes without asking")  # fmt: skip
        return
    blocked = list(_block_findings(cmd, words, args, "infra"))
    if blocked:
        yield from blocked
        return
    yield from _unknown_asks(cmd)


def _unknown_asks(cmd: _Command) -> Iterator[ShellFinding]:
    if cmd.path_tokens & _MONEY:
        yield finding("payments", "unknown-cli-money", "ask", "high", f"{cmd.what} moves money")
    elif any(
        keys & _RECIPIENT_KEYS
        and ("to" not in keys or cmd.path_tokens & _MESSAGE_NOUNS or "send" in cmd.path_tokens)
        for keys, _, _ in cmd.options
    ):
        yield finding("messaging", "unknown-cli-message", "ask", "high", f"{cmd.what} messages people")
    elif cmd.path_tokens & _FLAG_NOUNS and cmd.klass in ("mutate", "ask"):
        yield finding(
            "infra", "unknown-cli-feature-flag", "ask", "medium", f"{cmd.what} switches a feature flag"
        )
    elif cmd.klass == "mutate" and any(
        set(re.split(r"[^a-z0-9]+", v)) & _PRODUCTION for v in cmd.values(_ENV_KEYS)
    ):
        yield finding("infra", "unknown-cli-production", "ask", "high", f"{cmd.what} changes production")
