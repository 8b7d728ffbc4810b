"""Vendor CLIs judged by verb (the catalogue in `vendor_clis.yaml`), and resource-management CLIs the
catalogue has never heard of.

Judgement (the severity table in docs/shell.md): read -> allow; mutate -> ask (severity rises with
production targets, live mode and large counts; `--admin`/`--force`-style bypasses or runaway counts
block); destroy -> block; an unknown subcommand of a remote CLI -> ask.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from railguard.detect.shell._catalogue import Blast, CliSpec, Effect, catalogue, classify, tokens, verb_class
from railguard.detect.shell._model import ShellFinding
from railguard.detect.shell._rules_fs import tree_delete_findings
from railguard.detect.shell._rules_vcs import positionals
from railguard.detect.shell._syntax import Word
from railguard.detect.shell._view import CommandView, Ctx, finding, in_system_tree

_SUBCOMMAND = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")
_HIGH_IMPACT = frozenset(
    {
        "revoke",
        "promote",
        "failover",
        "disable",
        "deactivate",
        "transfer",
        "suspend",
        "demote",
        "takeover",
        "grant",
        "rotate",
        "setpassword",
        "power",
        "shutdown",
        "reboot",
        "drain",
    }
)
_ASSIGNED_COUNT = re.compile(r"^[A-Za-z_][\w-]*=(\d+)(?::\S+)?$")  # heroku `web=50:performance-l`
_READ_MODULES = frozenset({"ping", "setup", "debug", "gather_facts", "stat", "slurp", "find", "assert"})
_DESTROY_STATE = re.compile(r"\bstate=(?:absent|stopped|killed)\b")
# containers/image transports that name local storage: an image pushed or copied there is written to
# files or the local store and published nowhere (`podman push app dir:/tmp/app`, `skopeo copy
# docker://x oci:layout`). Only the tools that parse transports: docker would read `dir:5000/app` as a host.
_IMAGE_TRANSPORT_TOOLS = frozenset({"podman", "buildah", "skopeo"})
_LOCAL_TRANSPORTS = ("dir:", "oci:", "oci-archive:", "docker-archive:", "containers-storage:",
                     "docker-daemon:")  # fmt: skip
_IMAGE_MOVES = (("manifest", "push"), ("image", "push"), ("push",), ("copy",))
_PLAYBOOK_READ_FLAGS = frozenset({"--check", "-C", "--syntax-check", "--list-hosts", "--list-tasks",
                                  "--list-tags", "--help", "--version"})  # fmt: skip


def _flag_keys(args: list[str]) -> frozenset[str]:
    return frozenset(a.split("=", 1)[0] for a in args if a.startswith("-") and len(a) > 1) | frozenset(
        a for a in args if a.startswith("-")
    )


def _option_values(args: list[str], names: frozenset[str]) -> list[str]:
    out: list[str] = []
    for i, text in enumerate(args):
        key, eq, value = text.partition("=")
        if key in names:
            if eq:
                out.append(value)
            elif i + 1 < len(args):
                out.append(args[i + 1])
    return out


def _largest_count(args: list[str], blast: Blast, path: tuple[str, ...]) -> int:
    counts = [int(v) for v in _option_values(args, blast.count_options) if v.isdigit()]
    if any("scale" in tokens(w) for w in path):  # `fly scale count 200`, `heroku ps:scale web=50`
        counts += [int(a) for a in args if a.isdigit()]
        counts += [int(m.group(1)) for a in args if (m := _ASSIGNED_COUNT.match(a))]
    return max(counts, default=0)


# Options that set how many instances serve: all of them set to 0 takes the service down (`--min-size`
# and `--min-count` alone are an autoscaler's floor, not its capacity).
_CAPACITY_OPTIONS = frozenset({"--desired-capacity", "--desired-count", "--replicas", "--num-nodes", "--nodes",
                               "--new-capacity", "--count", "--instances", "--max-size", "--max-count",
                               "--max-nodes", "--max-instances", "--node-count", "--instance-count",
                               "--reserved-concurrent-executions"})  # fmt: skip


# Options that say how long data is kept, and lifecycle JSON that expires every object: a day or less
# deletes nearly everything at the next sweep.
_RETENTION_OPTIONS = frozenset({"--retention-in-days", "--retention-days", "--expire-days", "--retention",
                                "--retention-time", "--retention-period", "--expiration-days"})  # fmt: skip
_DURATION = re.compile(r"^(\d+)\s*(ms|s|m|h|d|w)?$", re.I)
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_EXPIRE_AT_ONCE = re.compile(r'"Expiration"\s*:\s*\{\s*"Days"\s*:\s*[01]\b|"(?:Age|age|min_age)"\s*:\s*"?0')


def _retention_cut(args: list[str]) -> bool:
    for value in _option_values(args, _RETENTION_OPTIONS):
        match = _DURATION.match(value.strip())
        if match:  # a bare number is days (`--retention-in-days 1`)
            seconds = int(match.group(1)) * _SECONDS[(match.group(2) or "d").lower()]
            if seconds <= 86400:
                return True
    return any(_EXPIRE_AT_ONCE.search(a) for a in args)


def _scaled_to_zero(args: list[str], path: tuple[str, ...]) -> bool:
    values = _option_values(args, _CAPACITY_OPTIONS)
    if any("resize" in tokens(w) for w in path):  # `... instance-groups managed resize --size 0`
        values += _option_values(args, frozenset({"--size"}))
    if any("scale" in tokens(w) for w in path):  # `fly scale count 0`, `heroku ps:scale web=0`
        values += [a for a in args if a.isdigit()]
        values += [m.group(1) for a in args if (m := _ASSIGNED_COUNT.match(a))]
    return bool(values) and all(v.isdigit() and int(v) == 0 for v in values)


def _production(args: list[str], blast: Blast) -> bool:
    values = _option_values(args, blast.environment_options)
    return any(t in blast.production_tokens for v in values for t in re.split(r"[^a-z0-9]+", v.lower()))


def image_stays_local(name: str, args: list[str]) -> bool:
    """The destination is the last of at least two operands after the verb (`push SOURCE DEST`: with one,
    podman pushes to the source's own name); `skopeo sync --dest dir` writes a folder. A word after an
    option without `=` may be its value (`--creds u:p`), so it is never counted as an operand."""
    if name not in _IMAGE_TRANSPORT_TOOLS:
        return False
    words = [a for i, a in enumerate(args) if not a.startswith("-") and not _bare_option(args[i - 1 : i])]
    if name == "skopeo" and words[:1] == ["sync"]:
        dest = _option_values(args, frozenset({"--dest", "-d"}))
        return dest == ["dir"] and len(words) > 2 and _local_destination("dir:" + words[-1])
    for verb in _IMAGE_MOVES:
        if tuple(words[: len(verb)]) == verb:
            rest = words[len(verb) :]
            return len(rest) >= 2 and _local_destination(rest[-1])
    return False


# Switches of the image tools that take no value: the word after one is an operand (`skopeo sync --scoped
# REGISTRY/IMAGE DIR`, `podman manifest push --all LIST DEST`).
_IMAGE_SWITCHES = frozenset({"--all", "-a", "--scoped", "--dry-run", "--keep-going", "--preserve-digests",
                             "--remove-signatures", "--src-no-creds", "--dest-no-creds", "--quiet", "-q"})  # fmt: skip


def _bare_option(previous: list[str]) -> bool:
    return (
        bool(previous)
        and previous[0].startswith("-")
        and "=" not in previous[0]
        and previous[0] not in _IMAGE_SWITCHES
    )


def _local_destination(word: str) -> bool:
    """A local transport whose path is not in the system's trees (`dir:/etc/x` still asks, like `cp`;
    `dir:/media/usb` does not)."""
    transport = next((t for t in _LOCAL_TRANSPORTS if word.startswith(t)), None)
    if transport is None:
        return False
    path = word[len(transport) :]
    path = path if transport in ("dir:", "oci-archive:", "docker-archive:") else path.split(":", 1)[0]
    return transport in ("containers-storage:", "docker-daemon:") or not in_system_tree(path)


_GH_SYNC_VALUED = frozenset({"-b", "--branch", "-s", "--source", "-R", "--repo", "--hostname"})


def syncs_this_checkout(args: list[str]) -> bool:
    """`gh repo sync [--branch B] [--source R]` names no destination repository: it fast-forwards this
    checkout's branch from its remote, as `git pull --ff-only` does. A named destination (a fork on the
    server) or `--force` (a hard reset over local commits) is not that."""
    flags = _flag_keys(args)
    return positionals(args, _GH_SYNC_VALUED) == ["repo", "sync"] and not flags & {"--force", "-R", "--repo"}


def copies_out(path: tuple[str, ...], operands: list[str]) -> bool:
    """`kubectl cp POD:/var/log/app.log ./logs`, `gh codespace cp 'remote:~/*.go' ./src`: every source is
    on the remote side and the destination is here, outside the system's trees (`cp` asks for those)."""
    if path not in _COPY_VERBS:
        return False
    rest = operands[len(path) :]
    if path == ("codespace", "cp"):
        rest = _without_scp_options(rest)
    if len(rest) < 2 or _remote_side(rest[-1]) or in_system_tree(rest[-1]):
        return False
    return all(_remote_side(source) for source in rest[:-1])


