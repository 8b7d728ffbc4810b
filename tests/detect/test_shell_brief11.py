"""Long-tail vendor CLIs (issue 16, round 10): what a cloud, hosting, data or SaaS CLI's command does beyond its
verb is judged for every vendor CLI, catalogued or never heard of (`_rules_vendor_long_tail.py`), and the
long-tail catalogue (`vendor_clis_long_tail.yaml`) judges the verbs of the smaller vendors. Commands written for
this test (none is a row of `benchmarks/data/shell_brief11.yaml`); several name CLIs no catalogue lists."""

from __future__ import annotations

import pytest

from railguard.detect.shell._analyze import analyze_uncached

WS, HOME = "/home/user/project", "/home/user"

BLOCK = {
    "ownership transfer": [
        "render project transfer web --to-team partners",
        "zeabur service transfer api --to other-team",
        "vultr-cli account transfer-out --to acme@example.org",
        "cloudkit app move shop --org contractors",
    ],
    "admin or owner grant": [
        "neonctl orgs members add dev@example.org --role admin",
        "scw iam policy create name=all rules.0.permission-set-names.0=AllProductsFullAccess role=owner",
        "tinybird workspace members add ext@example.org --role admin",
        "fauna team invite ext@example.org --role Owner",
    ],
    "storage made public": [
        "ovhcloud storage bucket update photos --acl public-read",
        "tigris bucket set-acl archive public-read",
        "linode-cli obj setacl --acl-public media report.pdf",
        "backblaze bucket update invoices --visibility allPublic --acl public",
        "digitalocean spaces make-public media",
    ],
    "firewall open to the world": [
        "civo firewall rule create web --cidr 0.0.0.0/0 --startport 22 --endport 22",
        "hetzner firewall add-rule edge --source-ips ::/0 --port 3389",
        "neonctl ip-allow add 0.0.0.0/0 --project-id p-1",
        "kamatera firewall rule add --source 0.0.0.0/0 --port 5432",
    ],
    "protection or backup off": [
        "hcloud volume disable-protection archive delete",
        "upcloud server modify db --backup-policy none --disable-termination-protection",
        "pscale branch safe-migrations disable app main",
        "railway volume backups disable data",
        "auth0 attack-protection update suspicious-ip-throttling --enabled=false",
        "edgecli zone settings update tls off",
    ],
    "alerting silenced broadly": [
        "opsgenie maintenance create --all-services --duration 14d",
        "checkly alerts mute --all",
        "betterstack monitors pause --all",
    ],
    "everything cancelled or revoked": [
        "chargebee subscriptions cancel --all",
        "memberful members deactivate --all",
        "zitadel keys revoke --all",
    ],
    "credentials revoked or rotated": [
        "vultr-cli api-key rotate",
        "planetscale service-token revoke ci-token",
        "clerk secret-keys roll sk_live",
    ],
    "remote data replaced": [
        "neonctl branches restore main ^self@2024-01-01T00:00:00Z",
        "xata import data.csv --table users --overwrite",
        "algolia objects import products -F products.ndjson --replace",
    ],
    "deletion without confirmation": [
        "tinybird datasource delete events --yes",
        "porkbun dns delete example.org --force",
        "nhost project destroy staging",
        "crunchy cluster purge analytics",
    ],
    "catalogued long-tail deletion": [
        "koyeb domains delete shop.example.org",
        "aiven service terminate kafka-events --force",
        "typesense collections delete orders",
        "sanity dataset delete staging --force",
        "obsutil rm obs://releases/v1/ -r -f",
        "ionosctl k8s nodepool delete --cluster-id 1 --nodepool-id 2",
    ],
    "deeper subcommand deletes": [
        "databricks account metastores delete 4f1e",
        "vultr-cli dns record delete example.org 1a2b",
        "flarectl firewall rules delete --zone example.org --id 9",
    ],
    "SQL through a vendor shell": [
        "turso db shell shop 'DROP TABLE carts'",
        'wrangler d1 execute shop --remote --command "TRUNCATE orders"',
    ],
}

ASK = {
    "money moved": [
        "stripe-like refunds create --charge ch_1 --amount 900",
        "wise transfers create --profile 1 --target-account 2 --amount 100",
        "mollie payments refund tr_1 --amount 5.00",
        "flutterwave refund create --tx 77",
    ],
    "people messaged": [
        "brevo email send --to all@example.org --subject Hi --template 4",
        "messagebird sms send --recipient 31612345678 --body Hello",
        "onesignal notification create --audience everyone --message Sale",
        "courier automations invoke digest --recipients all-users",
    ],
    "feature flags": [
        "unleash features enable new-cart --project web",
        "devcycle variables update checkout --environment production --value true",
    ],
    "production changes": [
        "zeabur service update api --environment production --plan large",
    ],
    "secret values": [
        "netlify env:get DATABASE_URL",
        "render env-groups get shared --show-values",
        "koyeb secrets get db-url --reveal",
    ],
    "exports to a URL": [
        "bq extract shop.orders gs://exports/orders-*.json",
        "firebase firestore:export gs://someone-else/backup",
    ],
}

LOOK_ALIKES = [
    "koyeb service list",
    "aiven service get kafka-events --json",
    "sanity dev",
    "shopify theme dev --store demo",
    "plivo account details",
    "pd incident list --statuses acknowledged",
    "snow sql -q 'select 1'",
    "neonctl branches list --project-id p-1",
    "fly secrets list --app web",
    "vercel env ls",
    "tinybird datasource ls",
    "wp db export backup.sql",
    "supabase db dump -f schema.sql",
    "hcloud server enable-protection db delete",
    "civo firewall rule list web",
    "algolia search products --query lamp",
    "chargebee subscriptions list --limit 3",
    "adb shell pm dump com.example.app",
    "gcloud transfer jobs list",
    "wrangler d1 execute shop --local --command 'DROP TABLE carts'",
    # a developer's own toolchains and local clusters, deleted without confirmation: never blocked
    "rye toolchain remove 3.11 -f",
    "k3d cluster delete --all",
    "openstack security group rule create --remote-ip 0.0.0.0/0 --dst-port 443 web",
]


def _verdict(command: str) -> str:
    return analyze_uncached(command, WS, HOME).verdict


@pytest.mark.parametrize("command", [c for rows in BLOCK.values() for c in rows])
def test_final_vendor_effects_block(command: str) -> None:
    assert _verdict(command) == "block"


@pytest.mark.parametrize("command", [c for rows in ASK.values() for c in rows])
def test_consequential_vendor_effects_ask(command: str) -> None:
    assert _verdict(command) == "ask"


@pytest.mark.parametrize("command", LOOK_ALIKES)
def test_look_alikes_are_not_blocked(command: str) -> None:
    assert _verdict(command) != "block"


@pytest.mark.parametrize("command", LOOK_ALIKES[:12])
def test_reads_of_long_tail_clis_are_allowed(command: str) -> None:
    assert _verdict(command) == "allow"
