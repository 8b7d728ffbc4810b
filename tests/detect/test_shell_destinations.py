"""Where a shell command connects: a host is the same destination with or without a scheme, in every IP
notation, and the cloud metadata endpoint is stopped by the coding-agent pack alone."""

from __future__ import annotations

import ipaddress

import pytest

import railguard as rg
from railguard.detect.facts import net_fact, shell_fact
from railguard.detect.net import extract_urls, looks_like_host

CODING = rg.Engine(packs=["coding-agent"])


def _notations(ip: str) -> list[str]:
    """Every spelling clients accept for one IPv4 address."""
    value = int(ipaddress.IPv4Address(ip))
    octets = ip.split(".")
    return [
        ip,
        str(value),  # one decimal number
        hex(value),  # one hex number
        ".".join(f"0{int(o):o}" for o in octets),  # octal octets
        ".".join(hex(int(o)) for o in octets),  # hex octets
        f"{octets[0]}.{octets[1]}.{int(octets[2]) * 256 + int(octets[3])}",  # short form a.b.c
        f"[::ffff:{ip}]",  # IPv4-mapped IPv6
    ]


METADATA = [*_notations("169.254.169.254"), "metadata.google.internal", "169.254.170.2", "[fd00:ec2::254]"]
TOOLS = ["curl -s {}/latest/meta-data/iam/", "curl {}", "wget -qO- {}/computeMetadata/v1/", "nc {} 80",
         "http GET {}/latest", "curl -x {}:80 http://example.com/"]  # fmt: skip


@pytest.mark.parametrize("host", METADATA)
@pytest.mark.parametrize("template", TOOLS)
def test_metadata_endpoint_is_blocked_by_the_coding_agent_pack_alone(host: str, template: str) -> None:
    command = template.format(host)
    decision = CODING.check(rg.Action("Bash", {"command": command}))
    assert decision.verdict is rg.Verdict.BLOCK, (command, decision.reason)
    assert "metadata" in decision.reason


@pytest.mark.parametrize(
    "host", [*_notations("10.0.0.5"), *_notations("192.168.1.1"), "localhost:3000", "db.internal", "[::1]"]
)
@pytest.mark.parametrize("tool", ["curl", "wget"])
def test_a_host_is_the_same_destination_with_or_without_a_scheme(host: str, tool: str) -> None:
    def net(command: str) -> dict[str, object]:
        action = rg.Action("Bash", {"command": command})
        fact = net_fact(action, None, shell_fact(action, None))
        return {key: fact[key] for key in ("hosts", "private", "loopback", "metadata")}

    bare = net(f"{tool} {host}/admin")
    assert bare == net(f"{tool} http://{host}/admin")
    assert bare["private"] is True


@pytest.mark.parametrize(
    "command",
    [
        "curl -d hello https://api.example.com/v1",
        "curl --retry 3 https://example.com",
        "curl -o notes.txt https://example.com/notes",
        "grep -rn 169.254.169.254 docs/",
        "echo see docs/metadata.md",
        "wget -O out.json https://example.com/a.json",
    ],
)
def test_words_that_are_not_destinations_stay_out(command: str) -> None:
    action = rg.Action("Bash", {"command": command})
    fact = net_fact(action, None, shell_fact(action, None))
    assert not fact["private"] and not fact["metadata"], fact
    assert CODING.check(action).verdict is rg.Verdict.ALLOW


def test_a_scheme_less_destination_is_not_a_workspace_path() -> None:
    action = rg.Action("Bash", {"command": "curl 10.0.0.5/admin"}, context=rg.Context(workspace="/w"))
    assert "/w/10.0.0.5/admin" not in shell_fact(action, None)["paths"]


def test_operand_host_recognition() -> None:
    assert all(looks_like_host(h) for h in ["169.254.169.254/x", "0xa9fea9fe", "2852039166", "localhost",
                                             "user@10.0.0.5", "example.com", "metadata"])  # fmt: skip
    assert not any(
        looks_like_host(w) for w in ["hello", "3", "notes.txt", "name=foo", "-o", "./a", "@f.json"]
    )
    # free text: odd IP notations count as hosts when they carry a path or a port, as dotted quads do
    assert extract_urls("fetch 0xa9fea9fe/latest now") == ["0xa9fea9fe/latest"]
    assert extract_urls("see 127.1:8080 and 1.5 points") == ["127.1:8080"]


@pytest.mark.parametrize(
    ("command", "verdict"),
    [
        ('grep -rn "http://169.254.169.254" src/', "allow"),  # searching for the address is no request
        ("echo http://169.254.169.254/latest", "allow"),
        ('git commit -m "block http://169.254.169.254"', "allow"),
        ("git clone http://169.254.169.254/repo", "block"),
        ("python3 -m pip install http://169.254.169.254/pkg.whl", "block"),
        ("hey -n 10 http://169.254.169.254/latest", "block"),  # a tool the rules never heard of
        ("python3 -c \"import urllib.request as u; u.urlopen('http://169.254.169.254/latest/')\"", "block"),
        ("node -e \"fetch('http://metadata.google.internal/computeMetadata/v1/')\"", "block"),
        ("perl -MLWP::Simple -e 'print get(q{http://169.254.169.254/})'", "block"),
        ("curl --url=http://169.254.169.254/latest", "block"),
    ],
)
def test_only_commands_that_can_send_a_request_reach_the_metadata_endpoint(
    command: str, verdict: str
) -> None:
    assert CODING.check(rg.Action("Bash", {"command": command})).verdict.value == verdict


def test_the_destinations_a_rule_sees_are_never_cut_short() -> None:
    """The 100th URL of a command counts as much as the first (the list used to stop at 64)."""
    urls = " ".join(f"https://h{i}.example.com/" for i in range(100))
    action = rg.Action("Bash", {"command": f"curl {urls} http://10.0.0.5/admin"})
    assert net_fact(action, None, shell_fact(action, None))["private"] is True
