"""Path facts are pure string work: resolution, secret kinds, system paths, workspace escapes."""

from __future__ import annotations

import pytest

from railguard.detect.paths import analyze_paths, is_system_path, resolve_path, secret_path_kind

WS = "/home/user/project"
HOME = "/home/user"


@pytest.mark.parametrize(
    ("raw", "resolved"),
    [
        ("~/.ssh/id_rsa", "/home/user/.ssh/id_rsa"),
        ("$HOME/.aws/credentials", "/home/user/.aws/credentials"),
        ("${HOME}/x", "/home/user/x"),
        ("~", "/home/user"),
        ("src/../README.md", "/home/user/project/README.md"),
        ("../../etc/passwd", "/home/etc/passwd"),
        ("./a//b/./c", "/home/user/project/a/b/c"),
        ("/etc/../etc/shadow", "/etc/shadow"),
        ("//etc", "/etc"),
        ("~root/.bashrc", "/root/.bashrc"),
        ("~alice/notes", "/home/alice/notes"),
    ],
)
def test_resolve_path(raw: str, resolved: str) -> None:
    assert resolve_path(raw, workspace=WS, home=HOME) == resolved


def test_resolve_without_context_keeps_symbolic_home_and_relative_paths() -> None:
    assert resolve_path("~/.ssh/id_rsa") == "~/.ssh/id_rsa"
    assert resolve_path("a/../b") == "b"
    assert resolve_path("../x") == "../x"


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/home/u/.ssh/id_rsa", "ssh_key"),
        ("~/.ssh/id_ed25519", "ssh_key"),
        ("/home/u/.ssh/id_rsa.pub", None),
        ("/home/u/.ssh/known_hosts", "ssh_known_hosts"),
        ("/home/u/.aws/credentials", "aws_credentials"),
        ("/home/u/.aws/config", "aws_config"),
        (".env", "dotenv"),
        ("config/.env.production", "dotenv"),
        (".env.local", "dotenv"),
        (".env.example", None),
        (".env.sample", None),
        (".env.template", None),
        ("/home/u/.kube/config", "kubeconfig"),
        ("kubeconfig", "kubeconfig"),
        ("/etc/shadow", "shadow"),
        ("/etc/gshadow", "shadow"),
        ("certs/server.pem", "private_key"),
        ("tls/site.key", "private_key"),
        ("key.pem", "private_key"),
        ("cert-and-key.pem", "private_key"),
        ("privkey.pem", "private_key"),
        ("pca-cert.pem", None),
        ("ec_param.pem", None),
        ("/etc/letsencrypt/live/x/fullchain.pem", None),
        ("ca.pem", None),
        ("pubkey.pem", None),
        ("/etc/ssl/private/cert.pem", "private_key"),
        ("/home/u/.netrc", "netrc"),
        ("/home/u/.pgpass", "pgpass"),
        ("/home/u/.npmrc", "npmrc"),
        ("/home/u/.pypirc", "pypirc"),
        ("/home/u/.docker/config.json", "docker_config"),
        ("/home/u/.config/gcloud/application_default_credentials.json", "gcloud_credentials"),
        ("infra/terraform.tfstate", "terraform_state"),
        ("/home/u/.git-credentials", "git_credentials"),
        ("/home/u/.config/google-chrome/Default/Login Data", "browser_store"),
        ("/proc/1/environ", "process_environ"),
        ("/home/u/.ssh/*", "ssh_dir"),
        ("README.md", None),
        ("/etc/passwd", None),
        ("src/config.json", None),
    ],
)
def test_secret_path_kind(path: str, kind: str | None) -> None:
    assert secret_path_kind(path) == kind


@pytest.mark.parametrize(
    ("path", "system"),
    [("/", True), ("/etc/hosts", True), ("/usr/bin/python3", True), ("/boot", True), ("/dev/sda", True),
     ("/home", True), ("/home/user/x", False), ("/tmp/x", False), ("/var/tmp/y", False), ("/dev/null", False),
     ("relative/path", False), ("/var/log/syslog", True)],
)  # fmt: skip
def test_is_system_path(path: str, system: bool) -> None:
    assert is_system_path(path) is system


def test_analyze_paths_reports_escape_secrets_and_writes() -> None:
    result = analyze_paths(
        ["src/app.py", "../../etc/passwd", "~/.aws/credentials", "/tmp/out", "/dev/null"],
        workspace=WS,
        home=HOME,
        write=True,
    )
    fact = result.to_fact()
    assert set(fact) == {
        "paths",
        "secret",
        "outside_workspace",
        "traversal",
        "system",
        "writes_outside_workspace",
    }
    assert fact["paths"][0] == "/home/user/project/src/app.py"
    assert fact["traversal"] is True
    assert {"path": "/home/user/.aws/credentials", "kind": "aws_credentials"} in fact["secret"]
    assert "/home/etc/passwd" in fact["outside_workspace"] and "/tmp/out" in fact["outside_workspace"]
    assert "/dev/null" not in fact["outside_workspace"]
    assert fact["writes_outside_workspace"] is True


def test_analyze_paths_inside_workspace_is_quiet() -> None:
    fact = analyze_paths(
        ["src/a.py", "./docs/b.md", "src/../c"], workspace=WS, home=HOME, write=True
    ).to_fact()
    assert fact["outside_workspace"] == [] and fact["secret"] == [] and fact["system"] == []
    assert fact["traversal"] is False and fact["writes_outside_workspace"] is False


def test_traversal_inside_the_workspace_is_not_an_escape() -> None:
    assert analyze_paths(["src/../lib/x"], workspace=WS, home=HOME, write=False).traversal is False
    assert analyze_paths(["../x"], workspace=None, home=None, write=False).traversal is True


def test_reading_outside_is_not_a_write() -> None:
    fact = analyze_paths(["/etc/hosts"], workspace=WS, home=HOME, write=False).to_fact()
    assert fact["system"] == ["/etc/hosts"] and fact["writes_outside_workspace"] is False


def test_a_workspace_under_a_system_root_is_not_system() -> None:
    inside = analyze_paths(["/srv/app/src/main.py"], workspace="/srv/app", home="/root", write=True)
    assert inside.to_fact()["system"] == []
    outside = analyze_paths(["/srv/other/x", "/etc/hosts"], workspace="/srv/app", home="/root", write=True)
    assert outside.to_fact()["system"] == ["/srv/other/x", "/etc/hosts"]
    everywhere = analyze_paths(["/etc/hosts"], workspace="/", home="/root", write=True)
    assert everywhere.to_fact()["system"] == ["/etc/hosts"]
