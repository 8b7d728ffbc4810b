"""Where an action reaches on the network: URLs in free text, their hosts, and SSRF risk.

Pure and offline: DNS is never resolved (hot path, and a lookup is itself a side effect). Instead,
hosts are normalised the way clients do it (percent-decoding, Unicode NFKC and IDNA, trailing dots,
case) and IP literals are read in every encoding `inet_aton` and browsers accept (decimal
`2130706433`, octal `0177.0.0.1`, hex `0x7f.1`, short `127.1`, IPv6 with embedded IPv4). When URL
parsers disagree about the host (`http://a.com\\@169.254.169.254/`), every candidate is checked.
All regexes run on re2, so scanning untrusted text is linear-time.
"""

from __future__ import annotations

import functools
import ipaddress
import unicodedata
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import re2

from railguard.detect._budget import checkpoint
from railguard.detect._re2_search import Search, match_tester, span_searcher, without_surrogates

__all__ = [
    "INVALID_HOST",
    "HostInfo",
    "NetAnalysis",
    "RuleFinding",
    "UrlInfo",
    "analyze_urls",
    "classify_host",
    "extract_urls",
    "host_matches",
    "is_hostname",
    "looks_like_host",
    "normalize_host",
    "parse_ip",
    "parse_url",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# --- known hosts (facts about clouds and local resolvers) --------------------------------------------

_METADATA_IPS = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OCI, DigitalOcean, OpenStack ... instance metadata
        "169.254.170.2",  # AWS ECS task metadata / credentials
        "169.254.170.23",  # AWS EKS Pod Identity agent
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "fd00:ec2::23",  # AWS EKS Pod Identity agent over IPv6
        "100.100.100.200",  # Alibaba Cloud metadata
        "169.254.0.23",  # Tencent Cloud metadata
    )
)
_METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.tencentyun.com",
    }
)
# Names that resolve to the local machine without any DNS query, or through public wildcard records.
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
_LOOPBACK_SUFFIXES = (".localhost", ".localtest.me", ".lvh.me")
_LOOPBACK_DOMAINS = frozenset({"localtest.me", "lvh.me"})
_PRIVATE_SUFFIXES = (
    ".local",
    ".localdomain",
    ".internal",
    ".intranet",
    ".corp",
    ".lan",
    ".home",
    ".home.arpa",
    ".svc",
    ".cluster.local",
)
# Public wildcard DNS services answer `10.0.0.1.nip.io` with 10.0.0.1: the IP is in the name.
_IP_IN_NAME_SUFFIXES = (".nip.io", ".sslip.io", ".xip.io")
# Schemes that reach local files or speak raw protocols through URL fetchers (classic SSRF pivots).
_DANGEROUS_SCHEMES = frozenset({"file", "gopher", "dict", "ldap", "ldaps", "tftp", "jar", "netdoc", "phar"})
# Bucket schemes name a storage bucket, not a host on the network.
_BUCKET_SCHEMES = frozenset({"s3", "s3a", "s3n", "gs", "gcs", "az", "abfs", "abfss", "wasb", "wasbs"})
# Dotted names that are file names, not hosts, when they appear as `main.py:12` or `a.json/`.
_FILE_EXTENSION_WORDS = (
    "py pyc js mjs cjs ts tsx jsx go rs c h cc cpp hpp java kt rb php pl sh bash zsh txt md rst json yaml "
    "yml toml ini cfg conf log csv tsv xml html htm css scss sql lock env tf hcl swift m mm cs vb r jl lua "
    "dart ex exs erl hs ml scala clj groovy gradle mk cmake proto ipynb pdf png jpg jpeg gif svg zip gz "
    "tar tgz bz2 xz whl egg so dll exe bin dat db sqlite pem crt key pub jar war class o a out tmp bak "
    "orig patch diff"
)
_FILE_EXTENSIONS = frozenset(_FILE_EXTENSION_WORDS.split())
_BARE_NAMES = _LOOPBACK_NAMES | _METADATA_NAMES

# --- extraction ---------------------------------------------------------------------------------------

