from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from railguard.detect.net import (
    NetAnalysis,
    analyze_urls,
    classify_host,
    extract_urls,
    host_matches,
    parse_url,
)

FACT_KEYS = {
    "urls",
    "hosts",
    "schemes",
    "private",
    "loopback",
    "metadata",
    "ip_literal",
    "denied",
    "not_allowed",
    "findings",
}


def rules(analysis: NetAnalysis) -> set[str]:
    return {f.rule for f in analysis.findings}


# --- IP encodings -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "2130706433",  # decimal
        "0177.0.0.1",  # octal
        "0x7f.1",  # hex + short form
        "0x7f000001",
        "017700000001",
        "0000000000000000000000000000177.0.0.1",  # any number of leading zeros
        "0x0000000000000000000007f.1",
        "127.1",
        "127.0.1",
        "[::1]",
        "::1",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "[0:0:0:0:0:ffff:127.0.0.1]",
        "[::127.0.0.1]",  # IPv4-compatible
        "[64:ff9b::127.0.0.1]",  # NAT64
        "[2002:7f00:1::]",  # 6to4
        "0.0.0.0",
        "0",
        "[::]",
        "localhost",
        "LOCALHOST",
        "localhost.",
        "api.localhost",
        "%31%32%37.0.0.1",  # percent-encoded
        "%2531%2532%2537.0.0.1",  # double percent-encoded
        "\uff11\uff12\uff17\u3002\uff10\u3002\uff10\u3002\uff11",  # fullwidth digits, ideographic dots
        "127.0.0.1.nip.io",
        "app-127-0-0-1.sslip.io",
        "7f000001.nip.io",
        "localtest.me",
    ],
)
def test_loopback_in_every_encoding(host: str) -> None:
    info = classify_host(host)
    assert info.loopback, info
    assert info.private


@pytest.mark.parametrize(
    ("host", "canonical"),
    [("2130706433", "127.0.0.1"), ("0x7f.1", "127.0.0.1"), ("0251.0376.0251.0376", "169.254.169.254")],
)
def test_non_canonical_literal_is_flagged_with_canonical_ip(host: str, canonical: str) -> None:
    info = classify_host(host)
    assert info.ip == canonical and info.non_canonical


def test_canonical_literal_is_not_flagged_as_obfuscated() -> None:
    assert not classify_host("10.1.2.3").non_canonical


@pytest.mark.parametrize(
    "host",
    [
        "169.254.169.254",
        "0xa9fea9fe",
        "2852039166",
        "0251.0376.0251.0376",
        "[::ffff:169.254.169.254]",
        "[::ffff:a9fe:a9fe]",
        "[fd00:ec2::254]",
        "169.254.170.2",
        "100.100.100.200",
        "metadata.google.internal",
        "METADATA.GOOGLE.INTERNAL.",
        "metadata",
        "instance-data",
        "169.254.169.254.nip.io",
    ],
)
def test_cloud_metadata_endpoints(host: str) -> None:
    info = classify_host(host)
    assert info.metadata and info.private


@pytest.mark.parametrize(
    "host",
    [
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "100.64.0.1",
        "[fc00::1]",
        "db.internal",
        "redis",
        "svc.cluster.local",
    ],
)
def test_private_hosts(host: str) -> None:
    info = classify_host(host)
    assert info.private and not info.loopback and not info.metadata


@pytest.mark.parametrize("host", ["169.254.1.1", "[fe80::1]", "[fe80::1%25eth0]"])
def test_link_local(host: str) -> None:
    assert classify_host(host).link_local


@pytest.mark.parametrize("host", ["224.0.0.1", "240.0.0.1", "255.255.255.255"])
def test_reserved(host: str) -> None:
    assert classify_host(host).reserved


@pytest.mark.parametrize(
    "host", ["example.com", "8.8.8.8", "[2606:4700::1111]", "[::ffff:8.8.8.8]", "api.github.com"]
)
def test_public_hosts_are_not_internal(host: str) -> None:
    info = classify_host(host)
    assert not (info.private or info.loopback or info.link_local or info.metadata or info.reserved), info


@pytest.mark.parametrize(
    ("given", "host"), [("localhost:8080", "localhost"), ("[::1]:80", "::1"), ("bob@10.0.0.1:22", "10.0.0.1")]
)
def test_classify_host_ignores_userinfo_and_port(given: str, host: str) -> None:
    assert classify_host(given).host == host


def test_idna_hosts_are_punycoded() -> None:
    assert classify_host("Bücher.example").host == "xn--bcher-kva.example"


def test_bracketed_non_ipv6_is_not_an_ip() -> None:
    info = classify_host("[12]")
    assert info.ip is None and not info.private


def test_template_host_is_reported_invalid_not_private() -> None:
    analysis = analyze_urls(["https://${NEXUS_HOST}/upload"])
    fact = analysis.to_fact()
    assert not fact["private"]
    assert rules(analysis) == {"net.invalid_host"}
    assert fact["hosts"] == ["<invalid>"] and fact["urls"] == ["https://<invalid>/upload"]