_COPY_VERBS = frozenset({("cp",), ("codespace", "cp")})
# `gh codespace cp [-e] [-r] -- SCP-FLAGS... SOURCES... DEST`: scp's options after `--`, with the ones that
# take a value (`-F config`, `-i identity`, `-P port`), are neither sources nor the destination.
_SCP_VALUED = frozenset({"-F", "-i", "-o", "-P", "-c", "-l", "-S", "-J", "-D", "-X"})


def _without_scp_options(words: list[str]) -> list[str]:
    out: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word.startswith("-") and len(word) > 1:
            skip = word in _SCP_VALUED
        else:
            out.append(word)
    return out


# Object-store copies whose every source is a bucket URL: `aws s3 sync s3://b/data ./data` downloads.
_BUCKET_COPIES = frozenset({("s3", "cp"), ("s3", "sync"), ("cp",), ("rsync",), ("storage", "cp"),
                            ("storage", "rsync")})  # fmt: skip
_BUCKET = ("s3://", "gs://")


def downloads_only(path: tuple[str, ...], operands: list[str]) -> bool:
    """Every source is a bucket and the destination a local path outside the system's trees (what a
    `--delete` removes there is judged by the bucket-sync rule)."""
    if path not in _BUCKET_COPIES:
        return False
    rest = operands[len(path) :]
    if len(rest) < 2 or rest[-1].startswith(_BUCKET) or "://" in rest[-1] or in_system_tree(rest[-1]):
        return False
    return all(source.startswith(_BUCKET) for source in rest[:-1])


