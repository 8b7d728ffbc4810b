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
from railguard.detect.shell._view import CommandView, Ctx, finding

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
_SQL = ("psql", "mysql", "mariadb", "cockroach", "clickhouse-client")
ADMIN_NAMES = (*SOCKET_CLIENTS, *_STORE_SHELLS, *_MAILERS, *_CREATORS, *_SQL, "redis-cli", "valkey-cli", "curl",
               "wget", "http", "https", "xh")  # fmt: skip

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
_SERVER_SETTING = re2.compile(r"(?is)\bset\s+global\b|\balter\s+system\b|\bpg_terminate_backend\b")
_MAIL_VALUED = frozenset({"-s", "-a", "-A", "-b", "-c", "-r", "-q", "-S", "-i", "-F", "-f", "-e", "-u"})


def _payload(view: CommandView) -> str:
    """The literal text a command reads: a heredoc or pipe it was fed, or what `echo`/`printf` commands
    feeding it (`(echo AUTH x; echo FLUSHALL) | nc`) print."""
    parts = [view.exec.stdin_text or ""]
    for upstream in view.exec.upstream:
        if upstream.words and upstream.words[0].text in ("echo", "printf"):
            parts.append("\n".join(w.text for w in upstream.words[1:] if not w.text.startswith("-")))
    return "\n".join(p for p in parts if p)


def _socket_admin(view: CommandView) -> Iterator[ShellFinding]:
    payload = _payload(view)
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
    if method not in _MUTATING_METHODS:
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
        elif not word.text.startswith("-") and word.dynamic:
            return True
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


def check_admin(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    name = view.name
    if name in SOCKET_CLIENTS or name in _STORE_SHELLS:
        yield from _socket_admin(view)
    elif name in ("redis-cli", "valkey-cli"):
        yield from _redis(view)
    elif name in ("curl", "wget", "http", "https", "xh"):
        yield from _http_admin(view)
    elif name in _MAILERS:
        yield from _mail(view)
    elif name in _CREATORS and view.exec.loop == "endless":
        yield finding("system", "endless-create", "block", "critical",
                      f"{name} creates files in an endless loop (the disk or its inodes fill up)")  # fmt: skip
    elif name in _SQL:
        yield from _sql_admin(view)
