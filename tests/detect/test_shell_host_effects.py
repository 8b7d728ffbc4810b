"""The host-effect table (`host_effects.yaml`) is data: it loads and validates, every entry's examples get
at least the entry's verdict from the real analyzer, and its everyday look-alikes stay allowed."""

from __future__ import annotations

import pytest

from railguard.detect.shell import analyze_command
from railguard.detect.shell._host_effects import allowed_examples, host_effects, names, parse_effects

WS, HOME = "/home/user/project", "/home/user"
RANK = {"allow": 0, "ask": 1, "block": 2}
EXAMPLES = [
    (effect.rule, effect.verdict, command) for effect in host_effects() for command in effect.examples
]


def test_every_entry_documents_examples() -> None:
    assert len(host_effects()) >= 40
    assert [e.rule for e in host_effects() if not e.examples] == []
    assert "nsenter" in names() and "borg" in names()


@pytest.mark.parametrize(("rule", "verdict", "command"), EXAMPLES, ids=[c for _, _, c in EXAMPLES])
def test_example_is_stopped_by_its_entry(rule: str, verdict: str, command: str) -> None:
    analysis = analyze_command(command, workspace=WS, home=HOME)
    assert rule in {f.rule for f in analysis.findings}
    assert RANK[analysis.verdict] >= RANK[verdict]


@pytest.mark.parametrize("command", allowed_examples())
def test_everyday_look_alike_is_allowed(command: str) -> None:
    analysis = analyze_command(command, workspace=WS, home=HOME)
    assert analysis.verdict == "allow", [f.rule for f in analysis.findings]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"names": ["x"], "rule": "r", "category": "c", "verdict": "maybe", "why": "w"}, "verdict"),
        (
            {"names": ["x"], "rule": "r", "category": "c", "verdict": "ask", "why": "w", "flag": ["-f"]},
            "unknown",
        ),
        ({"names": "x", "rule": "r", "category": "c", "verdict": "ask", "why": "w"}, "names"),
        ({"names": ["x"], "category": "c", "verdict": "ask", "why": "w"}, "rule"),
    ],
)
def test_a_malformed_entry_fails_at_load(entry: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_effects({"effects": [entry]})


# Forms written here, in no data set: the same classes reached through other words.
@pytest.mark.parametrize(
    ("command", "verdict"),
    [
        ("sudo nsenter --target 1 --mount --uts --ipc --net --pid /bin/sh", "block"),
        ("nsenter -t 1 -a", "block"),
        ("nsenter --net=/run/netns/blue ip link", "ask"),
        ("usermod --append --groups wheel,video ci", "block"),
        ("useradd --uid 0 --non-unique toor", "block"),
        ("setcap 'cap_sys_admin+ep' /usr/local/bin/node", "block"),
        ("borgbackup delete ssh://backup@nas/./repo::2024-06-01", "block"),
        ("restic --repo s3:s3.amazonaws.com/bkp forget latest", "ask"),
        ("kafka-topics --zookeeper zk:2181 --delete --topic audit", "block"),
        ("http DELETE :8080/api/users/7", "ask"),
        ("timedatectl set-timezone UTC", "ask"),
        ("efibootmgr --bootnext 0003", "block"),
    ],
)
def test_other_forms_of_the_classes_stop(command: str, verdict: str) -> None:
    analysis = analyze_command(command, workspace=WS, home=HOME)
    assert RANK[analysis.verdict] >= RANK[verdict], [f.rule for f in analysis.findings]


@pytest.mark.parametrize(
    ("command", "verdict"),
    [
        (
            "echo 'ssh-ed25519 AAAA op@x' >> /root/.ssh/authorized_keys",
            "block",
        ),  # root's keys are login keys too
        ("tee -a /root/.ssh/authorized_keys < key.pub", "block"),
        ("export HISTFILE=/dev/null", "ask"),
        ("HISTSIZE=0 bash", "ask"),
    ],
)
def test_login_keys_and_history_switches_stop(command: str, verdict: str) -> None:
    analysis = analyze_command(command, workspace=WS, home=HOME)
    assert analysis.verdict == verdict, [f.rule for f in analysis.findings]


@pytest.mark.parametrize(
    "command", ["export HISTSIZE=10000", "HISTFILE=~/.project_history bash", "cat /root/.ssh/authorized_keys"]
)
def test_history_settings_and_key_reads_allowed(command: str) -> None:
    assert analyze_command(command, workspace=WS, home=HOME).verdict == "allow"
