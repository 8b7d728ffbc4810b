"""What a SQL text really does: statement kinds, tables touched, and whether it destroys data.

Parsing is done by sqlglot (never regex), so comments, case games and string literals cannot hide or
fake keywords. Data-modifying statements nested inside others (a PostgreSQL CTE wrapping a DELETE, a
MERGE ... THEN DELETE) are reported as statements of their own, so a rule on `kinds` sees them.
Anything sqlglot cannot parse, or parses only as an opaque `Command`, sets `unparsed`: the caller
should then ask a human rather than guess.
"""

from __future__ import annotations

import contextvars
import dataclasses
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import re2
import sqlglot
from sqlglot import exp

from railguard.detect.net import RuleFinding
from railguard.detect.sql_auth import removes_authentication

__all__ = ["SqlAnalysis", "SqlStatement", "analyze_sql"]

# sqlglot needs roughly 15 ms per KB of SQL: past this size parsing would blow any decision deadline,
# so such input is reported as unparsed (the caller asks a human) instead of being parsed.
MAX_SQL_CHARS = 32_000

# When the caller names no dialect we try the generic one first, then the common engines' grammars.
_FALLBACK_DIALECTS: tuple[str | None, ...] = (None, "postgres", "mysql", "tsql", "sqlite")

# MySQL runs the body of `/*! ... */` (optionally `/*!50000 ... */`) as SQL although every other
# parser sees a comment: unwrap it so the hidden statement is analyzed. re2 keeps this linear.
_MYSQL_EXECUTABLE_COMMENT = re2.compile(r"(?s)/\*!\d*(.*?)\*/")

# Opaque commands sqlglot does not model that only read or set session state.
_HARMLESS_COMMANDS = frozenset(
    {"SHOW", "DESCRIBE", "DESC", "USE", "SET", "BEGIN", "COMMIT", "ROLLBACK", "START", "SAVEPOINT"}
)
_COMMAND_KINDS = {
    "DROP": "drop",
    "TRUNCATE": "truncate",
    "ALTER": "alter",
    "CREATE": "create",
    "GRANT": "grant",
    "INSERT": "insert",
    "UPDATE": "update",
    "DELETE": "delete",
    "SELECT": "select",
}
_WRITE_KINDS = frozenset({"insert", "update", "delete", "drop", "truncate", "alter", "create", "grant"})
# Statement types outside the documented kinds that still change data or files.
# (getattr: older sqlglot releases lack some node types; a missing type simply never matches.)
_EXECUTE: tuple[type[exp.Expr], ...] = tuple(c for c in (getattr(exp, "Execute", None),) if c is not None)
_OTHER_WRITES: tuple[type[exp.Expr], ...] = (
    exp.Merge,
    exp.Copy,
    *(c for c in (getattr(exp, "Revoke", None),) if c is not None),
    *_EXECUTE,
)
_DESTRUCTIVE_RULES = frozenset(
    {
        "sql.drop",
        "sql.truncate",
        "sql.delete_without_where",
        "sql.update_without_where",
        "sql.alter_drop",
        "sql.grant_all",
    }
)
# Procedures and functions that reach the operating system, the file system or other servers from
# inside the database: the classic ways a SQL tool becomes a shell or an SSRF pivot.
_OS_COMMAND_PROCEDURES = frozenset({"xp_cmdshell", "sp_oacreate", "sp_oamethod", "xp_regwrite", "sys_exec"})
_DANGEROUS_FUNCTIONS = frozenset(
    {
        "pg_read_file",
        "pg_read_binary_file",
        "pg_ls_dir",
        "pg_stat_file",
        "lo_import",
        "lo_export",
        "load_file",
        "dblink",
        "dblink_exec",
        "dblink_connect",
        "openrowset",
        "opendatasource",
        "openquery",
        "xp_cmdshell",
        "xp_dirtree",
        "sys_exec",
        "sys_eval",
    }
)


@dataclass(frozen=True, slots=True)
class SqlStatement:
    """One statement. `has_where` is true only for a WHERE that can filter rows: `WHERE 1=1` does not count."""

    kind: str
    tables: tuple[str, ...]
    has_where: bool
    writes: bool = False  # also true for kinds reported as "other" that change data (MERGE, COPY)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "tables": list(self.tables), "has_where": self.has_where}