def _remote_side(operand: str) -> bool:
    return ":" in operand and not operand.startswith(("/", ".", "~", "-"))


# rclone commands that work on this machine's files when their trees are local: the trees may lose
# entries (`sync` prunes its destination, `bisync` both sides, `move` empties its source, `delete` and
# `purge` delete).
# Each with the number of paths it takes.
_RCLONE_FILE_VERBS = {"sync": 2, "bisync": 2, "move": 2, "moveto": 2, "delete": 1, "deletefile": 1, "purge": 1,
                      "rmdir": 1, "rmdirs": 1}  # fmt: skip


def _local_trees(view: CommandView, spec: CliSpec, verb: str) -> list[Word] | None:
    """The local trees an rclone file verb may prune when nothing remote is written: every operand is a
    local path, except the source of a `sync`, which is only read (`rclone sync remote:site ./site`).
    None when something remote may change; option values count (`--backup-dir=remote:old` moves there)."""
    words: list[Word] = []
    skip = False
    for word in view.args:
        text = word.text
        if skip:
            skip = False
            if _remote_side(text):
                return None
        elif text.startswith("-") and len(text) > 1:
            skip = text in spec.valued
            if _remote_side(text.partition("=")[2]):
                return None
        else:
            words.append(word)
    if not words or words[0].text != verb:  # a second path word may be an operand (`purge remote:x`)
        return None
    rest = words[1:]
    if len(rest) != _RCLONE_FILE_VERBS[verb]:  # more: an option's value may be among them
        return None
    trees = rest[1:] if verb == "sync" else rest
    if any(_remote_side(w.text) or w.dynamic for w in trees):
        return None
    return trees