def test_invalid_host_text_is_never_echoed() -> None:
    token = "sk_live_51HxQ2eKjz8TOPSECRET"
    fact = analyze_urls([f"https://{token}!/x"], allow=["example.com"]).to_fact()
    assert token not in str(fact)
    assert fact["not_allowed"] == ["<invalid>"]


@pytest.mark.parametrize("host", ["1.2.3.256", "08.0.0.1", "99999999999999", "a.b.0x1ffffffff"])
def test_numeric_host_that_is_no_ip_is_invalid(host: str) -> None:
    info = classify_host(host)
    assert info.ip is None and not info.private
    assert rules(analyze_urls([f"http://{host}/"])) == {"net.invalid_host"}


# --- URL parsing --------------------------------------------------------------------------------------


def test_userinfo_trick_resolves_to_the_real_host() -> None:
    analysis = analyze_urls(["http://good.com@169.254.169.254/latest/meta-data/"])
    fact = analysis.to_fact()
    assert fact["hosts"] == ["169.254.169.254"]
    assert fact["metadata"]
    assert {"net.metadata", "net.userinfo"} <= rules(analysis)


def test_backslash_ambiguity_checks_both_hosts() -> None:
    analysis = analyze_urls(["http://good.com\\@127.0.0.1/"])
    assert set(analysis.to_fact()["hosts"]) == {"good.com", "127.0.0.1"}
    assert {"net.ambiguous_host", "net.loopback"} <= rules(analysis)


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433/",
        "http://0177.0.0.1/",
        "http://0x7f.1/",
        "http://127.1:8080/admin",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]:80/",
        "HTTP://LOCALHOST./",
        "http://%6c%6f%63%61%6c%68%6f%73%74/",
        "http:\\\\127.0.0.1\\admin",
        "http:/127.0.0.1/",
        "ws://localhost:9222/devtools",
        "http://127.0.0.1\t/",
    ],
)
def test_loopback_urls(url: str) -> None:
    fact = analyze_urls([url]).to_fact()
    assert fact["loopback"] and fact["private"], fact


def test_hosts_fact_uses_canonical_ip_and_ip_literal_flag() -> None:
    fact = analyze_urls(["http://0x7f.1/", "https://example.com/"]).to_fact()
    assert fact["hosts"] == ["127.0.0.1", "example.com"]
    assert fact["ip_literal"]
    assert not analyze_urls(["https://example.com/"]).to_fact()["ip_literal"]


def test_scp_style_git_remote() -> None:
    info = parse_url("git@github.com:org/repo.git")
    assert info.scheme == "ssh"
    assert [h.host for h in info.hosts] == ["github.com"]


def test_bucket_urls_are_not_private_hosts() -> None:
    fact = analyze_urls(["s3://my-bucket/path/file.csv"]).to_fact()
    assert fact["hosts"] == ["my-bucket"] and not fact["private"]
    assert fact["schemes"] == ["s3"]


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "gopher://10.0.0.1:6379/_FLUSHALL", "dict://127.0.0.1:11211/"]
)
def test_dangerous_schemes(url: str) -> None:
    assert "net.dangerous_scheme" in rules(analyze_urls([url]))


def test_scheme_less_host_port() -> None:
    fact = analyze_urls(["10.0.0.5:6379"]).to_fact()
    assert fact["hosts"] == ["10.0.0.5"] and fact["private"] and fact["schemes"] == []


def test_public_url_has_no_findings() -> None:
    analysis = analyze_urls(["https://api.github.com/repos/org/repo?per_page=10"])
    assert analysis.findings == ()
    assert not analysis.to_fact()["private"]


# --- redaction ----------------------------------------------------------------------------------------


def test_facts_never_carry_credentials_or_query_values() -> None:
    secret = "s3cr3tPassw0rd"
    token = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
    urls = [
        f"https://admin:{secret}@example.com/x",
        f"https://api.example.com/v1?api_key={secret}&page=2",
        f"https://hooks.example.com/services/{token}",
        f"https://{token}@github.com/org/repo.git",
        f"https://example.com/page#{secret}",
    ]
    fact = analyze_urls(urls).to_fact()
    text = str(fact)
    assert secret not in text and token not in text
    assert fact["urls"][1] == "https://api.example.com/v1?api_key=***&page=***"


# --- extraction ---------------------------------------------------------------------------------------


def test_extract_from_a_command_line() -> None:
    command = (
        "curl -s http://169.254.169.254/latest/meta-data/ -o out && git clone git@github.com:org/r.git "
        "&& redis-cli -h 10.0.0.5:6379 && wget ftp://files.example.org/a.tgz"
    )
    assert extract_urls(command) == [
        "http://169.254.169.254/latest/meta-data/",
        "git@github.com:org/r.git",
        "10.0.0.5:6379",
        "ftp://files.example.org/a.tgz",
    ]


def test_extract_from_prose_trims_punctuation_but_keeps_balanced_brackets() -> None:
    text = "See https://example.com/docs. Also (https://en.wikipedia.org/wiki/A_(b)), and [::1]:8080/x!"
    assert extract_urls(text) == [
        "https://example.com/docs",
        "https://en.wikipedia.org/wiki/A_(b)",
        "[::1]:8080/x",
    ]