@dataclass(frozen=True, slots=True)
class SqlAnalysis:
    statements: tuple[SqlStatement, ...]
    destructive: bool
    unparsed: bool
    findings: tuple[RuleFinding, ...] = ()

    @property
    def kinds(self) -> list[str]:
        return _unique(s.kind for s in self.statements)

    @property
    def tables(self) -> list[str]:
        return _unique(t for s in self.statements for t in s.tables)

    @property
    def writes(self) -> bool:
        return any(s.writes for s in self.statements)

    def to_fact(self) -> dict[str, Any]:
        return {
            "statements": [s.to_dict() for s in self.statements],
            "kinds": self.kinds,
            "tables": self.tables,
            "destructive": self.destructive,
            "writes": self.writes,
            "unparsed": self.unparsed,
            "findings": [f.to_dict() for f in self.findings],
        }


def analyze_sql(text: str, dialect: str | None = None) -> SqlAnalysis:
    """Parse `text` (one or more statements) and report what it does. Never raises."""
    analysis = _analyze_parsed(text, dialect)
    if len(text) <= MAX_SQL_CHARS and removes_authentication(text):
        auth = RuleFinding("sql.auth_removed", "block", "critical", "an account is left without a password")
        return dataclasses.replace(analysis, findings=(*analysis.findings, auth))
    return analysis


def _analyze_parsed(text: str, dialect: str | None) -> SqlAnalysis:
    if len(text) > MAX_SQL_CHARS:
        return _unparsed_only(f"SQL text longer than {MAX_SQL_CHARS} characters was not parsed")
    if "/*!" in text:
        text = _MYSQL_EXECUTABLE_COMMENT.sub(r" \1 ", text)
    trees = _parse(text, dialect)
    if trees is None:
        return _unparsed_only("sqlglot could not parse the SQL text")
    collector = _Collector()
    try:
        for tree in trees:
            if tree is not None:
                collector.add_tree(tree)
    except RecursionError:  # absurdly nested expressions: refuse to guess
        return _unparsed_only("SQL expression nesting too deep to analyze")
    return collector.result()