def _stays_here(view: CommandView, spec: CliSpec, effect: Effect, args: list[str]) -> bool:
    """A push or copy whose destination is this machine: nothing remote changes."""
    operands = [w.text for w in view.operands]
    if spec.name == "gh" and effect.path == ("repo", "sync"):
        return syncs_this_checkout(args)
    if spec.name in ("kubectl", "gh"):
        return copies_out(effect.path, operands)
    if spec.name in ("aws", "gsutil", "gcloud"):
        return downloads_only(effect.path, operands)
    return image_stays_local(view.name, args)


def _describe(view: CommandView, effect: Effect) -> str:
    return " ".join([view.name, *effect.path]) or view.name


def effect_findings(view: CommandView, effect: Effect, args: list[str]) -> Iterator[ShellFinding]:
    cat = catalogue()
    blast, spec = cat.blast, effect.spec
    what = _describe(view, effect)
    category = spec.category
    if effect.klass in ("destroy", "block"):
        yield finding(category, "vendor-destroy", "block", "critical", f"{what} deletes or tears down")
    elif effect.klass == "ask":
        yield finding(category, "vendor-sensitive", "ask", "high", f"{what} needs a human look")
    elif effect.klass == "mutate":
        flags = _flag_keys(args)
        count = _largest_count(args, blast, effect.path)
        bypass = sorted(flags & blast.bypass) if spec.kind == "remote" else []
        if _retention_cut(args):
            yield finding(
                category, "vendor-retention-cut", "block", "critical", f"{what} keeps data a day or less"
            )
            return
        # kubectl's own rule judges `scale --replicas=0` (a cluster's workloads are not its capacity)
        if view.name not in ("kubectl", "oc") and _scaled_to_zero(args, effect.path):
            yield finding(
                category, "vendor-scaled-to-zero", "block", "critical", f"{what} takes every instance away"
            )
            return
        if bypass or count >= blast.runaway_count:
            reason = f"with {bypass[0]}" if bypass else f"for {count} resources"
            yield finding(
                category, "vendor-mutate-unbounded", "block", "critical", f"{what} changes {reason}"
            )
            return
        raised = [
            reason
            for reason, hit in (
                ("production", _production(args, blast)),
                ("live mode", bool(flags & blast.live)),
                (f"{count} resources", count >= blast.large_count),
            )
            if hit
        ]
        severity = "critical" if raised else "medium"
        suffix = f" ({', '.join(raised)})" if raised else ""
        yield finding(category, "vendor-mutate", "ask", severity, f"{what} changes remote state{suffix}")


def _api_effect(spec: CliSpec, args: list[str], dynamic: bool) -> Effect:
    """`gh api` / `glab api`: the HTTP method decides (fields without a method mean POST)."""
    methods = [v.upper() for v in _option_values(args, frozenset({"-X", "--method"}))]
    methods += [a[2:].upper() for a in args if a.startswith("-X") and len(a) > 2]
    fields = any(a in ("-f", "-F", "--field", "--raw-field", "--input") for a in args)
    method = methods[-1] if methods else ("POST" if fields else "GET")
    klass = {"GET": "read", "HEAD": "read", "DELETE": "destroy"}.get(method, "mutate")
    if method == "POST" and not dynamic and _graphql_query(args):
        klass = "read"
    return Effect(klass, ("api", method.lower()), spec)


