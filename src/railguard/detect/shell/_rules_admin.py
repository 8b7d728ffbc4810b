"""Admin actions on the services a host talks to: admin commands typed into a raw socket or a store's
shell (`echo flush_all | nc cache 11211`, `echo FLUSHALL | nc`, `deleteall` into zkCli), Redis's
replication and client commands, destructive calls to admin HTTP endpoints, superuser grants in SQL,
mail sent in loops or to recipients read at run time, and endless loops that create files.

Each is judged by what reaches the service, whatever tool carries it, so a new client of the same
protocol is judged the same way."""

from __future__ import annotations

from collections.abc import Iterator

import re2

from railguard.detect.shell._model import ShellFinding
from railguard.detect.shell._rules_db import _sql_texts as sql_texts
from railguard.detect.shell._rules_host import _write_targets as write_targets
from railguard.detect.shell._rules_search import search_admin
from railguard.detect.shell._view import CommandView, Ctx, classify_target, finding

SOCKET_CLIENTS = ("nc", "ncat", "netcat", "telnet", "socat", "openssl")
_STORE_SHELLS = ("zkCli.sh", "zkCli", "zkcli", "zookeeper-shell", "zookeeper-shell.sh")
_MAILERS = (
    "mail",
    "mailx",
    "s-nail",
    "bsd-mailx",
    "mutt",
    "neomutt",
    "sendmail",
    "swaks",
    "msmtp",
    "sendemail",
)
_CREATORS = ("mkdir", "touch", "mktemp", "fallocate", "cp", "dd", "truncate", "useradd", "adduser")
_SQL = ("psql", "mysql", "mariadb", "cockroach", "clickhouse-client", "cqlsh")
ADMIN_NAMES = (*SOCKET_CLIENTS, *_STORE_SHELLS, *_MAILERS, *_CREATORS, *_SQL, "redis-cli", "valkey-cli", "curl",
               "wget", "http", "https", "xh", "docker", "podman", "nerdctl", "kill")  # fmt: skip

# One line of a text protocol (memcached, Redis inline or RESP, ZooKeeper, HAProxy/Varnish admin sockets)
# that deletes everything, stops the service, or hands it to another host.
_PAYLOAD_BLOCK = re2.compile(
    r"(?im)^\s*(?:flush_all|flushall|flushdb|swapdb|shutdown(?:\s+nosave)?\s*$|"
    r"(?:slaveof|replicaof)\s+[\w.:-]+\s+\d+|debug\s+(?:segfault|crash)|"
    r"deleteall\s|rmr\s|delete\s+/|cluster\s+reset\b)"
)
_PAYLOAD_ASK = re2.compile(
    r"(?im)^\s*(?:disable\s+(?:server|frontend|backend)\b|set\s+(?:weight|server)\s|shutdown\s+sessions?\b|"
    r"client\s+kill\b|config\s+set\b|kill\b|ban\b|del\s|unlink\s|set\s+maxconn\b|clear\s+table\b)"
)
# Paths of admin HTTP endpoints: code execution, deleting data by query, sealing, shutting down.
_ADMIN_BLOCK = re2.compile(
    r"(?i)/(?:scriptText|script)(?:[/?]|$)|/_delete_by_query\b|/admin/tsdb/delete_series\b|/v1/sys/seal\b"
)
_ADMIN_ASK = re2.compile(
    r"(?i)/(?:actuator/(?:shutdown|restart|pause|refresh|env|loggers)|v1/agent/(?:leave|force-leave|"
    r"service/deregister|check/deregister)|v1/operator/|v1/sys/(?:step-down|mounts|auth|policy|policies)|"
    r"_update_by_query|_close|_shutdown|_cluster/settings|_flush|_forcemerge|_rollover|"
    r"api/v1/admin/|plugins|shutdown|restart|quit|exit|safeExit|flush|purge|wipe|reset)(?:[/?]|$)"
)
_MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DATA_FLAGS = ("-d", "--data", "--data-raw", "--data-binary", "--data-urlencode", "-F", "--form", "-T",
               "--upload-file", "--json")  # fmt: skip
