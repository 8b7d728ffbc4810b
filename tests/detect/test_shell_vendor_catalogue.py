"""The vendor-CLI catalogue is data: it loads, every CLI documents examples, and every example gets its
documented verdict from the real analyzer (not from the catalogue's own classifier alone)."""

from __future__ import annotations

import pytest

from railguard.detect.shell import analyze_command
from railguard.detect.shell._catalogue import CatalogueError, catalogue, parse_catalogue, tokens, verb_class

WS, HOME = "/home/user/project", "/home/user"
SPECS = {spec.name: spec for spec in catalogue().clis.values()}
EXAMPLES = [(name, command, verdict) for name, spec in SPECS.items() for command, verdict in spec.examples]


def test_every_cli_documents_examples() -> None:
    assert len(SPECS) >= 60
    missing = [name for name, spec in SPECS.items() if not spec.examples]
    assert not missing


def test_issue_clis_are_catalogued() -> None:
    named = ["aws", "gcloud", "az", "doctl", "flyctl", "heroku", "vercel", "netlify", "kubectl", "helm", "gh",
             "glab", "stripe", "twilio", "npm", "pnpm", "yarn", "pip", "twine", "uv", "cargo", "gem", "docker",
             "podman", "ansible", "ansible-playbook", "terraform", "pulumi"]  # fmt: skip
    assert [n for n in named if n not in catalogue().clis] == []


@pytest.mark.parametrize(("cli", "command", "verdict"), EXAMPLES, ids=[c for _, c, _ in EXAMPLES])
def test_example_gets_its_documented_verdict(cli: str, command: str, verdict: str) -> None:
    analysis = analyze_command(command, workspace=WS, home=HOME)
    assert analysis.verdict == verdict, (cli, analysis.to_fact()["findings"])


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("delete-bucket", ["delete", "bucket"]),
        ("apps:destroy", ["apps", "destroy"]),
        ("DeleteInstance", ["delete", "instance"]),
        ("api:core:messages:create", ["api", "core", "messages", "create"]),
        ("TerminateInstances", ["terminate", "instances"]),
    ],
)
def test_compound_subcommands_split_into_verbs(word: str, expected: list[str]) -> None:
    assert tokens(word) == expected


def test_destroy_is_the_strongest_verb_in_a_word() -> None:
    verbs = catalogue().verbs
    assert verb_class("batch-delete-image", verbs) == "destroy"
    assert verb_class("describe-instances", verbs) == "read"
    assert verb_class("put-bucket-acl", verbs) == "mutate"
    assert verb_class("frobnicate", verbs) is None


@pytest.mark.parametrize(
    "command",
    # subcommands written for this test, in no catalogue entry: the verb lexicon judges them
    [
        "aws glacier delete-vault --vault-name v",
        "gcloud spanner databases delete orders --instance i",
        "az cosmosdb sql container delete -g rg -a acct -d db -n c",
        "doctl registry garbage-collection purge",
        "heroku redis:destroy -a acme",
    ],
)
def test_unlisted_destroying_subcommands_block(command: str) -> None:
    assert analyze_command(command, workspace=WS, home=HOME).verdict == "block"


@pytest.mark.parametrize(
    "command",
    [
        "aws glacier list-vaults",
        "gcloud spanner databases describe orders --instance i",
        "az cosmosdb show -n a",
        "doctl registry repository list-tags api",
        "heroku redis:info -a acme",
    ],
)
def test_unlisted_reading_subcommands_run(command: str) -> None:
    assert analyze_command(command, workspace=WS, home=HOME).verdict == "allow"


def test_unknown_subcommand_of_a_remote_cli_asks() -> None:
    assert analyze_command("gcloud alpha frobnicate widgets", workspace=WS, home=HOME).verdict == "ask"


def test_blast_radius_raises_severity_and_bypass_blocks() -> None:
    plain = analyze_command("kubectl scale deployment api --replicas=3", workspace=WS, home=HOME)
    prod = analyze_command(
        "kubectl --context prod-eu scale deployment api --replicas=3", workspace=WS, home=HOME
    )
    big = analyze_command("aws ec2 run-instances --image-id ami-1 --count 500", workspace=WS, home=HOME)
    admin = analyze_command("gh pr merge 7 --admin --squash", workspace=WS, home=HOME)
    assert (plain.verdict, plain.findings[0].severity) == ("ask", "medium")
    assert (prod.verdict, prod.findings[0].severity) == ("ask", "critical")
    assert big.verdict == admin.verdict == "block"


def test_a_malformed_catalogue_names_what_is_wrong() -> None:
    with pytest.raises(CatalogueError, match="verbs, blast and clis"):
        parse_catalogue({"verbs": {}})
    data = {"verbs": {}, "blast": {}, "clis": {"x": {"kind": "cloud"}}}
    with pytest.raises(CatalogueError, match=r"clis\.x\.kind"):
        parse_catalogue({**data, "blast": _blast()})
    bad_rule = {"x": {"kind": "remote", "rules": [{"path": ["a"], "class": "explode"}]}}
    with pytest.raises(CatalogueError, match=r"clis\.x\.rules"):
        parse_catalogue({"verbs": {}, "blast": _blast(), "clis": bad_rule})


def _blast() -> dict[str, object]:
    return {"bypass": [], "live": [], "environment_options": [], "production_tokens": [], "count_options": [],
            "large_count": 1, "runaway_count": 2}  # fmt: skip