class _QuietWhileAnalyzing(logging.Filter):
    """sqlglot logs the SQL text itself when it falls back to an opaque Command, and that text can hold
    a password (`ALTER USER bob PASSWORD '...'`). Drop sqlglot's records emitted inside `analyze_sql`
    only; the rest of the application keeps sqlglot's logging as configured."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not _analyzing.get()


_analyzing: contextvars.ContextVar[bool] = contextvars.ContextVar("railguard_sql_analyzing", default=False)
logging.getLogger("sqlglot").addFilter(_QuietWhileAnalyzing())


def _parse(text: str, dialect: str | None) -> list[exp.Expr | None] | None:
    token = _analyzing.set(True)
    try:
        return _parse_any_dialect(text, dialect)
    finally:
        _analyzing.reset(token)


def _parse_any_dialect(text: str, dialect: str | None) -> list[exp.Expr | None] | None:
    dialects = (dialect,) if dialect else _FALLBACK_DIALECTS
    for candidate in dialects:
        try:
            return sqlglot.parse(text, read=candidate)
        # sqlglot raises ParseError/TokenError, but deep nesting or odd input can surface as
        # RecursionError, ValueError or others; any failure means "unparsed", never a crash.
        except Exception:
            continue
    return None


def _unparsed_only(detail: str) -> SqlAnalysis:
    finding = RuleFinding("sql.unparsed", "ask", "medium", detail)
    return SqlAnalysis(statements=(), destructive=False, unparsed=True, findings=(finding,))


class _Collector:
    """Walks parsed trees and accumulates statements and findings."""

    def __init__(self) -> None:
        self.statements: list[SqlStatement] = []
        self.findings: list[RuleFinding] = []
        self.unparsed = False

    def result(self) -> SqlAnalysis:
        destructive = any(f.rule in _DESTRUCTIVE_RULES for f in self.findings)
        return SqlAnalysis(
            statements=tuple(self.statements),
            destructive=destructive,
            unparsed=self.unparsed,
            findings=tuple(self.findings),
        )

    def flag(self, rule: str, verdict: str, severity: str, detail: str) -> None:
        self.findings.append(RuleFinding(rule, verdict, severity, detail))

    def add_tree(self, tree: exp.Expr) -> None:
        if isinstance(tree, exp.Command):
            self._add_command(tree)
            return
        cte_names = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
        self._add_statement(tree, cte_names)
        for nested in _nested_statements(tree):
            self._add_statement(nested, cte_names)
        self._check_reach_outside(tree)

    def _check_reach_outside(self, tree: exp.Expr) -> None:
        """Flag SQL that runs OS commands, touches server files, or connects to other servers."""
        for func in tree.find_all(exp.Anonymous):
            name = func.name.lower()
            if name in _DANGEROUS_FUNCTIONS:
                self.flag("sql.dangerous_function", "block", "high", f"calls {name}()")
        for node in tree.find_all(*_EXECUTE):
            procedure = node.this.name.lower() if isinstance(node.this, exp.Expression) else ""
            if procedure in _OS_COMMAND_PROCEDURES:
                self.flag("sql.os_command", "block", "critical", f"EXEC {procedure} runs an OS command")
            else:
                self.flag("sql.exec_procedure", "ask", "medium", f"EXEC {procedure or 'dynamic SQL'}")
        for copy in tree.find_all(exp.Copy):
            files = [f.name.upper() for f in copy.args.get("files") or () if isinstance(f, exp.Expression)]
            if "PROGRAM" in files:
                self.flag("sql.os_command", "block", "critical", "COPY ... PROGRAM runs an OS command")
            elif not set(files) & {"STDIN", "STDOUT"}:
                self.flag(
                    "sql.file_access", "ask", "high", "COPY reads or writes a file on the database server"
                )

    def _add_statement(self, node: exp.Expr, cte_names: set[str]) -> None:
        kind = _kind_of(node)
        tables = _tables_of(node, cte_names)
        has_where = _has_filtering_where(node)
        writes = kind in _WRITE_KINDS or isinstance(node, _OTHER_WRITES)
        self.statements.append(SqlStatement(kind, tables, has_where, writes))
        self._check_destructive(node, kind, tables, has_where)

    def _check_destructive(self, node: exp.Expr, kind: str, tables: tuple[str, ...], has_where: bool) -> None:
        where_text = _where_description(node)
        target = ", ".join(tables) or "?"
        if isinstance(node, exp.Drop):
            drop_kind = str(node.args.get("kind") or "object").lower()
            severity = "critical" if drop_kind in ("database", "schema") else "high"
            self.flag("sql.drop", "block", severity, f"DROP {drop_kind.upper()} {target}")
        elif kind == "truncate":
            self.flag("sql.truncate", "block", "high", f"TRUNCATE {target}")
        elif kind in ("delete", "update") and not has_where and not _join_filtered(node):
            self.flag(f"sql.{kind}_without_where", "block", "high", f"{kind.upper()} {target} {where_text}")
        elif isinstance(node, exp.Alter):
            dropped = [a for a in node.args.get("actions") or () if isinstance(a, exp.Drop)]
            for action in dropped:
                what = str(action.args.get("kind") or "part").lower()
                self.flag("sql.alter_drop", "block", "high", f"ALTER {target} drops a {what}")
        elif isinstance(node, exp.Grant) and _grants_all(node):
            self.flag("sql.grant_all", "block", "high", f"GRANT ALL on {target}")

    def _add_command(self, node: exp.Command) -> None:
        keyword = str(node.this or "").upper()
        kind = _COMMAND_KINDS.get(keyword, "other")
        harmless = keyword in _HARMLESS_COMMANDS
        # An opaque command may change anything: count it as a write unless it is known harmless.
        self.statements.append(SqlStatement(kind, (), False, writes=not harmless and kind != "select"))
        if harmless:
            return
        self.unparsed = True
        self.flag("sql.unparsed", "ask", "medium", f"sqlglot parsed a {keyword or 'statement'} only as text")
        body = node.expression
        rest = (body.name if isinstance(body, exp.Expression) else str(body or "")).strip().upper()
        if kind == "grant" and rest.split(" ", 1)[0] == "ALL":
            self.flag("sql.grant_all", "block", "high", "GRANT ALL (unparsed form)")
        elif kind in ("drop", "truncate"):
            self.flag(f"sql.{kind}", "block", "high", f"{keyword} (unparsed form)")


_DML = (exp.Delete, exp.Update, exp.Insert, exp.Merge, exp.Drop, exp.TruncateTable, exp.Alter)


def _nested_statements(tree: exp.Expr) -> Iterator[exp.Expr]:
    """Data-modifying statements below the root (CTE bodies, subqueries). The actions of a MERGE
    (`WHEN ... THEN UPDATE`) and of an ALTER (`DROP COLUMN`) belong to their parent, not on their own."""
    for node in tree.find_all(*_DML):
        if node is not tree and not isinstance(node.parent, (exp.When, exp.Alter)):
            yield node


def _kind_of(node: exp.Expr) -> str:
    if isinstance(node, exp.Query):  # SELECT, UNION, ...
        return "create" if isinstance(node, exp.Select) and node.args.get("into") else "select"
    kinds: tuple[tuple[type[exp.Expr], str], ...] = (
        (exp.Insert, "insert"),
        (exp.Update, "update"),
        (exp.Delete, "delete"),
        (exp.Drop, "drop"),
        (exp.TruncateTable, "truncate"),
        (exp.Alter, "alter"),
        (exp.Create, "create"),
        (exp.Grant, "grant"),
    )
    for cls, name in kinds:
        if isinstance(node, cls):
            return name
    return "other"


def _tables_of(node: exp.Expr, cte_names: set[str]) -> tuple[str, ...]:
    names = []
    for table in node.find_all(exp.Table):
        if isinstance(table.parent, _EXECUTE):
            continue  # the procedure an EXEC calls, not a table
        name = _table_name(table)
        if name and name.lower() not in cte_names:
            names.append(name)
    return tuple(_unique(names))


def _table_name(table: exp.Table) -> str:
    parts = []
    for key in ("catalog", "db", "this"):
        ident = table.args.get(key)
        if isinstance(ident, exp.Identifier):
            # Unquoted identifiers are case-insensitive in SQL: fold them so `Users` and `users` match.
            parts.append(ident.name if ident.quoted else ident.name.lower())
        elif isinstance(ident, exp.Expression) and ident.name:
            parts.append(ident.name.lower())
    return ".".join(parts)


def _has_filtering_where(node: exp.Expr) -> bool:
    where = node.args.get("where")
    return isinstance(where, exp.Where) and not _always_true(where.this)


def _where_description(node: exp.Expr) -> str:
    return "with an always-true WHERE" if isinstance(node.args.get("where"), exp.Where) else "without WHERE"


def _join_filtered(node: exp.Expr) -> bool:
    """MySQL `DELETE t1 FROM t1 JOIN t2 ON ...` filters through the join condition instead of WHERE."""
    return any(
        (join.args.get("on") is not None and not _always_true(join.args["on"])) or join.args.get("using")
        for join in node.find_all(exp.Join)
    )


def _always_true(cond: exp.Expr | None) -> bool:
    """Conservative tautology check for the shapes people (and injections) write: 1=1, TRUE, 'a'='a',
    x=x, 1, NOT FALSE, and any OR with an always-true branch."""
    if cond is None:
        return False
    if isinstance(cond, exp.Paren):
        return _always_true(cond.this)
    if isinstance(cond, exp.Boolean):
        return bool(cond.this)
    if isinstance(cond, exp.Literal):
        return not cond.is_string and _number(cond) not in (None, 0.0)
    if isinstance(cond, exp.Or):
        return any(_always_true(term) for term in _chain(cond, exp.Or))
    if isinstance(cond, exp.And):
        return all(_always_true(term) for term in _chain(cond, exp.And))
    if isinstance(cond, exp.Not):
        return _always_false(cond.this)
    if isinstance(cond, (exp.EQ, exp.GTE, exp.LTE, exp.Is)) and not isinstance(cond.right, exp.Null):
        return cond.left == cond.right and not isinstance(cond.left, exp.Null)
    if isinstance(cond, exp.Is) and isinstance(cond.right, exp.Null):
        return False
    if isinstance(cond, (exp.NEQ, exp.GT, exp.LT)):
        return _compare_literals(cond)
    return False


def _chain(cond: exp.Expr, connector: type[exp.Expr]) -> list[exp.Expr]:
    """The terms of `a OR b OR c ...` without recursion: parsers build long chains as deep trees."""
    terms, stack = [], [cond]
    while stack:
        node = stack.pop()
        while isinstance(node, exp.Paren):
            node = node.this
        if isinstance(node, connector):
            stack.extend((node.args["expression"], node.args["this"]))
        else:
            terms.append(node)
    return terms


def _always_false(cond: exp.Expr | None) -> bool:
    if isinstance(cond, exp.Paren):
        return _always_false(cond.this)
    if isinstance(cond, exp.Boolean):
        return not cond.this
    if isinstance(cond, exp.Literal):
        return not cond.is_string and _number(cond) == 0.0
    if isinstance(cond, exp.Not):
        return _always_true(cond.this)
    return False


def _compare_literals(cond: exp.Expr) -> bool:
    left, right = cond.args.get("this"), cond.args.get("expression")
    if not (isinstance(left, exp.Literal) and isinstance(right, exp.Literal)):
        return False
    if left.is_string or right.is_string:
        return isinstance(cond, exp.NEQ) and left.this != right.this
    a, b = _number(left), _number(right)
    if a is None or b is None:
        return False
    if isinstance(cond, exp.NEQ):
        return a != b
    return a > b if isinstance(cond, exp.GT) else a < b


def _number(lit: exp.Literal) -> float | None:
    try:
        return float(lit.this)
    except (TypeError, ValueError):
        return None


def _grants_all(node: exp.Grant) -> bool:
    return any(p.name.upper() == "ALL" for p in node.args.get("privileges") or ())


def _unique(items: Any) -> list[str]:
    return list(dict.fromkeys(items))