# SQL that makes an account all-powerful, or changes the server for every client.
_SUPERUSER = re2.compile(r"(?is)\b(?:create|alter)\s+(?:role|user)\b[^;]*\bsuperuser\b")
_SERVER_SETTING = re2.compile(
    r"(?is)\bset\s+global\b|\balter\s+system\b|\bpg_terminate_backend\b|\bpg_drop_replication_slot\b|"
    r"\breset\s+(?:master|replica|slave|binary\s+logs)\b|\bstop\s+(?:replica|slave)\b|"
    r"\bchange\s+(?:master|replication\s+source)\s+to\b|\bpurge\s+binary\s+logs\b|\bdrop_chunks\b|"
    r"\balter\s+database\s+\S+\s+set\b|\balter\s+keyspace\b|\bkill\s+(?:query\s+|connection\s+)?(?:\d|')|"
    r"\bvacuum\s+full\b"
)
# Per-user and system configuration of fetching tools: what is written there changes every later run
# (registry, proxy, TLS checks), not just this one.
_TOOL_CONFIGS = ("/.npmrc", "/.yarnrc", "/.yarnrc.yml", "/.curlrc", "/.wgetrc", "/.pip/pip.conf",
                 "/.config/pip/pip.conf", "/.pydistutils.cfg", "/.condarc", "/.gemrc", "/.cargo/config",
                 "/.cargo/config.toml", "/.m2/settings.xml", "/.gradle/gradle.properties", "/.gitconfig",
                 "/.config/git/config", "/.bunfig.toml", "/etc/pip.conf", "/etc/npmrc", "/etc/gitconfig",
                 "/etc/wgetrc", "/.config/uv/uv.toml", "/.docker/daemon.json", "/etc/docker/daemon.json")  # fmt: skip
_TLS_OFF_TEXT = re2.compile(
    r"(?im)^\s*(?:-k|--insecure|insecure)\s*$|check.certificate\s*=\s*off|ssl.?verify\s*[=:]\s*(?:false|0|no)|"
    r"strict-ssl\s*=\s*false|trusted-host|insecure-registries|enableStrictSsl\s*[=:]\s*false|"
    r"allow-insecure|verify_ssl\s*[=:]\s*false"
)
# Where a POST is a message to people: chat webhooks, bot and SMS/mail APIs, or a variable named so.
_MESSAGE_ENDPOINT = re2.compile(
    r"(?i)hooks\.slack\.com/|discord(?:app)?\.com/api/webhooks/|api\.telegram\.org/bot|api\.twilio\.com/.*/Messages|"
    r"outlook\.office\.com/webhook|webhook\.office\.com/|chat\.googleapis\.com/|api\.sendgrid\.com/v3/mail|"
    r"api\.mailgun\.net/.*/messages|api\.pushover\.net/|ntfy\.sh/|^\$\{?\w*(?:WEBHOOK|SLACK|DISCORD|TEAMS)\w*"
)
_CONTAINER_STOPS = frozenset({"stop", "kill", "rm", "pause"})
_GENTLE_SIGNALS = frozenset({"HUP", "1", "USR1", "10", "USR2", "12", "0", "WINCH", "28", "CONT", "18"})
_RUNNER_ITEM = re2.compile(
    r"\$(?:PARALLEL|XARGS)\b"
)  # what `_unwrap` puts for an input item of parallel/xargs
_MAIL_VALUED = frozenset({"-s", "-a", "-A", "-b", "-c", "-r", "-q", "-S", "-i", "-F", "-f", "-e", "-u"})


def fed_text(view: CommandView) -> str:
    """The literal text a command reads: a heredoc or pipe it was fed, or what `echo`/`printf` commands
    feeding it (`(echo AUTH x; echo FLUSHALL) | nc`) print."""
    parts = [view.exec.stdin_text or ""]
    for upstream in view.exec.upstream:
        if upstream.words and upstream.words[0].text in ("echo", "printf"):
            parts.append("\n".join(w.text for w in upstream.words[1:] if not w.text.startswith("-")))
    return "\n".join(p for p in parts if p)