_API_VALUED = frozenset({"-f", "-F", "--field", "--raw-field", "-H", "--header", "-X", "--method", "--input",
                         "-q", "--jq", "-t", "--template", "--cache", "--hostname", "-p", "--preview", "-R",
                         "--repo"})  # fmt: skip
_GRAPHQL_WRITE = re.compile(r"\b(?:mutation|subscription)\b")


def _graphql_query(args: list[str]) -> bool:
    """`gh api graphql -f query='query { viewer { login } }'`: GraphQL is always POSTed, its document says
    whether it reads. A document from a file, stdin or a variable (`query=@q.graphql`, `--input`) is not
    seen: no. Only the `query` field is run; the others are its variables."""
    endpoint = positionals(args, _API_VALUED)[1:2]
    if endpoint != ["graphql"] or "--input" in args:
        return False
    fields = _option_values(args, frozenset({"-f", "-F", "--field", "--raw-field"}))
    documents = [f.split("=", 1)[1] for f in fields if f.startswith("query=")]
    return bool(documents) and not any(d.startswith("@") or _GRAPHQL_WRITE.search(d) for d in documents)


_ENDPOINT = re.compile(r"^[a-z]+(?:/[A-Za-z][\w-]*)+$")
# Endpoints that run one of the CLI's own commands, named by a parameter, under the path it has on the
# command line: `rclone rc core/command command=ls` is `rclone ls`, `backend/command command=features`
# is `rclone backend features`.
_COMMAND_ENDPOINTS = {"core/command": (), "backend/command": ("backend",)}


def _endpoint_effect(spec: CliSpec, effect: Effect, args: list[str], verbs: dict[str, str]) -> Effect:
    """`rclone rc core/stats`: a remote-control call names its endpoint `group/verb`. It reads when the
    catalogue lists the endpoint as a read (`[rc, core/transferred]`), when its verb is the CLI's own
    reading command (`operations/about` is `rclone about`) or a reading verb, or when it runs a reading
    command of the CLI; any other call asks (the endpoint runs the daemon's commands: its group says no
    more)."""
    operands = positionals(args, spec.valued)[len(effect.path) :]
    endpoint = operands[0] if operands else ""
    reads = Effect("read", (*effect.path, endpoint), spec)
    if not _ENDPOINT.match(endpoint):
        return Effect("ask", effect.path, spec)
    listed = next((r.klass for r in spec.rules if r.path == (*effect.path, endpoint)), None)
    if listed is not None:
        return Effect(listed, (*effect.path, endpoint), spec)
    verb = endpoint.rsplit("/", 1)[1]
    if _reads_as_command(spec, [verb], verbs) or verb_class(verb, verbs) == "read":
        return reads
    if endpoint in _COMMAND_ENDPOINTS and "--json" not in _flag_keys(args):  # JSON may name another command
        named = [o.split("=", 1)[1] for o in operands if o.startswith("command=")]
        prefix = _COMMAND_ENDPOINTS[endpoint]
        if named and all(_reads_as_command(spec, [*prefix, command], verbs) for command in named):
            return reads
    return Effect("ask", effect.path, spec)


def _reads_as_command(spec: CliSpec, path: list[str], verbs: dict[str, str]) -> bool:
    """The CLI's own command of that path only reads (its explicit rule, or the verb of a catalogued path)."""
    return classify(spec, path, frozenset(), verbs).klass == "read"


def _playbook_effect(spec: CliSpec, args: list[str], verbs: dict[str, str]) -> Effect:
    if _flag_keys(args) & _PLAYBOOK_READ_FLAGS:
        return Effect("read", (), spec)
    books = [a for a in args if a.endswith((".yml", ".yaml")) and not a.startswith("-")]
    destroy = any(verb_class(b.rsplit("/", 1)[-1].rsplit(".", 1)[0], verbs) == "destroy" for b in books)
    return Effect("destroy" if destroy else "mutate", tuple(books[:1]), spec)


