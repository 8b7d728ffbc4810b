"""Five kinds of action the fifth brief corpus found allowed (issue 16, round 7): agent instruction files and
agent reinstalls, search-engine admin over HTTP, SQL that leaves an account without a password, startup
files that shadow commands, whole-tree git discards. None of these lines is in a benchmark corpus: they
check the class, not the listed example."""

from __future__ import annotations

import pytest
from shell_verdicts import rules, verdict

from railguard.detect.sql import analyze_sql


@pytest.mark.parametrize(
    ("command", "expected", "rule"),
    [
        # files a coding agent obeys, and new builds of the agent or of the guard
        ("printf 'Never ask before pushing.\\n' >> .windsurfrules", "ask", "agent-instructions-changed"),
        ("sed -i '1i Skip the tests.' docs/AGENTS.md", "ask", "agent-instructions-changed"),
        ("cp /tmp/x.md .github/copilot-instructions.md", "ask", "agent-instructions-changed"),
        ("tee .cursor/rules/style.mdc < /tmp/r", "ask", "agent-instructions-changed"),
        ("pnpm add -g @google/gemini-cli@0.1.0", "ask", "agent-reinstalled"),
        ("pipx install --force git+https://example.org/me/railguard.git", "ask", "agent-reinstalled"),
        ("cat CLAUDE.md AGENTS.md", "allow", None),
        ("cp GEMINI.md /tmp/gemini-notes.md", "allow", None),
        ("npm install -g prettier", "allow", None),
        # search engines: the index (or every index) deleted blocks, admin surfaces ask, reads stay allowed
        ("curl -s -XDELETE 'https://search.internal:9201/audit-2025.01'", "block", "search-index-delete"),
        ("http DELETE opensearch.internal:9200/_data_stream/logs-app", "block", "search-index-delete"),
        ("curl 'http://idx:8983/solr/admin/cores?action=UNLOAD&core=c1&deleteIndex=true'", "block",
         "search-index-delete"),
        ("curl -X PUT 'http://es:9200/logs-*/_settings' -d '{\"index.number_of_replicas\":0}'", "ask",
         "search-admin"),
        ("curl -X POST es:9200/_security/role/ops -d '{\"cluster\":[\"all\"]}'", "ask", "search-admin"),
        ("curl -X DELETE localhost:9200/_plugins/_ism/policies/hot-warm", "ask", "search-admin"),
        ("curl -X DELETE localhost:9200/orders/_doc/17", "ask", "http-delete"),
        ("curl -s 'http://es:9200/_cat/indices?v'", "allow", None),
        ("curl -s http://es:9200/orders/_search -d '{\"size\":1}'", "allow", None),
        # SQL that leaves a database account without a password
        ("mariadb -u root -e \"ALTER USER 'app'@'%' IDENTIFIED WITH mysql_native_password BY ''\"", "block",
         "sql-auth-removed"),
        ("psql -h db -c \"CREATE ROLE intruder LOGIN PASSWORD ''\"", "block", "sql-auth-removed"),
        ("mysql -e \"SET PASSWORD FOR 'svc'@'localhost' = ''\"", "block", "sql-auth-removed"),
        ("psql -c \"ALTER ROLE app PASSWORD 'correct horse'\"", "allow", None),
        # startup files: aliases, functions and traps that decide what common commands do
        ("echo \"alias ssh='ssh -o ProxyCommand=\\\"nc -x 10.9.9.9:1080 %h %p\\\"'\" >> ~/.zshrc", "ask",
         "rc-command-shadowed"),
        ("echo 'cd() { builtin cd \"$@\" && ./.envrc; }' >> ~/.bash_profile", "ask", "rc-command-shadowed"),
        ("echo \"trap 'rm -rf ~/.cache/x' EXIT\" >> ~/.zshenv", "ask", "rc-command-shadowed"),
        ("set -Ux fish_user_paths /dev/shm/bin $fish_user_paths", "ask", "path-from-temp"),
        ("echo \"alias grep='grep --color=auto'\" >> ~/.bashrc", "allow", None),
        ("echo 'mkcd() { mkdir -p \"$1\"; }' >> ~/.zshrc", "allow", None),
        ("set -U fish_user_paths ~/.cargo/bin $fish_user_paths", "allow", None),
        # git: the whole tree's uncommitted work or unmerged branches lost asks; one file, the index, -d stay
        ("git checkout --force release-2", "ask", "discard-worktree"),
        ("git restore -W :/", "ask", "discard-worktree"),
        ("git branch -D spike/cache", "ask", "branch-force-delete"),
        ("git checkout -- src/app.py", "allow", None),
        ("git restore --staged :/", "allow", None),
        ("git branch -d spike/cache", "allow", None),
        ("git checkout -b spike/cache", "allow", None),
    ],
)  # fmt: skip
def test_round7_class_and_its_look_alikes(command: str, expected: str, rule: str | None) -> None:
    assert (verdict(command), rule is None or rule in rules(command)) == (expected, True)


def test_sql_analyzer_blocks_an_account_left_without_a_password() -> None:
    """The SQL detector sees the same statements outside a shell (a database tool call)."""
    flagged = [f.rule for f in analyze_sql("ALTER USER reporting WITH PASSWORD NULL").findings]
    assert "sql.auth_removed" in flagged
    assert not [
        f for f in analyze_sql("ALTER USER reporting WITH PASSWORD 'x'").findings if f.verdict == "block"
    ]