def _served_file(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    """`nc -l 4444 < /etc/passwd`: a listener hands a host file to whoever connects."""
    if not view.has("-l", "--listen"):
        return
    for redirect in view.exec.redirects:
        if redirect.op == "<" and redirect.target is not None:
            target = classify_target(redirect.target, ctx)
            if target.zone not in ("workspace", "workspace_root", "scratch", "dynamic"):
                yield finding("exposure", "serve-file", "ask", "high",
                              f"{view.name} serves {target.path} to whoever connects")  # fmt: skip
                return


def _socket_admin(view: CommandView) -> Iterator[ShellFinding]:
    payload = fed_text(view)
    if not payload:
        return
    if _PAYLOAD_BLOCK.search(payload):
        yield finding("database", "admin-payload", "block", "critical",
                      f"{view.name} sends a service an admin command that deletes its data, stops it or "
                      "hands it to another host")  # fmt: skip
    elif _PAYLOAD_ASK.search(payload):
        yield finding("infra", "admin-payload", "ask", "high",
                      f"{view.name} sends a service an admin command (servers disabled, clients killed, "
                      "settings changed)")  # fmt: skip


def _redis(view: CommandView) -> Iterator[ShellFinding]:
    said = [w.text.lower() for w in view.operands]
    for i, word in enumerate(said):
        following = said[i + 1 : i + 3]
        if word in ("replicaof", "slaveof") and following and following[0] != "no":
            yield finding("database", "redis-replicaof", "block", "critical",
                          f"{view.name} {word.upper()} replaces every key with another server's data")  # fmt: skip
            return
        if word == "shutdown" and "nosave" in following:
            yield finding("database", "redis-flush", "block", "critical",
                          f"{view.name} SHUTDOWN NOSAVE loses every write since the last save")  # fmt: skip
            return
        if word == "client" and following[:1] == ["kill"]:
            yield finding("database", "redis-admin", "ask", "high", f"{view.name} CLIENT KILL drops clients")
            return
        if word in ("del", "unlink") and view.exec.dynamic_operands:
            yield finding("database", "redis-mass-delete", "ask", "high",
                          f"{view.name} {word.upper()} deletes keys chosen at run time")  # fmt: skip
            return


def _http_admin(view: CommandView) -> Iterator[ShellFinding]:
    method = (view.value("-X", "--request", "--method") or "").strip("'\"").upper()
    if view.name in ("http", "https", "xh") and view.operands:
        method = view.operands[0].text.upper()
    elif not method and view.has(*_DATA_FLAGS):
        method = "POST"
    urls = [w.text for w in view.args if "/" in w.text and not w.text.startswith("-")]
    payload = " ".join(view.values(*_DATA_FLAGS))
    searched = list(search_admin(view.name, method or "GET", urls, payload))
    if searched:
        yield from searched
        return
    if method not in _MUTATING_METHODS:
        return
    if view.exec.loop and any(_MESSAGE_ENDPOINT.search(w.text) for w in view.args):
        endless = view.exec.loop == "endless"
        yield finding("exfiltration", "message-loop", "block" if endless else "ask", "high",
                      f"{view.name} posts messages to people in {'an endless' if endless else 'a'} loop")  # fmt: skip
        return
    for word in view.args:
        text = word.text
        if "/" not in text or text.startswith("-"):
            continue
        path = text.split("://", 1)[-1].partition("/")[2]
        if not path:
            continue
        if _ADMIN_BLOCK.search("/" + path):
            yield finding("infra", "admin-endpoint", "block", "critical",
                          f"{view.name} {method} calls an admin endpoint that runs code, deletes data by "
                          "query or seals a secret store")  # fmt: skip
            return
        if _ADMIN_ASK.search("/" + path):
            yield finding("infra", "admin-endpoint", "ask", "high",
                          f"{view.name} {method} calls a service's admin endpoint (shutdown, leave, "
                          "settings, plugins)")  # fmt: skip
            return


def _sql_admin(view: CommandView) -> Iterator[ShellFinding]:
    for text in sql_texts(view):
        if _SUPERUSER.search(text):
            yield finding("database", "sql-superuser", "block", "critical",
                          f"{view.name} makes a database account a superuser")  # fmt: skip
            return
        if _SERVER_SETTING.search(text):
            yield finding("database", "sql-server-setting", "ask", "high",
                          f"{view.name} changes a server-wide setting or ends other sessions")  # fmt: skip
            return


def _mail_recipients_dynamic(view: CommandView) -> bool:
    if view.exec.dynamic_operands:
        return True
    args = view.args
    skip = False
    for word in args:
        if skip:
            skip = False
        elif word.text in _MAIL_VALUED:
            skip = True
        elif not word.text.startswith("-") and (word.subs or _RUNNER_ITEM.search(word.text)):
            return (
                True  # `$(cat customers.txt)`, parallel's `{}`: a list read at run time (not a lone `$EMAIL`)
            )
    return False


def _mail(view: CommandView) -> Iterator[ShellFinding]:
    if view.exec.loop == "endless":
        yield finding(
            "exfiltration", "mail-loop", "block", "critical", f"{view.name} sends mail in an endless loop"
        )
    elif view.exec.loop:
        yield finding("exfiltration", "mail-loop", "ask", "high",
                      f"{view.name} sends mail in a loop (a mass mailing)")  # fmt: skip
    elif view.name not in ("sendmail", "msmtp") and _mail_recipients_dynamic(view):
        yield finding("exfiltration", "mail-loop", "ask", "high",
                      f"{view.name} mails recipients read at run time (a mass mailing)")  # fmt: skip


def _every_container(view: CommandView) -> Iterator[ShellFinding]:
    """`docker stop $(docker ps -q)`: the operands are every running (or, with -a, every) container."""
    operands = view.operands
    if not operands or operands[0].text not in _CONTAINER_STOPS:
        return
    for word in operands[1:]:
        for sub in word.subs:
            argv = [w.text for w in sub.words]
            quiet = any("q" in a for a in argv if a[:1] == "-" and a[:2] != "--")
            narrowed = any(a in ("-f", "--filter") or a.startswith("--filter=") for a in argv)
            if argv[:1] == [view.name] and "ps" in argv[1:3] and quiet and not narrowed:
                yield finding("infra", "stop-every-container", "ask", "high",
                              f"{view.name} {operands[0].text} hits every container on the host")  # fmt: skip
                return


def _pidfile_kill(view: CommandView) -> Iterator[ShellFinding]:
    """`kill $(cat /run/nginx.pid)`: the pid a system service wrote for itself (not a reload signal)."""
    texts = [w.text for w in view.args]
    signals = [t.lstrip("-").upper().removeprefix("SIG") for t in texts if t.startswith("-")]
    signals += [
        texts[i + 1].upper().removeprefix("SIG") for i, t in enumerate(texts[:-1]) if t in ("-s", "-n")
    ]
    if any(s in _GENTLE_SIGNALS for s in signals):
        return
    for word in view.operands:
        for sub in word.subs:
            argv = [w.text for w in sub.words]
            if argv[:1] == ["cat"] and any(
                a.startswith(("/run/", "/var/run/")) and a.endswith(".pid") for a in argv
            ):
                yield finding("infra", "service-stop", "ask", "high",
                              f"{view.name} stops the service whose pid file is read")  # fmt: skip
                return


def check_admin(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    name = view.name
    if name in SOCKET_CLIENTS or name in _STORE_SHELLS:
        yield from _socket_admin(view)
        yield from _served_file(view, ctx)
    elif name in ("redis-cli", "valkey-cli"):
        yield from _redis(view)
    elif name in ("curl", "wget", "http", "https", "xh"):
        yield from _http_admin(view)
    elif name == "kill":
        yield from _pidfile_kill(view)
    elif name in ("docker", "podman", "nerdctl"):
        yield from _every_container(view)
    elif name in _MAILERS:
        yield from _mail(view)
    elif name in _CREATORS and view.exec.loop == "endless":
        yield finding("system", "endless-create", "block", "critical",
                      f"{name} creates files in an endless loop (the disk or its inodes fill up)")  # fmt: skip
    elif name in _SQL:
        yield from _sql_admin(view)


def check_tool_config_writes(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    """Every command: a write into a fetching tool's own configuration outside the workspace."""
    for word in write_targets(view):
        target = classify_target(word, ctx)
        if target.zone in ("dynamic", "workspace", "workspace_root") or not target.path.endswith(
            _TOOL_CONFIGS
        ):
            continue
        text = "\n".join([view.exec.stdin_text or "", *(w.text for w in view.args)])
        if _TLS_OFF_TEXT.search(text):
            yield finding("supply_chain", "tool-config-tls-off", "block", "critical",
                          f"{view.name or 'redirect'} switches TLS checks off in {target.path}")  # fmt: skip
        else:
            yield finding("supply_chain", "tool-config-write", "ask", "high",
                          f"{view.name or 'redirect'} changes {target.path} (registry, proxy or TLS of every "
                          "later run)")  # fmt: skip
        return
