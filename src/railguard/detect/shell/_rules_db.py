"""database: destructive SQL or key-store commands sent through a client's command line or stdin.

SQL goes to `railguard.detect.sql.analyze_sql` when that module is importable; otherwise a small
keyword check (DROP, TRUNCATE, DELETE/UPDATE without WHERE) stands in, erring towards flagging.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

import re2

from railguard._internal import internal_error
from railguard.detect._budget import off_the_clock
from railguard.detect.shell._model import ShellFinding
from railguard.detect.shell._view import CommandView, Ctx, finding
from railguard.detect.sql_auth import removes_authentication

_CAT = "database"
_SQL_CLIENTS = {
    "psql": ("-c", "--command"), "mysql": ("-e", "--execute"), "mariadb": ("-e", "--execute"),
    "sqlite3": (), "clickhouse-client": ("-q", "--query"), "cockroach": ("-e", "--execute"),
    "sqlcmd": ("-Q", "-q"), "duckdb": ("-c",), "snowsql": ("-q", "--query"), "bq": (), "spark-sql": ("-e",),
    "trino": ("--execute",), "cqlsh": ("-e", "--execute"), "isql": (), "pgcli": (), "mycli": ("-e",),
    "snow": ("-q", "--query"), "beeline": ("-e",), "hive": ("-e",), "impala-shell": ("-q", "--query"),
    "vsql": ("-c", "--command"),
}  # fmt: skip
_DIALECTS = {
    "psql": "postgres",
    "mysql": "mysql",
    "mariadb": "mysql",
    "sqlite3": "sqlite",
    "duckdb": "duckdb",
    "clickhouse-client": "clickhouse",
    "sqlcmd": "tsql",
    "bq": "bigquery",
    "snowsql": "snowflake",
    "snow": "snowflake",
    "beeline": "hive",
    "hive": "hive",
    "impala-shell": "hive",
    "spark-sql": "spark",
    "trino": "trino",
}
_FALLBACK = re2.compile(
    r"(?i)\bdrop\s+(?:table|database|schema|index|view|user|role)\b|\btruncate\b|"
    r"\bdelete\s+from\s+[^;]*?(?:;|$)|\bupdate\s+\S+\s+set\b[^;]*?(?:;|$)|\balter\s+table\s+\S+\s+drop\b"
)
_HAS_WHERE = re2.compile(r"(?i)\bwhere\b")
_REDIS_DANGER = frozenset({"flushall", "flushdb", "shutdown", "debug", "config", "script", "swapdb"})
_MONGO_DANGER = re2.compile(
    r"dropDatabase|\.drop\s*\(|deleteMany\s*\(\s*\{\s*\}\s*\)|\.remove\s*\(\s*\{\s*\}"
)
# Replica-set and server administration: members removed or stepped down, operations killed, server
# parameters changed, the server shut down.
_MONGO_ADMIN = re2.compile(
    r"\brs\.(?:stepDown|remove|reconfig|add|addArb|freeze|syncFrom)\s*\(|\bkillOp\s*\(|\bshutdownServer\s*\(|"
    r"\b(?:setParameter|replSetReconfig|replSetStepDown|fsync|fsyncLock|dropUser|dropAllUsersFromDatabase|"
    r"revokeRolesFromUser|grantRolesToUser|createUser)\b"
)
# A whole SQL script (a file, a redirect, a pipe) run against a database on another host: a restore or
# import over live data.
_SCRIPT_CLIENTS = {"psql": ("-h", "--host"), "mysql": ("-h", "--host"), "mariadb": ("-h", "--host"),
                   "cockroach": ("--host", "--url"), "clickhouse-client": ("-h", "--host")}  # fmt: skip
_LOCAL_HOST = re2.compile(r"^(?:localhost|127(?:\.\d+){3}|::1|0\.0\.0\.0|/\S*)?(?::\d+)?$")
_URI_HOST = re2.compile(r"^(?:postgres(?:ql)?|mysql|mariadb)://(?:[^@/]*@)?([^/:?]+)")


@lru_cache(maxsize=1)
def _load_sql() -> Callable[..., Any] | None:
    """The SQL analyzer (sqlglot), loaded on the first statement that needs a full parse: off the
    deadline's clock, since importing it costs several times a decision's budget."""
    return off_the_clock(_import_sql)


def _import_sql() -> Callable[..., Any] | None:
    try:
        from railguard.detect.sql import analyze_sql
    except ImportError:  # the SQL analyzer ships separately; fall back to keywords
        return None
    return analyze_sql


# A statement can only destroy data if one of these words appears; everything else skips the full parse.
_MUTATING_WORDS = re2.compile(
    r"(?i)\b(?:drop|truncate|delete|update|alter|grant|revoke|copy|replace|merge|insert|rename|exec|execute|call|"
    r"vacuum|reindex|cluster|lock|set|do|load|attach|detach|pragma|flush|purge|shutdown|kill)\b"
)


_OBVIOUS_DROP = re2.compile(r"(?i)(?:^|;)\s*(?:drop\s+(?:table|database|schema)|truncate)\b")


@lru_cache(maxsize=1024)
def sql_is_destructive(text: str, dialect: str | None) -> bool:
    if not _MUTATING_WORDS.search(text):
        return False
    if _OBVIOUS_DROP.search(text):
        return True  # a statement that starts with DROP/TRUNCATE needs no full parse to judge
    analyze_sql = _load_sql()
    if analyze_sql is not None:
        try:
            return bool(analyze_sql(text, dialect).destructive)
        except Exception as err:  # a parser bug must not hide a DROP: fall through to the keyword check
            internal_error("detect.sql", err)
    for match in _FALLBACK.finditer(text):
        statement = match.group(0).lower()
        if statement.startswith(("delete", "update")) and _HAS_WHERE.search(statement):
            continue
        return True
    return False


def _sql_texts(view: CommandView) -> list[str]:
    flags = _SQL_CLIENTS[view.name]
    texts = view.values(*flags) if flags else []
    if view.name == "sqlite3" and len(view.operands) > 1:
        texts += [w.text for w in view.operands[1:]]
    if view.name == "bq" and view.operands[:1] and view.operands[0].text == "query":
        texts += [w.text for w in view.operands[1:]]
    if view.exec.stdin_text:
        texts.append(view.exec.stdin_text)
    return texts


def _redis_read(words: list[str], index: int) -> bool:
    """`CONFIG GET`, `SCRIPT EXISTS`: admin commands in their read-only form."""
    return words[index] in ("config", "script") and words[index + 1 : index + 2] in (["get"], ["exists"])


def _remote_host(view: CommandView) -> str:
    hosts = view.values(*_SCRIPT_CLIENTS[view.name])
    hosts += [m.group(1) for w in view.operands if (m := _URI_HOST.match(w.text))]
    return next((h for h in hosts if not _LOCAL_HOST.match(h)), "")


def _script_to_remote(view: CommandView) -> Iterator[ShellFinding]:
    """`mysql -h db-prod shop < dump.sql`, `gunzip -c b.sql.gz | psql -h db.prod app`, `psql -h db -f x.sql`."""
    if view.name not in _SCRIPT_CLIENTS or view.values("-c", "--command", "-e", "--execute"):
        return
    scripted = (
        bool(view.values("-f", "--file"))
        or any(r.op == "<" for r in view.exec.redirects)
        or bool(view.exec.upstream)
    )
    host = _remote_host(view) if scripted else ""
    if host:
        yield finding(_CAT, "sql-script-remote", "ask", "high",
                      f"{view.name} runs a whole SQL script against {host} (an import or restore over its data)")  # fmt: skip


def check_database(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    name = view.name
    yield from _script_to_remote(view)
    if name in _SQL_CLIENTS:
        for text in _sql_texts(view):
            if removes_authentication(text):
                yield finding(_CAT, "sql-auth-removed", "block", "critical",
                              f"{name} leaves a database account without a password")  # fmt: skip
                return
            if sql_is_destructive(text, _DIALECTS.get(name)):
                yield finding(
                    _CAT,
                    "destructive-sql",
                    "block",
                    "critical",
                    f"{name} runs destructive SQL (DROP/TRUNCATE/unfiltered DELETE or UPDATE)",
                )
                return
    elif name == "redis-cli":
        words = [w.text.lower() for w in view.operands]
        stdin = (view.exec.stdin_text or "").lower().split()
        said = [*words, *stdin]
        hit = next((w for i, w in enumerate(said) if w in _REDIS_DANGER and not _redis_read(said, i)), None)
        if hit in ("flushall", "flushdb", "swapdb"):
            yield finding(
                _CAT, "redis-flush", "block", "critical", f"redis-cli {hit.upper()} deletes every key"
            )
        elif hit:
            yield finding(_CAT, "redis-admin", "ask", "high", f"redis-cli {hit.upper()}")
    elif name in ("mongo", "mongosh"):
        code = " ".join(view.values("--eval")) + (view.exec.stdin_text or "")
        if not _MONGO_DANGER.search(code) and _MONGO_ADMIN.search(code):
            yield finding(_CAT, "mongo-admin", "ask", "high",
                          f"{name} changes the replica set, kills operations or changes server settings")  # fmt: skip
        if _MONGO_DANGER.search(code):
            yield finding(
                _CAT, "mongo-drop", "block", "critical", f"{name} drops or empties a collection/database"
            )
    elif name in ("dropdb", "dropuser"):
        yield finding(_CAT, name, "block", "critical", f"{name} deletes a database or role")
    elif name == "mysqladmin" and any(w.text == "drop" for w in view.operands):
        yield finding(_CAT, "mysqladmin-drop", "block", "critical", "mysqladmin drop deletes a database")


# Framework tasks that drop or wipe the application's database: (command, task) -> verdict.
_FRAMEWORK_TASKS = {
    "db:drop": "block", "db:purge": "block", "db:reset": "ask", "db:schema:load": "ask", "db:migrate:reset": "ask",
    "flush": "block", "reset_db": "block", "ecto.drop": "block", "ecto.reset": "ask",
    "db:drop:all": "block", "migrate:fresh": "block", "migrate:reset": "ask", "db:wipe": "block",
    "db:migrate:undo:all": "block", "schema:drop": "block", "doctrine:schema:drop": "block",
    "doctrine:database:drop": "block", "setup:uninstall": "block", "dropAll": "block", "drop-all": "block",
    "sql-drop": "block", "sql:drop": "block",
}  # fmt: skip
_FRAMEWORK_RUNNERS = frozenset({"rails", "rake", "python", "python3", "django-admin", "mix", "sequelize",
                                "php", "artisan", "bundle", "npx", "prisma", "knex", "alembic", "sequelize-cli",
                                "typeorm", "liquibase", "flyway", "dotnet", "drizzle-kit", "magento", "bin/magento",
                                "pnpm", "yarn", "bunx"})  # fmt: skip
FRAMEWORK_AND_SQL = _FRAMEWORK_RUNNERS | frozenset(_SQL_CLIENTS) | {"mongo", "mongosh", "redis-cli"}
# Whole-schema rollbacks and pushes that drop what the model no longer has: (runner word, flag) pairs.
_ROLLBACK_ALL = re2.compile(
    r"(?:^| )(?:migrate:rollback|db:rollback|rollback) .*--all\b|(?:^| )migrate \S+ zero(?: |$)|"
    r"(?:^| )downgrade (?:.* )?base(?: |$)|(?:^| )push .*--(?:accept-data-loss|force)\b|"
    r"(?:^| )database drop(?: |$)"
)


def check_framework_database(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    """`rails db:drop`, `manage.py flush`, `prisma migrate reset`, `artisan migrate:fresh` ..."""
    words = [w.text for w in view.operands]
    for task in words[:4]:
        verdict = _FRAMEWORK_TASKS.get(task)
        if verdict:
            yield finding(
                _CAT, "framework-db-wipe", verdict, "high", f"{view.name} {task} drops or wipes the database"
            )
            return
    if (
        "prisma" in words[:2]
        and (
            words[words.index("prisma") + 1 : words.index("prisma") + 3] == ["migrate", "reset"]
            or "--force-reset" in (w.text for w in view.args)
        )
    ) or (view.name == "prisma" and (words[:2] == ["migrate", "reset"] or view.has("--force-reset"))):
        yield finding(_CAT, "framework-db-wipe", "block", "high", "prisma resets the database")
    elif _ROLLBACK_ALL.search(" ".join(w.text for w in view.args)) or (
        view.name == "flyway"
        and "clean" in words
        and any(w.text == "-cleanDisabled=false" for w in view.args)
    ):
        yield finding(_CAT, "framework-db-wipe", "ask", "high",
                      f"{view.name} rolls every migration back, drops the database or the model's missing tables")  # fmt: skip