def test_extract_schemes() -> None:
    text = "wss://a.io/s ws://b.io s3://bucket/k gs://b2/k ftp://c.io sftp://d.io https://e.io"
    assert len(extract_urls(text)) == 7


def test_extract_bare_hosts_with_port_or_path() -> None:
    text = "connect to db.internal:5432, localhost:8080 and github.com/org/repo or 192.168.0.10"
    assert extract_urls(text) == ["db.internal:5432", "localhost:8080", "github.com/org/repo", "192.168.0.10"]


def test_extract_ignores_file_names_with_line_numbers_and_versions() -> None:
    text = "error in main.py:12 and config.yaml:3, version 3.11, time 12:30, path src/app/x"
    assert extract_urls(text) == []


def test_extract_ignores_shell_globs_and_regex_classes() -> None:
    text = "find ../[12][0-9] -name '[Rr]eadme' | tr '[:upper:]' '[:lower:]' | grep '[[:digit:]]' {}[0]"
    assert extract_urls(text) == []


def test_extract_handles_long_runs_of_closing_brackets() -> None:
    assert extract_urls("http://a.io/x" + ")" * 100_000) == ["http://a.io/x"]


def test_extract_deduplicates() -> None:
    assert extract_urls("http://a.io http://a.io") == ["http://a.io"]


# --- allow / deny -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "pattern", "expected"),
    [
        ("example.com", "example.com", True),
        ("api.example.com", "example.com", True),
        ("badexample.com", "example.com", False),
        ("example.com.evil.io", "example.com", False),
        ("api.example.com", "*.example.com", True),
        ("example.com", "*.example.com", False),
        ("EXAMPLE.COM.", "example.com", True),
        ("anything.io", "*", True),
        ("0x7f.1", "127.0.0.1", True),
        ("127.0.0.2", "127.0.0.1", False),
        ("10.1.2.3", "10.0.0.0/8", True),
        ("11.1.2.3", "10.0.0.0/8", False),
        ("[::ffff:10.1.2.3]", "10.0.0.0/8", True),
        ("[fd00::5]", "fc00::/7", True),
        ("127.0.0.1", "localhost", False),
        ("münchen.de", "xn--mnchen-3ya.de", True),
    ],
)
def test_host_matches(host: str, pattern: str, expected: bool) -> None:
    assert host_matches(host, pattern) is expected


def test_deny_list() -> None:
    analysis = analyze_urls(["https://pastebin.com/raw/x", "https://example.com"], deny=["pastebin.com"])
    fact = analysis.to_fact()
    assert fact["denied"] == ["pastebin.com"]
    assert "net.denied" in rules(analysis)


def test_allow_list_reports_the_rest() -> None:
    urls = ["https://api.github.com/x", "https://evil.io/y", "http://good.com@evil2.io/"]
    fact = analyze_urls(urls, allow=["github.com"]).to_fact()
    assert fact["not_allowed"] == ["evil.io", "evil2.io"]


def test_empty_allow_list_allows_everything() -> None:
    assert analyze_urls(["https://evil.io/"]).to_fact()["not_allowed"] == []


def test_deny_wins_over_allow() -> None:
    fact = analyze_urls(["https://x.example.com"], allow=["example.com"], deny=["x.example.com"]).to_fact()
    assert fact["denied"] == ["x.example.com"] and fact["not_allowed"] == []


def test_allow_list_cannot_be_bypassed_by_backslash_ambiguity() -> None:
    fact = analyze_urls(["https://github.com\\@evil.io/"], allow=["github.com"]).to_fact()
    assert fact["not_allowed"] == ["evil.io"]


# --- properties ---------------------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=200))
def test_random_text_never_raises(text: str) -> None:
    urls = extract_urls(text)
    fact = analyze_urls([*urls, text], allow=["example.com"], deny=["10.0.0.0/8"]).to_fact()
    assert set(fact) == FACT_KEYS
    classify_host(text)
    host_matches(text, "*.example.com")


_URLISH = st.lists(
    st.sampled_from(
        ["http://", "//", "@", ":", "[", "]", "::", "0x", "127", ".", "1", "%", "\\", "/", "a", "#", "?"]
    ),
    max_size=20,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(_URLISH)
def test_random_url_like_strings_never_raise(text: str) -> None:
    fact = analyze_urls([text]).to_fact()
    assert isinstance(fact["hosts"], list)


@settings(max_examples=200, deadline=None)
@given(st.ip_addresses(v=4))
def test_every_ipv4_encoding_classifies_like_the_canonical_form(ip: object) -> None:
    value = int(ip)  # type: ignore[call-overload]
    canonical = classify_host(str(ip))
    for encoded in (str(value), hex(value), "0" + oct(value)[2:]):
        info = classify_host(encoded)
        assert info.ip == canonical.ip
        assert (info.private, info.loopback, info.metadata) == (
            canonical.private,
            canonical.loopback,
            canonical.metadata,
        )
