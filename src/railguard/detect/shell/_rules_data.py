"""data and application layer: what database consoles, app-framework tasks and app consoles do to live data.

Three kinds of evidence, each judged by class rather than by tool:
  * statements sent through a database client (SQL, Cypher, Mongo shell code, redis commands) whose
    effect is not a plain DROP/DELETE (`_rules_db` judges those): server files and OS commands reached from
    SQL, untrusted code loaded into the server, roles widened, audit trails switched off, data set to
    expire, table history vacuumed, data shared out, lock-taking maintenance;
  * framework and app-admin tasks (`rails db:rollback`, `manage.py migrate --fake`, `artisan down`,
    `celery purge`, `occ trashbin:cleanup`): a table of task kinds, some judged only against production;
  * code handed to an app console (`rails runner`, `manage.py shell -c`, `tinker --execute`, `mix run -e`):
    ORM calls that delete or rewrite every row of a model.
Patterns run on re2 (linear time): the texts are attacker-controlled.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from railguard.detect._re2_search import LazyRe2
from railguard.detect.shell._catalogue import tokens
from railguard.detect.shell._model import ShellFinding
from railguard.detect.shell._rules_api import _DATA_FLAGS
from railguard.detect.shell._rules_db import _SQL_CLIENTS, _sql_texts, sql_is_destructive
from railguard.detect.shell._view import CommandView, Ctx, finding

_CAT = "database"
_APP = "app_admin"

# -- statements sent through database clients ----------------------------------------------------------
# (rule, verdict, why, pattern). The first matching entry decides per text; severe entries first.
_STATEMENT_EFFECTS: tuple[tuple[str, str, str, LazyRe2], ...] = tuple(
    (rule, verdict, why, LazyRe2("(?i)" + pattern))
    for rule, verdict, why, pattern in (
        ("sql-server-reach", "block", "runs an OS command or reads/writes files on the database server",
         r"\bto\s+program\b|\bfrom\s+program\b|\bxp_cmdshell\b|\binto\s+(?:out|dump)file\b|\bload_file\s*\(|"
         r"\bload\s+data\s+(?:local\s+)?infile\b|\bpg_read(?:_binary)?_file\s*\(|\bpg_ls_dir\s*\(|"
         r"\blo_(?:import|export)\s*\(|\bcopy\s+[\w.\"]+(?:\s*\([^)]*\))?\s+(?:from|to)\s+'/"),
        ("sql-untrusted-code", "block", "loads native or untrusted code into the database server",
         r"\bcreate\s+(?:or\s+replace\s+)?(?:trusted\s+)?(?:procedural\s+)?language\b|"
         r"\bcreate\s+extension\s+(?:if\s+not\s+exists\s+)?\"?pl\w+u\b|\bsoname\b|\binstall\s+(?:plugin|component)\b|"
         r"\blanguage\s+'?c'?\s+(?:strict|immutable|volatile|stable|;|$)|\bshared_preload_libraries\b|"
         r"\bupdate\s+pg_language\b|\bmodule\s+load\b|^\s*\.load\s"),
        # (a password set to a value is ordinary account care: only an empty one blocks, in `_rules_db`)
        ("sql-role-widened", "block", "makes a role superuser, grants to everyone or revokes every privilege",
         r"\balter\s+(?:role|user)\s+[^;]*\bsuperuser\b|"
         r"\bgrant\s+[^;]*\bto\s+(?:public|'[^']*'@'%')|\bcreate\s+user\s+'[^']*'@'%'|\bsuperuser\s*=\s*true\b|"
         r"\brevoke\s+all\b"),
        # before the audit trails: a migration table's name may end in `history`
        ("sql-migration-history", "ask", "edits the migration history table (the schema and its record disagree)",
         r"\b(?:delete\s+from|update|insert\s+into|truncate(?:\s+table)?)\s+[\w.\"`]*(?:schema_migrations|"
         r"alembic_version|flyway_schema_history|django_migrations|databasechangelog|knex_migrations|sequelizemeta|"
         r"__efmigrationshistory|_prisma_migrations|schema_version)\b"),
        ("sql-audit-off", "block", "switches off triggers or auditing, or edits an audit trail",
         r"\bdisable\s+trigger\b|\bsession_replication_role\b|\bpgaudit\.log\b|\baudit_log_\w+\s*=|"
         r"\bgeneral_log\s*=\s*'?off|"
         r"\b(?:delete\s+from|truncate(?:\s+table)?|update)\s+[\w.\"`]*(?:audit|activity_log|event_log|ledger|"
         r"versions\b|change_log|history\b)"),
        ("sql-data-expiry", "block", "sets a time-to-live or retention that expires existing data",
         r"\bmodify\s+ttl\b|\bdefault_time_to_live\b|\busing\s+ttl\b|\badd_retention_policy\s*\(|"
         r"\bdata_retention_time_in_days\s*=\s*0\b"),
        ("sql-history-vacuum", "block", "removes a table's time-travel history",
         r"\bvacuum\b[^;]*\bretain\s+0\b|\bexpire_snapshots\s*\(|\bremove_orphan_files\s*\(|"
         r"\bretentionDurationCheck\.enabled\s*=\s*false\b"),
        ("sql-data-share", "block", "shares data with other accounts or the public",
         r"\bcreate\s+(?:data)?share\b|\balter\s+share\s+\S+\s+add\s+accounts\b|\bpublicaccessible\s+true\b|"
         r"\bto\s+(?:share|account)\s+\S"),
        ("sql-schema-rewrite", "block", "changes a column's type or drops a primary key in place",
         r"\balter\s+table\b[^;]*\b(?:alter\s+column\s+\S+\s+(?:set\s+data\s+)?type\b|drop\s+primary\s+key\b)|"
         r"\breplace\s+into\s+\S+\s+select\b"),
        ("store-wipe", "block", "deletes every node, a graph database, a space or a stream with its topic",
         r"\bdetach\s+delete\b|\bdelete\s+topic\b|\"drop_all\"\s*:\s*true\b|\bdrop\s+(?:space|graph|stream|connector)\b|\.drop\(\)|_dropDatabase\s*\(|"
         r"\bremove\s+(?:database|namespace)\b"),
        ("sql-heavy-lock", "ask", "rewrites or locks whole tables on a live database",
         r"\breindex\s+(?:database|system|schema|table)\b|^\s*cluster\b|;\s*cluster\b|\boptimize\s+table\b|"
         r"\block\s+table\b|\bvacuum\s+full\b|\balter\s+table\s+\S+\s+rename\s+to\b"),
    )
)  # fmt: skip
# Every effect above needs one of these words: most statements (reads) are settled by this one search.
_STATEMENT_WORDS = LazyRe2(
    r"(?i)program|xp_cmdshell|file|_dir|lo_|copy|language|extension|soname|install|preload|module|\.load|"
    r"superuser|grant|create\s+user|revoke|trigger|replication_role|audit|general_log|delete|truncate|update|"
    r"insert|ttl|retention|vacuum|snapshots|orphan|share|account|alter|replace|drop|remove|reindex|cluster|"
    r"optimize|lock"
)
_GRAPH_CLIENTS = {"cypher-shell": (), "mgconsole": (), "nebula-console": ("-e",), "gremlin.sh": ("-e",),
                  "gremlin": ("-e",), "arangosh": ("--javascript.execute-string",), "ksql": ("-e", "--execute")}  # fmt: skip
STATEMENT_CLIENTS = (*_SQL_CLIENTS, *_GRAPH_CLIENTS)


def _statement_texts(view: CommandView) -> list[str]:
    if view.name in _GRAPH_CLIENTS:
        flags = _GRAPH_CLIENTS[view.name]
        texts = view.values(*flags) if flags else [w.text for w in view.operands]
        return [*texts, *([view.exec.stdin_text] if view.exec.stdin_text else [])]
    texts = _sql_texts(view)
    if view.name == "duckdb" and len(view.operands) > 1:  # `duckdb FILE "SQL"`, like sqlite3
        texts += [w.text for w in view.operands[1:]]
    return texts


def check_statements(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    if view.name == "duckdb" and any(sql_is_destructive(w.text, "duckdb") for w in view.operands[1:]):
        yield finding(_CAT, "destructive-sql", "block", "critical", "duckdb runs destructive SQL")
    for text in _statement_texts(view):
        if not _STATEMENT_WORDS.search(text):
            continue
        for rule, verdict, why, pattern in _STATEMENT_EFFECTS:
            if pattern.search(text):
                yield finding(_CAT, rule, verdict, "critical" if verdict == "block" else "high",
                              f"{view.name} {why}")  # fmt: skip
                break


# Mongo shell code: every document rewritten, data set to expire, collections compacted.
_MONGO_EFFECTS = (
    ("mongo-bulk-update", "block", "rewrites every document of a collection",
     LazyRe2(r"\b(?:updateMany|update|replaceMany)\s*\(\s*\{\s*\}")),
    ("mongo-role-change", "block", "drops a user or grants a superuser role",
     LazyRe2(r"\b(?:dropUser|dropAllUsersFromDatabase)\s*\(|\bgrantRolesToUser\s*\([^)]*\b(?:root|__system|"
                 r"dbOwner|userAdminAnyDatabase|clusterAdmin|dbAdminAnyDatabase)\b")),
    ("mongo-data-expiry", "block", "sets documents to expire (a TTL index)", LazyRe2(r"\bexpireAfterSeconds\b")),
    ("mongo-heavy-lock", "ask", "compacts or rebuilds a collection on a live server",
     LazyRe2(r"\b(?:compact|reIndex)\b")),
)  # fmt: skip
# redis: keys deleted or expired in bulk (a scan fed to xargs, a Lua loop), streams trimmed to nothing.
_REDIS_KEY_WRITES = frozenset({"del", "unlink", "expire", "pexpire", "expireat", "getdel"})
_REDIS_LUA_DELETE = LazyRe2(r"(?i)redis\.call\s*\(\s*['\"](?:del|unlink|expire)['\"]")
_REDIS_TRIM_ALL = LazyRe2(r"(?i)\b(?:xtrim|ltrim)\b.*\b(?:maxlen\s+[~=]?\s*0|0\s+-?0)\b")


def check_stores(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    if view.name in ("mongo", "mongosh"):
        code = " ".join(view.values("--eval")) + (view.exec.stdin_text or "")
        for rule, verdict, why, pattern in _MONGO_EFFECTS:
            if pattern.search(code):
                yield finding(
                    _CAT, rule, verdict, "critical" if verdict == "block" else "high", f"{view.name} {why}"
                )
                return
    elif view.name == "redis-cli":
        said = " ".join(w.text for w in view.operands)
        words = said.lower().split()
        if "module" in words and "load" in words:
            yield finding(
                _CAT, "redis-module-load", "block", "critical", "redis-cli loads native code into the server"
            )
        elif view.exec.dynamic_operands and _REDIS_KEY_WRITES & set(words):
            yield finding(_CAT, "redis-bulk-delete", "block", "critical",
                          "redis-cli deletes or expires every key a listing feeds it")  # fmt: skip
        elif _REDIS_LUA_DELETE.search(said) or _REDIS_TRIM_ALL.search(said):
            yield finding(_CAT, "redis-bulk-delete", "block", "critical",
                          "redis-cli deletes keys in a loop or trims a stream to nothing")  # fmt: skip


# -- framework and app-admin tasks ---------------------------------------------------------------------
# Task kinds -> (verdict anywhere, verdict against production, why). None: allowed outside production.
_KINDS = {
    "rollback": ("ask", "ask", "rolls migrations back (the columns and tables they added are dropped)"),
    "forge": ("ask", "ask", "marks migrations applied or repairs their history without running them"),
    "apply": (None, "ask", "applies schema migrations to a production database"),
    "seed": (None, "ask", "loads seed data into a production database"),
    "overwrite": ("ask", "block", "loads a schema or fixtures over the database (existing rows are replaced)"),
    "queue-purge": ("block", "block", "empties a job queue (queued, retried or failed jobs are lost)"),
    "maintenance": ("ask", "ask", "puts the application into maintenance mode (users are locked out)"),
    "admin-account": ("ask", "ask", "creates an application administrator"),
    "admin-password": ("block", "block", "resets an administrator's password"),
    "app-purge": ("block", "block", "purges users, trash, file versions or content of a self-hosted app"),
    "key-reset": ("block", "block", "regenerates or removes the application's encryption keys"),
    "app-delete": ("ask", "ask", "is an app command that deletes data"),
    "app-send": ("ask", "ask", "is an app command that sends messages"),
}  # fmt: skip
# Tool -> {task word (or two words joined by a space): kind}. The tool is the program, or the script an
# interpreter runs (`php artisan`, `python manage.py`, `php occ`); `*` applies to every migration tool.
_TASKS: dict[str, dict[str, str]] = {
    "rails": {"db:rollback": "rollback", "db:migrate:down": "rollback", "db:migrate:redo": "rollback",
              "db:migrate": "apply", "db:seed": "seed", "db:seed:replant": "overwrite", "db:schema:load": "overwrite",
              "db:structure:load": "overwrite", "db:fixtures:load": "overwrite"},
    "manage.py": {"migrate --fake": "forge", "migrate --fake-initial": "forge", "migrate": "apply",
                  "loaddata": "overwrite", "createsuperuser": "admin-account", "changepassword": "admin-password",
                  "users create --admin": "admin-account"},
    "artisan": {"migrate:rollback": "rollback", "migrate": "apply", "db:seed": "seed", "queue:clear": "queue-purge",
                "queue:flush": "queue-purge", "horizon:clear": "queue-purge", "down": "maintenance",
                "key:generate --force": "key-reset", "passport:keys --force": "key-reset"},
    "occ": {"maintenance:mode --on": "maintenance", "trashbin:cleanup": "app-purge", "versions:cleanup": "app-purge",
            "user:delete": "app-purge", "user:resetpassword": "admin-password", "encryption:disable": "key-reset",
            "encryption:decrypt-all": "key-reset", "user:add --group admin": "admin-account"},
    "alembic": {"downgrade": "rollback", "stamp": "forge", "upgrade": "apply"},
    "flyway": {"undo": "rollback", "repair": "forge", "baseline": "forge", "migrate": "apply"},
    "liquibase": {"rollback": "rollback", "rollback-count": "rollback", "changelog-sync": "forge",
                  "changelogSync": "forge", "clear-checksums": "forge", "clearCheckSums": "forge", "update": "apply"},
    "knex": {"migrate:rollback": "rollback", "migrate:down": "rollback", "migrate:latest": "apply",
             "seed:run": "seed"},
    "sequelize": {"db:migrate:undo": "rollback", "db:migrate": "apply", "db:seed:all": "seed", "db:seed": "seed"},
    "typeorm": {"migration:revert": "rollback", "migration:run": "apply"},
    "goose": {"down": "rollback", "down-to": "rollback", "reset": "rollback", "up": "apply"},
    "migrate": {"down": "rollback", "force": "forge", "up": "apply"},
    "dbmate": {"rollback": "rollback", "down": "rollback", "up": "apply", "migrate": "apply"},
    "diesel": {"migration revert": "rollback", "migration redo": "rollback", "migration run": "apply"},
    "prisma": {"migrate resolve": "forge", "migrate deploy": "apply", "db seed": "seed", "db push": "apply"},
    "atlas": {"migrate set": "forge", "schema apply": "apply", "migrate apply": "apply"},
    "sqitch": {"revert": "rollback", "deploy": "apply"},
    "skeema": {"push": "apply"},
    "mix": {"ecto.rollback": "rollback", "ecto.migrate": "apply"},
    "celery": {"purge": "queue-purge"},
    "rq": {"empty": "queue-purge"},
    "magento": {"maintenance:enable": "maintenance"},
    "dokku": {"maintenance:enable": "maintenance"},
    "heroku": {"maintenance:on": "maintenance"},
    "grafana-cli": {"admin reset-admin-password": "admin-password"},
    "superset": {"fab create-admin": "admin-account", "re-encrypt-secrets": "key-reset"},
    "sentry": {"createuser --superuser": "admin-account"},
    "gitlab-rake": {"gitlab:password:reset": "admin-password", "gitlab:doctor:reset_encrypted_tokens": "key-reset"},
    "airflow": {"users create --role Admin": "admin-account", "rotate-fernet-key": "key-reset"},
}  # fmt: skip
_SEED_SCRIPT = LazyRe2(r"(?i)(?:^|/)[\w.-]*seed[\w.-]*\.(?:exs|rb)$")
# Online schema-change tools only ever run against a live server.
_ALWAYS_LIVE = {"pt-online-schema-change": "--execute", "gh-ost": "--execute"}
_SCRIPTS = frozenset({"artisan", "manage.py", "occ", "console", "bin/console"})
_INTERPRETERS = frozenset(
    {"php", "python", "python3", "ruby", "node", "bundle", "npx", "pnpm", "yarn", "bunx"}
)
_PROD = LazyRe2(r"(?i)(?:^|[^a-z])(?:prod|production|prd|live)(?:[^a-z]|$)")
_ENV_SELECTORS = frozenset({"RAILS_ENV", "RACK_ENV", "NODE_ENV", "MIX_ENV", "APP_ENV", "FLASK_ENV", "ENV",
                            "DJANGO_SETTINGS_MODULE", "DATABASE_URL", "DB_URL", "SPRING_PROFILES_ACTIVE",
                            "ASPNETCORE_ENVIRONMENT", "STAGE"})  # fmt: skip
# (scripts run directly, `./manage.py`, `./console`, are programs of their own name)
TASK_TOOLS = frozenset({*_TASKS, "rake", "python", "python3", "php", "sequelize-cli", "gitlab-rails",
                        "manage.py", "artisan", "console", "occ", *_ALWAYS_LIVE})  # fmt: skip


def _tool_and_words(view: CommandView) -> tuple[str, list[str]]:
    words = [w.text for w in view.args]
    name = {"rake": "rails", "sequelize-cli": "sequelize"}.get(view.name, view.name)
    if name in _INTERPRETERS and view.operands:
        script = view.operands[0].text.rsplit("/", 1)[-1]
        if script in _SCRIPTS or script == "manage.py":
            cut = words.index(view.operands[0].text)
            return ("artisan" if script == "artisan" else script), words[cut + 1 :]
    return name, words


def _task_kind(tool: str, words: list[str]) -> tuple[str, str] | None:
    table = _TASKS.get(tool)
    if not table:
        return _custom_task(tool, words)
    heads = {w.split("[", 1)[0] for w in words[:6]}  # `gitlab:password:reset[root]`: a rake task's arguments
    joined = ""
    best: tuple[int, str, str] | None = None
    for task, kind in table.items():
        head, _, rest = task.partition(" ")
        if head not in heads:
            continue
        joined = joined or " " + " ".join(words) + " "
        present = all(f" {x} " in joined or f" {x}=" in joined for x in rest.split())
        if present and (best is None or len(task) > best[0]):  # the most specific wins (`migrate --fake`)
            best = (len(task), task, kind)
    return (best[1], best[2]) if best else _custom_task(tool, words)


# An app's own management commands are opaque: one whose name says it deletes or sends asks.
_CUSTOM_TASK_VERBS = {"delete": "app-delete", "destroy": "app-delete", "purge": "app-delete", "wipe": "app-delete",
                      "drop": "app-delete", "remove": "app-delete", "truncate": "app-delete", "erase": "app-delete",
                      "send": "app-send", "broadcast": "app-send", "blast": "app-send", "notify": "app-send",
                      "maintenance": "maintenance"}  # fmt: skip
_CUSTOM_TASK_TOOLS = frozenset({"manage.py", "artisan", "console", "occ"})


def _custom_task(tool: str, words: list[str]) -> tuple[str, str] | None:
    if tool not in _CUSTOM_TASK_TOOLS or not words or words[0].startswith("-"):
        return None
    kinds = [_CUSTOM_TASK_VERBS[t] for t in tokens(words[0]) if t in _CUSTOM_TASK_VERBS]
    if kinds == ["maintenance"] and not {"on", "enable", "--on", "activate"} & set(words[1:]):
        return None
    return (words[0], kinds[0]) if kinds else None


def _targets_production(view: CommandView, tool: str) -> bool:
    if tool == "artisan" and view.has("--force"):
        return True  # artisan refuses to change a production database without --force
    return any(_PROD.search(w.text) for w in view.args)


def _task_findings(
    view: CommandView, production: bool, tool: str, words: list[str]
) -> Iterator[ShellFinding]:
    flag = _ALWAYS_LIVE.get(tool)
    if flag and view.has(flag):
        yield finding(_CAT, "schema-change-live", "ask", "high", f"{tool} alters a table on a live server")
        return
    if view.has("--accept-data-loss"):
        yield finding(
            _CAT, "app-task-data-loss", "block", "critical", f"{tool} drops what the schema no longer has"
        )
        return
    hit = _task_kind(tool, words)
    if hit is None and tool in ("mix", "rails") and words[:1] in (["run"], ["runner"], ["r"]):
        script = next((w for w in words[1:] if not w.startswith("-")), "")
        hit = (script, "seed") if _SEED_SCRIPT.search(script) else None
    if hit is None:
        return
    task, kind = hit
    anywhere, live, why = _KINDS[kind]
    verdict = live if production or _targets_production(view, tool) else anywhere
    if verdict:
        category = (
            _CAT if kind in ("rollback", "forge", "apply", "seed", "overwrite", "queue-purge") else _APP
        )
        yield finding(category, f"app-task-{kind}", verdict, "critical" if verdict == "block" else "high",
                      f"{tool} {task} {why}")  # fmt: skip


def check_app_tasks(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    tool, words = _tool_and_words(view)
    yield from _task_findings(view, False, tool, words)
    yield from _console_findings(view, tool, words)


def production_findings(
    assignments: Iterable[tuple[str, str]], views: list[CommandView]
) -> Iterator[ShellFinding]:
    """`RAILS_ENV=production bin/rails db:seed`: an environment selector set to production in the same
    command judges every framework task in it as run against production."""
    if not any(name in _ENV_SELECTORS and _PROD.search(value) for name, value in assignments):
        return
    for view in views:
        if view.name in TASK_TOOLS:
            yield from _task_findings(view, True, *_tool_and_words(view))


# -- code handed to an app console ---------------------------------------------------------------------
# Where each console takes its code: (program or script, subcommand) -> options holding code; stdin counts.
_CONSOLES = {
    ("rails", "runner"): (), ("rails", "r"): (), ("gitlab-rails", "runner"): (),
    ("manage.py", "shell"): ("-c", "--command"), ("artisan", "tinker"): ("--execute",),
    ("mix", "run"): ("-e", "--eval"), ("flask", "shell"): (), ("drush", "php-eval"): (),
    ("node", ""): ("-e", "--eval", "-p", "--print"), ("python", ""): ("-c",), ("python3", ""): ("-c",),
}  # fmt: skip
_ORM_BULK = LazyRe2(
    r"\.(?:delete_all|destroy_all|update_all|in_batches)\b|\bobjects\.(?:all\(\)\.)?(?:delete|update)\(|"
    r"::(?:query\(\)->(?:delete|update)|truncate)\(|\bRepo\.(?:delete_all|update_all)\(|"
    r"\.(?:deleteMany|updateMany)\(\s*(?:\{\s*\})?\s*\)|\.query\(\w+\)\.(?:delete|update)\(|"
    r"\b(?:Queue|RetrySet|DeadSet|ScheduledSet)\b[^;]*[.:]clear\b|\.obliterate\(|\bQueue\([^)]*\)[^;]*\.empty\(\)"
)
_ORM_ONE = LazyRe2(r"\.(?:update!?|update_attribute|update_column|destroy!?|delete)\b\s*\(?|\.save\(")


def _console_code(view: CommandView, tool: str, words: list[str]) -> list[str]:
    operands = [w.text for w in view.operands]
    if tool in ("node", "python", "python3"):
        key: tuple[str, str] | None = (tool, "")
    elif tool in ("manage.py", "artisan"):
        key = (tool, words[0]) if words else None
    else:
        key = (tool, operands[0]) if operands else None
    if key not in _CONSOLES:
        return []
    flags = _CONSOLES[key]
    code = (
        view.values(*flags) if flags else operands[1:]
    )  # `rails runner CODE`; the interpreters all take flags
    return [*code, *([view.exec.stdin_text] if view.exec.stdin_text else [])]


# Model and dataset hub uploads from library calls (`push_to_hub`, `upload_folder`): a publication.
_HUB_PUBLISH = LazyRe2(r"\.push_to_hub\s*\(|\bupload_(?:folder|file|large_folder)\s*\(|\bcreate_repo\s*\(")


def _console_findings(view: CommandView, tool: str, words: list[str]) -> Iterator[ShellFinding]:
    for code in _console_code(view, tool, words):
        if _HUB_PUBLISH.search(code):
            yield finding(
                "publish", "hub-upload", "ask", "high", f"{view.name} uploads a model or dataset to a hub"
            )
        if _ORM_BULK.search(code):
            yield finding(_CAT, "orm-bulk-write", "block", "critical",
                          f"{view.name} runs app code that deletes, rewrites or empties every record of a model")  # fmt: skip
            return
        if view.name not in ("node", "python", "python3") and _ORM_ONE.search(code):
            yield finding(
                _CAT, "orm-record-write", "ask", "high", f"{view.name} runs app code that changes records"
            )
            return


CONSOLE_TOOLS = frozenset({"rails", "rake", "gitlab-rails", "python", "python3", "php", "mix", "flask", "drush", "node",
                           "bundle"})  # fmt: skip


# -- broadcasts and bulk tracker edits -------------------------------------------------------------------
# Mentions that notify every member of a channel or workspace (Slack, Discord, Teams, Mattermost, Zulip).
_BROADCAST_MENTION = LazyRe2(r"<!(?:channel|here|everyone)>|@(?:everyone|here|channel|all)\b|<at>everyone</at>|"
                                 r"@\*\*(?:all|everyone|channel|stream|topic)\*\*")  # fmt: skip
_MESSAGE_FLAGS = (*_DATA_FLAGS, "--message", "-m", "--text", "--content")
BROADCAST_TOOLS = ("curl", "wget", "http", "https", "xh", "zulip-send", "mmctl", "slack", "discord")


def check_broadcast(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    """`curl -d '{"text":"<!channel> ..."}' $SLACK_WEBHOOK`, `zulip-send --message '@**all** ...'`."""
    if any(_BROADCAST_MENTION.search(text) for text in view.values(*_MESSAGE_FLAGS)):
        yield finding("exfiltration", "broadcast-mention", "ask", "high",
                      f"{view.name} sends a message that notifies everyone in a channel or workspace")  # fmt: skip
    if view.name in ("curl", "wget", "http", "https", "xh"):
        for text in view.values(*_DATA_FLAGS):
            for rule, verdict, why, pattern in _STATEMENT_EFFECTS:
                if verdict == "block" and pattern.search(text):
                    yield finding(
                        _CAT, rule, verdict, "critical", f"{view.name} sends a statement that {why}"
                    )
                    return


# Issue and pull-request writes of forge and tracker CLIs.
_TRACKER_WRITES = frozenset({"close", "comment", "lock", "edit", "merge", "move", "update", "transition", "delete",
                             "reopen", "label", "assign"})  # fmt: skip
TRACKER_TOOLS = ("gh", "glab", "jira", "linear", "tea", "hub")


def check_tracker_bulk(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    """`gh issue list ... | xargs -n1 gh issue close`, `for n in $(...); do gh issue comment $n ...; done`."""
    verbs = {w.text for w in view.operands[1:2]}
    if (view.exec.dynamic_operands or view.exec.loop) and verbs & _TRACKER_WRITES:
        yield finding("vendor", "tracker-bulk-edit", "ask", "high",
                      f"{view.name} changes every issue or pull request a listing or loop feeds it")  # fmt: skip