_URL_CHARS = r"[^\s<>\"'`]"
# One leftmost-first pass: scheme URLs, scp-style `user@host:path`, bracketed IPv6, then hosts that
# carry a port or a path (candidates; `_plausible_bare_host` filters out file names and words), then
# dotted-quad IPv4 literals on their own.
_EXTRACT = re2.compile(
    r"(?i)(?P<url>\b[a-z][a-z0-9+.-]{0,31}:(?://|\\\\)" + _URL_CHARS + r"+)"
    r"|(?P<scp>\b[a-z0-9._~-]+@(?:[a-z0-9.-]+|\[[0-9a-f:.]+\]):" + _URL_CHARS + r"*)"
    r"|(?P<ipv6>\[[0-9a-f]{0,4}:[0-9a-f:.]*(?:%[0-9a-z]+)?\](?::\d{1,5})?(?:/" + _URL_CHARS + r"*)?)"
    r"|(?P<bare>\b(?:[a-z0-9-]+\.)*[a-z0-9-]+(?::\d{1,5}\b(?:/" + _URL_CHARS + r"*)?|/" + _URL_CHARS + r"*))"
    r"|(?P<ipv4>\b\d{1,3}(?:\.\d{1,3}){3}\b)"
)
# Groups by number: the RE2 binding rebuilds its name -> number map on every lookup by name.
_BARE_GROUP = _EXTRACT.groupindex["bare"]
_IPV6_GROUP = _EXTRACT.groupindex["ipv6"]
_SCP = re2.compile(r"(?i)^([a-z0-9._~-]+)@([a-z0-9.-]+|\[[0-9a-f:.]+\]):(.*)$")
_SCHEME = re2.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):([/\\]*)")
_is_scp = match_tester(_SCP, whole=False)  # tested on every operand of a network tool
# For these, browsers (WHATWG) accept any run of `/` or `\` after the colon: `http:\\evil.com`.
_SPECIAL_SCHEMES = frozenset({"http", "https", "ws", "wss", "ftp"})
_TRAILING_PUNCTUATION = ".,;:!?'\")]}>"
_CLOSERS = {")": "(", "]": "[", "}": "{"}


def extract_urls(text: str) -> list[str]:
    """URLs (any `scheme://`, including s3:// and ws://), scp-style `git@host:path`, and bare
    `host:port` / `host/path` / IPv4 literals found in free text or a command line, in order,
    without duplicates. Bare dotted names need a port or a path and a real-looking top-level label,
    so `main.py:12` is not a host."""
    found: list[str] = []
    # On UTF-8 bytes (what the binding searches anyway): a str costs an offset translation per match.
    # The compiled search is called directly (what `finditer` does, without a match object per hit);
    # no alternative matches the empty string, so each search starts where the last match ended.
    text = without_surrogates(text)
    data = text.encode("utf-8")
    search = _extract_search()
    pos = 0
    while (spans := search(data, pos)) is not None:
        checkpoint("net: extract")
        start, pos = spans[0]
        candidate = _trim(data[start:pos].decode("utf-8"))
        if spans[_BARE_GROUP][0] >= 0 and not _plausible_bare_host(candidate):
            continue
        if spans[_IPV6_GROUP][0] >= 0 and parse_ip(normalize_host(candidate.partition("]")[0] + "]")) is None:
            continue  # shell globs and regex classes look like `[::]` too
        if candidate:
            found.append(candidate)
    return list(dict.fromkeys(found))


@functools.cache
def _extract_search() -> Search:
    return span_searcher(_EXTRACT)


def _trim(candidate: str) -> str:
    """Drop sentence punctuation glued to a URL, keeping balanced brackets (`[::1]`, wiki links)."""
    # Bracket balances are counted once and updated as characters are dropped, so a URL followed by a
    # long run of `)` costs linear time, not quadratic.
    balance = {
        closer: candidate.count(opener) - candidate.count(closer) for closer, opener in _CLOSERS.items()
    }
    end = len(candidate)
    while end and candidate[end - 1] in _TRAILING_PUNCTUATION:
        last = candidate[end - 1]
        if last in balance:
            if balance[last] >= 0:
                break
            balance[last] += 1
        end -= 1
    return candidate[:end]


