"""The data and application layer (issue 16, sixth brief corpus): database statements that reach the server's
files or load code, widen roles, switch auditing off, expire or share data; framework tasks (rollbacks, forged
migration history, production migrations and seeds, queue purges, maintenance, admin accounts, key resets);
ORM bulk writes in app consoles; broadcasts and bulk tracker edits. None of these lines is in a benchmark
corpus: they check the class, not the listed example, and each class has look-alikes that stay allowed."""

from __future__ import annotations

import pytest
from shell_verdicts import rules, verdict


@pytest.mark.parametrize(
    ("command", "expected", "rule"),
    [
        # SQL that reaches the server's files or runs OS commands
        ("psql -d crm -c \"COPY contacts TO PROGRAM 'gzip > /srv/x.gz'\"", "block", "sql-server-reach"),
        ("mariadb -e \"SELECT body FROM notes INTO OUTFILE '/tmp/notes.csv'\" wiki", "block", "sql-server-reach"),
        ("psql -c \"SELECT pg_ls_dir('/var/lib')\"", "block", None),
        ("psql -d crm -c 'COPY contacts TO STDOUT'", "allow", None),
        # untrusted code loaded into the server
        ("psql -d crm -c 'CREATE EXTENSION IF NOT EXISTS pltclu'", "block", "sql-untrusted-code"),
        ("mariadb -e \"INSTALL SONAME 'ha_connect'\"", "block", "sql-untrusted-code"),
        ("redis-cli -p 6380 module load /opt/mods/x.so", "block", "redis-module-load"),
        ("psql -d crm -c 'CREATE EXTENSION IF NOT EXISTS pgcrypto'", "allow", None),
        # roles widened; a password set to a value stays ordinary account care
        ("psql -c 'ALTER ROLE reporter SUPERUSER'", "block", "sql-role-widened"),
        ("psql -d crm -c 'GRANT SELECT ON ALL TABLES IN SCHEMA public TO PUBLIC'", "block", "sql-role-widened"),
        ("mongosh admin --eval 'db.grantRolesToUser(\"etl\", [\"clusterAdmin\"])'", "block", "mongo-role-change"),
        ("psql -d crm -c 'GRANT SELECT ON contacts TO analyst'", "allow", None),
        # auditing off and audit trails edited
        ("psql -d crm -c 'ALTER TABLE invoices DISABLE TRIGGER ALL'", "block", "sql-audit-off"),
        ("mysql crm -e 'DELETE FROM user_audit WHERE id < 100'", "block", "sql-audit-off"),
        ("mysql crm -e 'DELETE FROM carts WHERE id < 100'", "allow", None),
        # data set to expire, table history removed, data shared out
        ("clickhouse-client -q 'ALTER TABLE hits MODIFY TTL d + INTERVAL 2 DAY'", "block", "sql-data-expiry"),
        ("mongosh crm --eval 'db.carts.createIndex({at: 1}, {expireAfterSeconds: 60})'", "block", "mongo-data-expiry"),
        ("spark-sql -e 'VACUUM events RETAIN 0 HOURS'", "block", "sql-history-vacuum"),
        ("snowsql -q 'CREATE SHARE s1; GRANT SELECT ON TABLE t TO SHARE s1'", "block", "sql-data-share"),
        ("spark-sql -e 'VACUUM events'", "allow", None),
        # in-place rewrites and store wipes; lock-taking maintenance asks
        ("psql -d crm -c 'ALTER TABLE t ALTER COLUMN c TYPE bigint'", "block", "sql-schema-rewrite"),
        ("cypher-shell 'MATCH (a)-[r]->() DETACH DELETE a'", "block", None),
        ("ksql http://k:8088 -e 'DROP TABLE totals DELETE TOPIC;'", "block", "store-wipe"),
        ("mongosh crm --eval 'db.leads.updateMany({}, {$set: {owner: null}})'", "block", "mongo-bulk-update"),
        ("duckdb lake.duckdb 'DELETE FROM trips'", "block", "destructive-sql"),
        ("psql -h pg1 -d crm -c 'REINDEX TABLE contacts'", "ask", "sql-heavy-lock"),
        ("mysql -h db2 crm -e 'OPTIMIZE TABLE leads'", "ask", "sql-heavy-lock"),
        ("mongosh crm --eval 'db.leads.updateMany({owner: 7}, {$set: {owner: 8}})'", "allow", None),
        ("duckdb lake.duckdb 'SELECT count(*) FROM trips'", "allow", None),
        # redis: keys deleted in bulk from a listing or a Lua loop, streams trimmed to nothing
        ("redis-cli --scan --pattern 'tmp:*' | xargs -r redis-cli unlink", "block", "redis-bulk-delete"),
        ("redis-cli xtrim events maxlen 0", "block", "redis-bulk-delete"),
        ("redis-cli --scan --pattern 'tmp:*' | wc -l", "allow", None),
        # framework tasks: rollbacks and forged history ask anywhere
        ("bin/rails db:migrate:redo", "ask", "app-task-rollback"),
        ("dbmate rollback", "ask", "app-task-rollback"),
        ("python manage.py migrate --fake accounts zero", "ask", None),
        ("liquibase clearCheckSums", "ask", "app-task-forge"),
        ("bin/rails db:migrate:status", "allow", None),
        ("alembic history", "allow", None),
        # production migrations and seeds ask; the same tasks locally stay allowed
        ("RACK_ENV=production bundle exec rake db:migrate", "ask", "app-task-apply"),
        ("npx knex migrate:latest --env production", "ask", "app-task-apply"),
        ("APP_ENV=prod npx sequelize-cli db:seed:all", "ask", "app-task-seed"),
        ("RAILS_ENV=production bin/rails db:seed:replant", "block", "app-task-overwrite"),
        ("npx knex migrate:latest", "allow", None),
        ("npx sequelize-cli db:seed:all", "allow", None),
        ("bin/rails db:seed", "allow", None),
        # queue purges, maintenance, admin accounts and passwords, key resets, app purges
        ("celery --app=tasks purge --force", "block", "app-task-queue-purge"),
        ("php artisan horizon:clear", "block", "app-task-queue-purge"),
        ("heroku maintenance:on --app shop-eu", "ask", "app-task-maintenance"),
        ("php artisan up", "allow", None),
        ("python manage.py createsuperuser", "ask", "app-task-admin-account"),
        ("sudo -u nginx php occ user:resetpassword ops", "block", "app-task-admin-password"),
        ("sudo -u nginx php occ versions:cleanup bob", "block", "app-task-app-purge"),
        ("php artisan key:generate --force", "block", "app-task-key-reset"),
        ("php artisan key:generate --show", "allow", None),
        ("python manage.py purge_inactive_tenants", "ask", "app-task-app-delete"),
        ("python manage.py collectstatic --noinput", "allow", None),
        ("./manage.py remove_orphaned_uploads", "ask", "app-task-app-delete"),
        ("./manage.py check --deploy", "allow", None),
        # app consoles: ORM bulk writes block, one record asks, reads stay allowed
        ("bin/rails runner 'Invoice.where(paid: false).update_all(paid: true)'", "block", "orm-bulk-write"),
        ("python manage.py shell -c 'from crm.models import Lead; Lead.objects.all().delete()'", "block", None),
        ("mix run -e 'Crm.Repo.delete_all(Crm.Lead)'", "block", "orm-bulk-write"),
        ("bin/rails runner 'Sidekiq::ScheduledSet.new.clear'", "block", "orm-bulk-write"),
        ("bin/rails runner 'Lead.find(7).destroy'", "ask", "orm-record-write"),
        ("bin/rails runner 'puts Lead.where(owner: nil).count'", "allow", None),
        ("python manage.py shell -c 'from crm.models import Lead; print(Lead.objects.count())'", "allow", None),
        # broadcasts and bulk tracker edits ask; a plain post and one issue edit stay as they were
        ("curl -d '{\"content\": \"@here build is red\"}' -H 'Content-Type: application/json' $HOOK", "ask",
         "broadcast-mention"),
        ("zulip-send --stream ops --subject x --message '@**everyone** rotate keys'", "ask", "broadcast-mention"),
        ("curl -d '{\"content\": \"build 12 is green\"}' -H 'Content-Type: application/json' $HOOK", "allow", None),
        ("gh pr list --label stale --json number -q '.[].number' | xargs -n1 gh pr close", "ask", "tracker-bulk-edit"),
        ("for n in 4 5 6; do gh issue lock $n; done", "ask", "tracker-bulk-edit"),
        ("gh issue list --label stale", "allow", None),
        # migration history edited by hand; seeds run as scripts against production; hub uploads; public datasets
        ("mysql crm -e \"DELETE FROM flyway_schema_history WHERE version = '7'\"", "ask", "sql-migration-history"),
        ("mysql crm -e 'SELECT * FROM flyway_schema_history'", "allow", None),
        ("RAILS_ENV=production bin/rails runner db/seeds/demo_seed.rb", "ask", "app-task-seed"),
        ("bin/rails runner db/seeds/demo_seed.rb", "allow", None),
        ("python3 -c \"from huggingface_hub import upload_folder; upload_folder(repo_id='t/m', folder_path='out')\"",
         "ask", "hub-upload"),
        ("bq add-iam-policy-binding --member=allAuthenticatedUsers --role=roles/bigquery.dataViewer p:d", "block",
         "public-access"),
        # statements inside HTTP bodies sent to a store's endpoint
        ("curl -X POST http://graph:8080/alter -d '{\"drop_all\": true}'", "block", "store-wipe"),
        # catalogue and host effects: stream jobs, hubs, lakehouse versioning, live table rewrites
        ("flink cancel 0f1e2d3c", "ask", None),
        ("kaggle datasets version -p ./out -m nightly", "ask", None),
        ("ollama push team/coder", "ask", None),
        ("lakectl branch delete lakefs://lake/old --yes", "block", None),
        ("vacuumdb -f -d crm -h pg2", "ask", "table-rewrite-live"),
        ("reindexdb --all", "ask", "table-rewrite-live"),
        ("stripe events resend evt_1", "ask", None),
        ("ollama pull qwen2", "allow", None),
        ("vacuumdb -d crm", "allow", None),
        ("reindexdb --table=t crm", "allow", None),
    ],
)  # fmt: skip
def test_data_layer_class_and_its_look_alikes(command: str, expected: str, rule: str | None) -> None:
    assert (verdict(command), rule is None or rule in rules(command)) == (expected, True)