def _adhoc_effect(spec: CliSpec, args: list[str]) -> Effect:
    modules = _option_values(args, frozenset({"-m", "--module-name"}))
    module = modules[-1] if modules else "command"
    module_args = " ".join(_option_values(args, frozenset({"-a", "--args"})))
    if (
        _flag_keys(args) & _PLAYBOOK_READ_FLAGS
        or module in _READ_MODULES
        or module.endswith(("_info", "_facts"))
    ):
        return Effect("read", (module,), spec)
    if _DESTROY_STATE.search(module_args):
        return Effect("destroy", (module,), spec)
    return Effect("mutate", (module,), spec)


def _kind_of(arg: str) -> str:
    """kubectl's TYPE/NAME form (`pod/busybox1`) names the same resource kind as `pod busybox1`."""
    kind, slash, _ = arg.partition("/")
    return kind if slash and _SUBCOMMAND.match(kind) else arg


def check_vendor_cli(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    cat = catalogue()
    spec = cat.clis.get(view.name)
    if spec is None:
        return
    args = [w.text for w in view.args]
    if spec.name == "kubectl" and view.operands[:1] and view.operands[0].text == "delete":
        args = [_kind_of(a) for a in args]
    if spec.kind == "playbook":
        effect = _playbook_effect(spec, args, cat.verbs)
    elif spec.kind == "adhoc":
        effect = _adhoc_effect(spec, args)
    else:
        effect = classify(spec, args, _flag_keys(args), cat.verbs)
        if effect.klass == "api":
            effect = _api_effect(spec, args, any(w.dynamic for w in view.args))
        elif effect.klass == "endpoint":
            effect = _endpoint_effect(spec, effect, args, cat.verbs)
        elif spec.name == "terraform" and effect.path[:1] == ("apply",) and len(view.operands) > 1:
            return  # applying a saved plan: the reviewed `terraform plan -out` is what runs
        elif _stays_here(view, spec, effect, args):
            return
        elif spec.name == "rclone" and effect.path[:1] and effect.path[0] in _RCLONE_FILE_VERBS:
            trees = _local_trees(view, spec, effect.path[0])
            if trees is not None:  # only this machine's files change: judged as `rm -r` of each tree
                what = f"{view.name} {effect.path[0]} may delete entries of"
                for word in trees:
                    yield from tree_delete_findings(word, ctx, "local-tree-delete", what)
                return
    yield from effect_findings(view, effect, args)


def check_unknown_cli(view: CommandView, known: frozenset[str]) -> Iterator[ShellFinding]:
    """A resource-management CLI never catalogued (`NOUN [NOUN] VERB NAME`): a destroy verb after a
    resource noun asks — the blast radius is unknown, so a human decides."""
    if not view.name or view.name in known or not view.args or not _SUBCOMMAND.match(view.args[0].text):
        return
    words: list[str] = []
    for word in view.args:
        if word.text.startswith("-") or len(words) >= 3:
            break
        if not _SUBCOMMAND.match(word.text):
            break
        words.append(word.text)
    verbs = catalogue().verbs
    classes = [verb_class(w, verbs) for w in words]
    first_verb = next((i for i, c in enumerate(classes) if c is not None), None)
    # index 0 (`apt remove x`, `xargs echo rm`) is a local tool's own verb; after a resource noun, a destroy
    # verb or a high-impact change (`key revoke`, `db failover`, `user disable`) of an unknown remote asks
    if first_verb and (classes[first_verb] == "destroy" or _HIGH_IMPACT & set(tokens(words[first_verb]))):
        path = " ".join([view.name, *words[: first_verb + 1]])
        yield finding(
            "infra", "unknown-cli-destroy", "ask", "high", f"{path} deletes a resource of an unknown CLI"
        )