def _plausible_bare_host(candidate: str) -> bool:
    host, sep, _ = candidate.partition("/")
    name, colon, port = host.partition(":")
    name = name.lower()
    has_port = bool(colon and port)
    labels = name.split(".")
    if all(label.isdigit() for label in labels):
        return len(labels) == 4 or (has_port and 1 < len(labels) < 4)  # `127.1:8080`
    if _odd_ip_notation(name):
        return has_port or bool(sep)  # `0xa9fea9fe/latest`, `0251.0376.0251.0376:80`
    if name in _BARE_NAMES:
        return has_port or bool(sep)
    tld = labels[-1]
    return len(labels) > 1 and tld.isalpha() and len(tld) >= 2 and tld not in _FILE_EXTENSIONS


def _odd_ip_notation(name: str) -> bool:
    """An IP literal written in hex, octal or as one big number: no word or file name looks like one."""
    if parse_ip(name) is None or ":" in name:
        return False
    labels = name.split(".")
    hexadecimal = any(label[:2] == "0x" for label in labels)
    octal = any(len(label) > 1 and label[0] == "0" and label.isdigit() for label in labels)
    return hexadecimal or octal or (len(labels) == 1 and len(name) >= 8)


def looks_like_host(operand: str) -> bool:
    """Whether an operand that a network tool reads as its destination (`curl X`, `nc X 80`, `ssh X`)
    names a host: a URL with or without its scheme (`169.254.169.254/latest/`, `host:8080`,
    `user@host`), an IP literal in any notation, a bare local or metadata name, or a dotted name with
    a real-looking top-level label (so `-d hello` or `-T notes.txt` values are not hosts)."""
    text = operand.strip()
    if not text or text.startswith(("-", "@", "/", "./", "../", "~")):
        return False
    if "://" in text or _is_scp(text):
        return True
    hostport = text.split("/", 1)[0].split("?", 1)[0].rpartition("@")[2]
    name = normalize_host(_host_of(hostport))
    if not name or not is_hostname(name):
        return False
    labels = name.split(".")
    if parse_ip(name) is not None:
        # a lone small number is a count or a port (`--retry 3`), not the address 0.0.0.3
        return len(labels) > 1 or _odd_ip_notation(name) or ":" in name
    if name in _BARE_NAMES:
        return True
    tld = labels[-1]
    return len(labels) > 1 and tld.isalpha() and len(tld) >= 2 and tld not in _FILE_EXTENSIONS


# --- hosts --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HostInfo:
    """What a host name or IP literal points at. `private` means "not publicly routable" and so also
    covers loopback, link-local, metadata and internal names (`*.internal`, dotless names). `ip` is
    the canonical address when the host is an IP literal (in any encoding) or names one (nip.io).
    `non_canonical` is true for IP literals written in an unusual encoding (an evasion signal)."""

    host: str
    ip: str | None = None
    private: bool = False
    loopback: bool = False
    link_local: bool = False
    metadata: bool = False
    reserved: bool = False
    non_canonical: bool = False

    @property
    def internal(self) -> bool:
        return self.private or self.loopback or self.link_local or self.metadata


def classify_host(host: str) -> HostInfo:
    """Classify a host: a name or an IP literal in any encoding, `[v6]`; a `user@` or `:port` is ignored."""
    return _classify_normalized(normalize_host(host))


def normalize_host(host: str) -> str:
    """The host as a client would look it up: percent-decoded, NFKC + IDNA, lowercase, no trailing
    dot, no brackets or IPv6 zone."""
    text = host.strip()
    for _ in range(3):  # double encoding (`%2531`) is decoded by some proxies: decode to a fixed point
        decoded = urllib.parse.unquote(text)
        if decoded == text:
            break
        text = decoded
    # NFKC folds fullwidth digits and dots (fullwidth `127` with ideographic full stops) into ASCII.
    text = unicodedata.normalize("NFKC", text).replace("\u3002", ".").lower()
    text = _strip_userinfo_and_port(text)
    if text.startswith("[") and text.endswith("]") and ":" in text:
        text = text[1:-1]
    text = text.partition("%")[0] if ":" in text else text
    text = text.rstrip(".")
    if not text.isascii():
        try:
            text = text.encode("idna").decode("ascii")
        except (UnicodeError, ValueError):
            pass  # not a valid IDN: classify the Unicode form as a plain name
    return text


_HOSTNAME = re2.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")
_is_host_name = match_tester(_HOSTNAME, whole=True)


