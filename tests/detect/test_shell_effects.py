"""Issue 16: the classes the shell rules missed and the over-blocks removed, one test per class, each with
variants written for these tests (no data set holds them)."""

from __future__ import annotations

import pytest

from railguard.detect.shell import analyze_command

WS, HOME = "/home/user/project", "/home/user"


def verdict(command: str) -> str:
    return analyze_command(command, workspace=WS, home=HOME).verdict


def _cases(expected: str, *commands: str) -> list[tuple[str, str]]:
    return [(c, expected) for c in commands]


MISSED = [
    # kill services or every process of a name with an uncatchable signal
    *_cases(
        "block",
        "killall -9 php-fpm",
        "pkill --signal KILL -f 'celery worker'",
        "kill -SIGKILL $(pidof nginx)",
        "pgrep -f uwsgi | xargs kill -KILL",
        "systemctl kill --signal=SIGKILL redis",
        "fuser -k -KILL 8000/tcp",
    ),
    *_cases("ask", "killall mysqld", "pkill -f gunicorn", "systemctl stop mongod", "supervisorctl stop all"),
    # find with a deleting action, however it is spelled: every match under / or the home dir goes, so a
    # human looks (filtered: `ask`; the workspace: allowed)
    *_cases(
        "ask",
        "find /home/user -name '*.bak' -delete",
        "find ~ -iname '*.mp4' -exec rm {} +",
        "find / -user bob -print0 | xargs -0 rm -rf",
        "find /etc -name '*.rpmsave' -execdir rm -f {} \\;",
        "fd -H . /home/user --exec rm -rf",
    ),
    # forge and registry deletes
    *_cases(
        "block",
        "gh release delete v0.9.1 -y",
        "glab release delete 2.0.0",
        "git push origin --delete v3.1.4",
        "git push upstream :refs/tags/nightly",
        "npm unpublish my-lib@0.0.3",
        "cargo yank --version 2.0.0 mylib",
        "gem yank mygem -v 0.1.0",
        "git push --force origin v2.1.0",
        "git push -f --tags",
        "railguard approvals approve 42",
        "gh repo delete me/scratch --yes",
        "crane delete ghcr.io/me/tool:old",
    ),
    # recursive deletion of top-level data dirs, chmod 777 on system files, authorized_keys
    *_cases(
        "block",
        "rm -rf /srv/app",
        "sudo rm -r /opt/gitea",
        "rm -rf /home/bob",
        "rm -rf /data/warehouse",
        "chmod 777 /etc/hosts",
        "chmod -R a+w /usr/local/bin/../../bin",
        "chmod 4777 /usr/bin/find",
        "cat key.pub >> /home/deploy/.ssh/authorized_keys",
        "echo $KEY | tee -a ~/.ssh/authorized_keys",
    ),
    # cross-cutting effects
    *_cases(
        "block",
        "pnpm config set registry http://10.1.1.1:4873/",
        "pip config set global.index-url http://mirror.local/simple",
        "git config --global url.'https://mirror.example/'.insteadOf 'https://github.com/'",
        "go env -w GOSUMDB=off",
        "export GIT_SSL_NO_VERIFY=1",
        "git -c http.sslVerify=false clone https://host/repo",
        "aws s3api put-object-acl --bucket b --key k --acl public-read",
        "gcloud projects add-iam-policy-binding p --member=user:a@b.c --role=roles/owner",
        "python3 -m http.server 8000 --directory /",
        "fallocate -l 200G /var/tmp/blob",
        "yes > /tmp/x.log",
        "sed -i 's/block/allow/' .claude/settings.local.json",
        "rm -rf ~/.claude",
        "uv pip uninstall railguard",
        "cp /dev/null railguard.yaml",
        "RAILGUARD_MODE=off claude",
        "wget -q -O - http://0xA9FEA9FE/latest/meta-data/",
    ),
    *_cases(
        "ask",
        "ip link set wlan0 down",
        "nmcli networking off",
        "ngrok http 3000",
        "kubectl apply -f prod.yaml",
        "stripe refunds create --charge ch_1",
        "sudo apt-get remove -y libc6",
        "sudo zypper rm 'python3*'",
        "npm rm --global pnpm",
        "uv pip install --index-url https://pkgs.example.com/simple x",
    ),
]

OVER_BLOCKS = [
    # dry runs, help, version, status
    "terraform destroy -help",
    "helm delete mychart --dry-run",
    "kubectl delete -f x.yaml --dry-run=server",
    "aws s3 rm s3://b --recursive --dryrun",
    "rsync -an --delete src/ /srv/www/",
    "git push -n --force origin main",
    "gh repo delete --help",
    "pulumi destroy --help",
    "npm unpublish --help",
    "mkfs.xfs --version",
    "ansible-playbook -i production teardown.yml --check",
    "systemctl status postgresql",
    "docker --version",
    # disk tools on image files
    "mkfs.ext4 -F build/root.img",
    "mkswap /tmp/swap.img",
    "wipefs --all out/disk.raw",
    "mkfs.fat -C efi.img 32768",
    # text that is not a command, valid bash
    "<Ctrl-D>",
    "<Shift+Tab>",
    "",
    "{ date; uptime; } | tee report.txt",
    "{ make 2>&1; } | grep -i error",
    # words that look like secret files
    "cat people.json | jq .identity",
    "./identity | head",
    # everyday reads of vendor CLIs, local toolchains
    "gcloud logging read 'severity>=ERROR' --limit 5",
    "aws sts get-caller-identity",
    "kubectl get events -A",
    "gh run view 123 --log",
    "helm history api",
    "npm ci && npm run build",
    "cargo run --release",
    "uv run pytest",
    "docker compose logs -f web",
    "pip install --index-url https://pypi.org/simple requests",
    "python3 -m http.server 8080",
    "fd -e tmp -x rm",
    "sudo apt remove cowsay",
    "brew uninstall wget2",
    "echo http://169.254.169.254/latest",
    "jobs -p | xargs kill -9",
    "find . -name '*.orig' -delete",
    "kill -TERM 4242",
    "git config core.hooksPath .githooks",
]


@pytest.mark.parametrize(("command", "expected"), MISSED, ids=[c for c, _ in MISSED])
def test_missed_class_is_stopped(command: str, expected: str) -> None:
    assert verdict(command) == expected, analyze_command(command, workspace=WS, home=HOME).to_fact()[
        "findings"
    ]


@pytest.mark.parametrize("command", OVER_BLOCKS)
def test_over_block_class_runs(command: str) -> None:
    assert verdict(command) == "allow", analyze_command(command, workspace=WS, home=HOME).to_fact()[
        "findings"
    ]


def test_read_only_flags_do_not_hide_a_real_run() -> None:
    assert verdict("kubectl delete ns prod --dry-run=none") == "block"
    assert verdict("helm install --version 1.2.3 app ./chart -n prod") == "ask"
    assert verdict("rm -rf / --no-preserve-root") == "block"
    assert verdict("npm unpublish left-pad --list") == "block"  # npm takes unknown flags as config
