"""Kinds of action the fourth brief corpus found allowed (issue 16, round 5), judged by the code rules rather
than by table entries (those are tested by their own `examples`). None of these lines is in
`benchmarks/data/shell_brief4.yaml`: they check the class, not the listed example."""

from __future__ import annotations

import pytest
from shell_verdicts import rules, verdict


@pytest.mark.parametrize(
    ("command", "expected", "rule"),
    [
        # a service's API changed with curl/httpie: credentials, or a verb in the URL path
        # (brief12: an owner role granted through any API now blocks)
        ('curl -X POST -H "Authorization: Bearer $TOKEN" https://api.vendor.io/v2/users/42/roles -d role=owner',
         "block", "admin-grant-api"),
        ("curl -u admin:$PW -X PUT https://bmc-7.mgmt/redfish/v1/Managers/1", "ask", "api-change"),
        ("curl -X POST https://search.internal:9200/orders/_doc/_bulk_remove", "ask", "api-change"),
        ("http POST https://api.vendor.io/v1/keys/k1/revoke Authorization:'Bearer x'", "ask", "api-change"),
        # a destroy verb is not outvoted by a resource named like a read verb
        ("influx delete --bucket logs --predicate '_measurement=\"cpu\"'", "block", "vendor-destroy"),
        # a resource noun then a high-impact change of an uncatalogued remote CLI
        ("zitadel-cli user deactivate 1234", "ask", "unknown-cli-destroy"),
        ("pgbouncer-ctl pool failover main", "ask", "unknown-cli-destroy"),
        # sudo VAR=value CMD runs CMD
        ("sudo LANG=C rm -rf /var/lib/postgresql", "block", None),
        # replica sets, server settings, scripts run against another host
        ("mongosh --host rs0/db1 --eval 'rs.reconfig(cfg, {force: true})'", "ask", "mongo-admin"),
        ('mariadb -h db-2 -e "CHANGE MASTER TO MASTER_HOST=\'10.0.0.9\'"', "ask", "sql-server-setting"),
        ("zcat nightly.sql.gz | mysql --host=orders-db.prod shop", "ask", "sql-script-remote"),
        ("psql postgresql://app@db.prod.internal/app -f seed.sql", "ask", "sql-script-remote"),
        # whole-schema rollbacks and drops of migration tools
        ("npx knex migrate:rollback --all", "ask", "framework-db-wipe"),
        ("python manage.py migrate billing zero", "ask", "framework-db-wipe"),
        ("npx typeorm schema:drop -d ./data-source.ts", "block", "framework-db-wipe"),
        # code preloaded into every later interpreter
        ("echo 'export JAVA_TOOL_OPTIONS=-javaagent:/var/tmp/a.jar' >> ~/.profile", "ask", "preload-code"),
        ("cp hook.py /usr/lib/python3/dist-packages/sitecustomize.py", "block", "write-autostart"),
        ("printf 'import x\\n' > ~/.local/lib/python3.12/site-packages/aaa.pth", "block", "write-autostart"),
        # rsync into a system tree, like cp
        ("sudo rsync -a ./etc-backup/ /etc/", "ask", None),
        # a sync told to delete at the destination, or a protection switched off
        ("aws s3 sync ./site s3://www-bucket --delete", "block", "vendor-mutate-unbounded"),
        ("aws rds modify-db-cluster --db-cluster-identifier c1 --no-deletion-protection", "block", None),
    ],
)  # fmt: skip
def test_round5_class(command: str, expected: str, rule: str | None) -> None:
    assert verdict(command) == expected
    if rule is not None:
        assert rule in rules(command)


@pytest.mark.parametrize(
    "command",
    [
        "curl -X POST -d 'q=shoes' https://shop.example.com/search",
        "curl -X POST http://localhost:8000/api/users/7/delete",
        "curl -H 'Authorization: Bearer x' https://api.vendor.io/v2/users",
        "mysql -h 127.0.0.1 -u root dev < fixtures.sql",
        "psql -h localhost -d dev -f schema.sql",
        "mongosh --eval 'rs.status()'",
        "NODE_OPTIONS=--require ./tracing.js node server.js",
        "LD_PRELOAD=./build/libfake.so ./app",
        "echo '{}' > .vscode/tasks.json",
        "rsync -av src/ build/",
        "flyway clean",
        "python setup.py clean",
        "docker swarm init",
        "podman pod rm web",
        "git config --global core.pager less",
        "git config --global alias.co checkout",
        "aws s3 sync s3://bucket/data ./data",
    ],
)
def test_round5_look_alikes_stay_allowed(command: str) -> None:
    assert verdict(command) == "allow"