def is_hostname(host: str) -> bool:
    """Whether a normalised host is a syntactically valid DNS name or IP literal. A name whose last
    label is a number (`1.2.3.256`) is neither: browsers refuse it, other clients guess."""
    if parse_ip(host) is not None:
        return True
    last = host.rpartition(".")[2]
    ends_in_number = last.isdigit() or (last[:2] == "0x" and all(c in _HEX_DIGITS for c in last[2:]))
    return _is_host_name(host) and not ends_in_number


_HEX_DIGITS = frozenset("0123456789abcdef")


def _strip_userinfo_and_port(text: str) -> str:
    """Callers sometimes pass `user@host:port` where a host is expected: keep only the host."""
    text = text.rpartition("@")[2]
    if text.startswith("[") and "]:" in text:
        return text[: text.index("]:") + 1]
    name, colon, port = text.partition(":")
    return name if colon and ":" not in port and (port.isdigit() or not port) else text


@functools.lru_cache(maxsize=4096)
def _classify_normalized(host: str) -> HostInfo:
    literal = parse_ip(host)
    if literal is not None:
        return _classify_ip(host, literal, non_canonical=str(literal) != host)
    embedded = _ip_in_name(host)
    if embedded is not None:
        return _classify_ip(host, embedded, non_canonical=False)
    if not is_hostname(host):
        return HostInfo(host=host)  # not a resolvable name (a template, a glob): nothing to classify
    loopback = host in _LOOPBACK_NAMES or host in _LOOPBACK_DOMAINS or host.endswith(_LOOPBACK_SUFFIXES)
    metadata = host in _METADATA_NAMES
    # A dotless name resolves through the local search domains, i.e. to an internal host.
    private = loopback or metadata or "." not in host or host.endswith(_PRIVATE_SUFFIXES)
    return HostInfo(host=host, private=private, loopback=loopback, metadata=metadata)


def _classify_ip(host: str, ip: IPAddress, *, non_canonical: bool) -> HostInfo:
    # An IPv6 address can carry an IPv4 one (mapped, 6to4, NAT64, Teredo): the packet goes to that
    # IPv4 address, so it decides the class; the IPv6 wrapper is only transport.
    embedded = _embedded_ipv4(ip)
    addresses: tuple[IPAddress, ...] = (*embedded,) if embedded else (ip,)
    metadata = ip in _METADATA_IPS or any(a in _METADATA_IPS for a in addresses)
    return HostInfo(
        host=host,
        ip=str(ip),
        private=metadata or any(not a.is_global for a in addresses),
        loopback=any(a.is_loopback or a.is_unspecified for a in addresses),
        link_local=any(a.is_link_local for a in addresses),
        metadata=metadata,
        reserved=any(
            (a.is_reserved and not a.is_loopback) or a.is_multicast or a.is_unspecified for a in addresses
        ),
        non_canonical=non_canonical,
    )


def _embedded_ipv4(ip: IPAddress) -> list[ipaddress.IPv4Address]:
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    found = [a for a in (ip.ipv4_mapped, ip.sixtofour) if a is not None]
    if ip.teredo is not None:
        found.extend(ip.teredo)
    # IPv4-compatible `::a.b.c.d` (but `::` and `::1` are IPv6's own) and NAT64 `64:ff9b::a.b.c.d`.
    if 1 < int(ip) < 1 << 32 or ip in _NAT64:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def parse_ip(host: str) -> IPAddress | None:
    """An IP literal in any encoding clients accept, or None for a name."""
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.partition("%")[0])
        except ValueError:
            return None
    return _parse_inet_aton(host)


def _parse_inet_aton(host: str) -> ipaddress.IPv4Address | None:
    """`inet_aton`/WHATWG rules: 1 to 4 parts, each decimal, octal (leading 0) or hex (0x); the last
    part fills the remaining bytes (`127.1` is 127.0.0.1, `2130706433` is 127.0.0.1)."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    numbers = []
    for part in parts:
        number = _parse_number(part)
        if number is None:
            return None
        numbers.append(number)
    *head, last = numbers
    if any(n > 0xFF for n in head) or last >= 1 << (8 * (5 - len(numbers))):
        return None
    value = last
    for index, byte in enumerate(head):
        value |= byte << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _parse_number(part: str) -> int | None:
    if not part:
        return None
    digits, base = part, 10
    if part[:2] in ("0x", "0X"):
        digits, base = part[2:], 16
    elif len(part) > 1 and part[0] == "0":
        digits, base = part[1:], 8
    # Clients accept any number of leading zeros (`000000177.0.0.1`); past 11 significant digits no
    # base can stay below 2**32, so longer parts are refused before int() sees them.
    digits = digits.lstrip("0") or "0"
    if len(digits) > 11 or not digits.isascii() or not digits.isalnum():
        return None
    try:
        return int(digits, base)
    except ValueError:
        return None


def _ip_in_name(host: str) -> IPAddress | None:
    """The address a wildcard-DNS name (`10.0.0.1.nip.io`, `app-10-0-0-1.sslip.io`) resolves to."""
    for suffix in _IP_IN_NAME_SUFFIXES:
        if host.endswith(suffix):
            prefix = host[: -len(suffix)]
            break
    else:
        return None
    labels = prefix.split(".")
    dotted = ".".join(labels[-4:])
    last = labels[-1]
    dashed = ".".join(last.split("-")[-4:])
    candidates = (dotted, dashed, last.rpartition("-")[2])
    for candidate in candidates:
        parts = candidate.split(".")
        if len(parts) == 4 and all(p.isdigit() for p in parts):
            return _parse_inet_aton(candidate)
    hex_form = last.rpartition("-")[2]
    if len(hex_form) == 8:
        try:
            return ipaddress.IPv4Address(int(hex_form, 16))
        except ValueError:
            pass
    try:
        return ipaddress.IPv6Address(last.replace("-", ":"))  # sslip.io spells `::1` as `--1`
    except ValueError:
        return None


# --- allow / deny patterns ----------------------------------------------------------------------------


def host_matches(host: str, pattern: str) -> bool:
    """Whether `host` matches an allow/deny `pattern`: `example.com` (and its subdomains),
    `*.example.com` (subdomains only), `*` (anything), an IP (any encoding of it) or a CIDR range
    (IPv4 ranges also match IPv4 addresses embedded in IPv6)."""
    normalized = normalize_host(host)
    kind, value = _compile_pattern(pattern)
    if kind == "any":
        return True
    if kind in ("ip", "net"):
        ip = parse_ip(normalized)
        if ip is None:
            return False
        addresses = (ip, *_embedded_ipv4(ip))
        if kind == "ip":
            return any(a == value for a in addresses)
        assert isinstance(value, ipaddress.IPv4Network | ipaddress.IPv6Network)
        return any(a.version == value.version and a in value for a in addresses)
    if parse_ip(normalized) is not None:
        return False  # a domain pattern never matches an IP literal
    if kind == "subdomains":
        return normalized.endswith(str(value))
    return normalized == value or normalized.endswith("." + str(value))


PatternValue = str | IPAddress | ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=1024)
def _compile_pattern(pattern: str) -> tuple[str, PatternValue]:
    text = pattern.strip()
    if text == "*":
        return "any", text
    if "/" in text:
        try:
            return "net", ipaddress.ip_network(text.strip("[]"), strict=False)
        except ValueError:
            pass
    if text.startswith("*."):
        return "subdomains", "." + normalize_host(text[2:])
    name = normalize_host(text)
    ip = parse_ip(name)
    if ip is not None:
        return "ip", ip
    return "domain", name


# --- URL analysis -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UrlInfo:
    """One URL as clients would read it. `hosts` holds every host a parser could pick (more than one
    means the URL is ambiguous); `redacted` is safe to log."""

    raw: str
    scheme: str
    hosts: tuple[HostInfo, ...]
    redacted: str
    has_userinfo: bool = False


@dataclass(frozen=True, slots=True)
class RuleFinding:
    """Why a detector flagged its input (shared by the net and SQL analyzers); `verdict` is a
    suggestion the policy may override, `detail` never carries secret values."""

    rule: str
    verdict: str
    severity: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "verdict": self.verdict, "severity": self.severity, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class NetAnalysis:
    urls: tuple[UrlInfo, ...]
    denied: tuple[str, ...] = ()
    not_allowed: tuple[str, ...] = ()
    findings: tuple[RuleFinding, ...] = field(default=())

    @property
    def hosts(self) -> list[HostInfo]:
        return list({h.host: h for u in self.urls for h in u.hosts}.values())

    def to_fact(self) -> dict[str, Any]:
        hosts = self.hosts
        return {
            "urls": [u.redacted for u in self.urls],
            # IP literals appear in canonical form so `"127.0.0.1" in net.hosts` catches `0x7f.1` too.
            "hosts": list(dict.fromkeys(h.ip if _is_literal(h) else h.host for h in hosts)),
            "schemes": list(dict.fromkeys(u.scheme for u in self.urls if u.scheme)),
            "private": any(h.internal for h in hosts),
            "loopback": any(h.loopback for h in hosts),
            "metadata": any(h.metadata for h in hosts),
            "ip_literal": any(_is_literal(h) for h in hosts),
            "denied": list(self.denied),
            "not_allowed": list(self.not_allowed),
            "findings": [f.to_dict() for f in self.findings],
        }


def _is_literal(host: HostInfo) -> bool:
    return host.ip is not None and parse_ip(host.host) is not None


def analyze_urls(urls: Iterable[str], *, allow: Sequence[str] = (), deny: Sequence[str] = ()) -> NetAnalysis:
    """Parse and classify `urls` (as returned by `extract_urls`, or URL arguments), and check their
    hosts against `deny` and, when non-empty, `allow` patterns (see `host_matches`). Never raises."""
    infos = tuple(parse_url(u) for u in urls)  # parse_url is O(len(url)); the loop below checks the budget
    findings: list[RuleFinding] = []
    denied: list[str] = []
    not_allowed: list[str] = []
    for info in infos:
        checkpoint("net: urls")
        findings.extend(_url_findings(info))
        for host in info.hosts:
            if any(host_matches(host.host, p) for p in deny):
                denied.append(host.host)
            elif allow and not any(host_matches(host.host, p) for p in allow):
                not_allowed.append(host.host)
    denied = list(dict.fromkeys(denied))
    not_allowed = list(dict.fromkeys(not_allowed))
    for host_name in denied:
        findings.append(RuleFinding("net.denied", "block", "high", f"host {host_name} is on the deny list"))
    for host_name in not_allowed:
        findings.append(RuleFinding("net.not_allowed", "block", "medium", f"host {host_name} is not allowed"))
    return NetAnalysis(infos, tuple(denied), tuple(not_allowed), tuple(_unique_findings(findings)))


def parse_url(url: str) -> UrlInfo:
    """Split a URL (or scheme-less `host:port/path`, or scp-style `user@host:path`) into its scheme and
    candidate hosts. Whitespace inside is dropped first, as browsers do with tabs and newlines.
    Remembered for URLs up to _MEMO_URL_CHARS (the answer is immutable): the shell rules and the
    `net` fact read the same URLs of a command."""
    return _parsed_url(url) if len(url) <= _MEMO_URL_CHARS else _parse_url(url)


_MEMO_URL_CHARS = 2048


def _parse_url(url: str) -> UrlInfo:
    text = "".join(url.split())
    scp = _SCP.match(text) if "://" not in text else None
    if scp is not None:
        host = _valid_or_masked(classify_host(scp.group(2)))
        return UrlInfo(text, "ssh", (host,), f"***@{host.host}:{_redact_path(scp.group(3))}", True)
    if text[:5].lower() == "jdbc:":
        text = text[5:]
    scheme, rest = _split_scheme(text)
    authorities = {_authority(rest, "/?#"), _authority(rest, "/?#\\")}
    hosts: list[HostInfo] = []
    has_userinfo = False
    for authority in sorted(authorities):
        _, at, hostport = authority.rpartition("@")
        has_userinfo = has_userinfo or bool(at)
        name = _host_of(hostport)
        if name:
            hosts.append(_valid_or_masked(_classify_for_scheme(name, scheme)))
    unique = tuple({h.host: h for h in hosts}.values())
    return UrlInfo(text, scheme, unique, _redact(scheme, rest), has_userinfo)


_parsed_url = functools.lru_cache(maxsize=4096)(_parse_url)


# What stands for a host that is no valid name or IP in facts: such text may be anything the agent
# wrote (a template, a pasted token), so it is never echoed.
INVALID_HOST = "<invalid>"


def _valid_or_masked(host: HostInfo) -> HostInfo:
    return host if is_hostname(host.host) else HostInfo(host=INVALID_HOST)


def _split_scheme(text: str) -> tuple[str, str]:
    match = _SCHEME.match(text)
    if match is not None:
        scheme, slashes = match.group(1).lower(), match.group(2)
        if len(slashes) >= 2 or (scheme in _SPECIAL_SCHEMES and slashes):
            return scheme, text[match.end() :]
    return "", text.removeprefix("//")  # scheme-less `host:port/path`


def _authority(rest: str, delimiters: str) -> str:
    end = len(rest)
    for delimiter in delimiters:
        position = rest.find(delimiter)
        if 0 <= position < end:
            end = position
    return rest[:end]


def _host_of(hostport: str) -> str:
    if hostport.startswith("["):
        return hostport[: hostport.find("]") + 1] if "]" in hostport else hostport
    if hostport.count(":") > 1:
        return hostport  # an unbracketed IPv6 literal: no port can be told apart
    return hostport.partition(":")[0]


def _classify_for_scheme(name: str, scheme: str) -> HostInfo:
    if scheme in _BUCKET_SCHEMES:
        return HostInfo(host=normalize_host(name))  # a bucket name, resolved under the cloud's domain
    return classify_host(name)


# --- redaction: URLs often carry tokens (userinfo, query strings, webhook paths) -------------------------

_TOKEN_LIKE_SEGMENT = 24  # webhook and bot tokens in paths are at least this long


def _redact(scheme: str, rest: str) -> str:
    authority = _authority(rest, "/?#")  # the wider reading, so every possible userinfo is masked
    _, at, hostport = authority.rpartition("@")
    if not is_hostname(normalize_host(_host_of(hostport))):
        hostport = INVALID_HOST
    head = f"{scheme}://" if scheme else ""
    return head + ("***@" if at else "") + hostport + _redact_path(rest[len(authority) :])


def _redact_path(tail: str) -> str:
    path, _, fragment = tail.partition("#")
    path, question, query = path.partition("?")
    segments = [_mask_segment(s) for s in path.split("/")]
    out = "/".join(segments)
    if question:
        pairs = [p.partition("=") for p in query.split("&")]
        out += "?" + "&".join(f"{key}{eq}***" if eq else key for key, eq, _ in pairs)
    if fragment:
        out += "#***"
    return out


def _mask_segment(segment: str) -> str:
    looks_like_token = (
        len(segment) >= _TOKEN_LIKE_SEGMENT
        and any(c.isdigit() for c in segment)
        and any(c.isalpha() for c in segment)
    )
    return "***" if looks_like_token else segment


# --- findings -----------------------------------------------------------------------------------------


def _url_findings(info: UrlInfo) -> list[RuleFinding]:
    found: list[RuleFinding] = []
    if info.scheme in _DANGEROUS_SCHEMES:
        found.append(RuleFinding("net.dangerous_scheme", "block", "high", f"{info.scheme}:// URL"))
    if len(info.hosts) > 1:
        names = ", ".join(h.host for h in info.hosts)
        found.append(
            RuleFinding("net.ambiguous_host", "block", "high", f"parsers disagree on the host: {names}")
        )
    if info.has_userinfo and info.scheme != "ssh":
        found.append(RuleFinding("net.userinfo", "ask", "medium", "URL carries a user:password@ part"))
    for host in info.hosts:
        found.extend(_host_findings(host))
    return found


def _host_findings(host: HostInfo) -> list[RuleFinding]:
    name = host.host
    if host.metadata:
        return [RuleFinding("net.metadata", "block", "critical", f"cloud metadata endpoint {name}")]
    found = []
    if name == INVALID_HOST:
        found.append(RuleFinding("net.invalid_host", "ask", "low", "host is not a valid DNS name or IP"))
    if host.non_canonical:
        found.append(RuleFinding("net.obfuscated_ip", "block", "high", f"IP {host.ip} written as {name}"))
    if host.loopback:
        found.append(RuleFinding("net.loopback", "block", "high", f"loopback host {name}"))
    elif host.link_local:
        found.append(RuleFinding("net.link_local", "block", "high", f"link-local host {name}"))
    elif host.private:
        found.append(RuleFinding("net.private", "ask", "high", f"private network host {name}"))
    elif host.reserved:
        found.append(RuleFinding("net.reserved", "ask", "medium", f"reserved address {name}"))
    return found


def _unique_findings(findings: list[RuleFinding]) -> list[RuleFinding]:
    return list(dict.fromkeys(findings))
