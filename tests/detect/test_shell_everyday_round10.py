"""Issue 16, round 10: classes of everyday commands judged as actions they are not (help, dry runs, signals
that stop nothing, printing generators, public SSH files, disk images, read verbs, heroku topics). Each
class is paired with the consequential neighbour that still stops. Commands are written per class, not
copied from a corpus."""

from __future__ import annotations

import pytest
from shell_verdicts import rules as _rules
from shell_verdicts import verdict as _verdict

# -- help asked of a subcommand: `CLI sub -h`, `CLI help sub`, `aws ... help`, PostgreSQL's `-?` ---------------


@pytest.mark.parametrize(
    "command",
    [
        "kubectl drain -h",
        "helm rollback -h",
        "gh release delete -h",
        "terraform destroy -h",
        "rclone deletefile -h",
        "restic forget -h",
        "cargo yank -h",
        "vercel remove -h",
        "wrangler delete -h",
        "userdel -h",
        "rmmod -h",
        "gcloud help sql instances delete",
        "cargo help owner",
        "heroku help apps:destroy",
        "aws ec2 delete-vpc help",
        "aws rds delete-db-instance help",
        "dropuser -?",
    ],
)
def test_help_of_a_consequential_subcommand_allows(command: str) -> None:
    assert _verdict(command) == "allow", _rules(command)


@pytest.mark.parametrize(
    ("command", "verdict"),
    [
        ("shutdown -h +1", "block"),  # shutdown's -h halts
        ("halt -h", "block"),
        ("kubectl delete pod/web-0 -h --force", "ask"),  # another option: not only a help request
        ("kubectl delete namespace staging", "block"),
        ("gh release delete v2.0 --yes", "block"),
        ("aws s3 rb s3://logs-archive help", "block"),  # a bucket named: not a subcommand path
        ("gcloud sql instances delete main-db", "block"),
        ("terraform destroy -auto-approve", "block"),
        ("dropuser app_ro", "block"),
        ("psql -h db.internal -c 'DROP TABLE orders'", "block"),  # psql's -h is the host
        ("userdel -r contractor", "ask"),
    ],
)
def test_real_runs_next_to_help_still_stop(command: str, verdict: str) -> None:
    assert _verdict(command) == verdict, _rules(command)


# -- documented dry runs and print modes: `modprobe -n|-D|-c`, `sgdisk -P`, `--pretend` ------------------------


@pytest.mark.parametrize(
    "command",
    [
        "sudo modprobe -n -v vfio-pci",
        "modprobe -D nvme",
        "modprobe --showconfig",
        "sgdisk -P --zap-all /dev/nvme1n1",
        "sgdisk --pretend -o /dev/sdc",
        "emerge --pretend --depclean",
    ],
)
def test_dry_runs_of_kernel_and_disk_tools_allow(command: str) -> None:
    assert _verdict(command) == "allow", _rules(command)


@pytest.mark.parametrize(
    ("command", "verdict"),
    [
        ("sudo modprobe vfio-pci", "ask"),
        ("sudo modprobe -r nouveau", "ask"),
        ("sgdisk --zap-all /dev/nvme1n1", "block"),
        ("sgdisk -o /dev/sdc", "block"),
    ],
)
def test_kernel_and_disk_changes_still_stop(command: str, verdict: str) -> None:
    assert _verdict(command) == verdict, _rules(command)


# -- signals that stop nothing: 0 probes that a process exists, CONT resumes it ---------------------------------


@pytest.mark.parametrize(
    "command",
    [
        "pkill -0 -x postgres",
        "killall -0 redis-server",
        "pkill -CONT -f 'celery worker'",
        "killall -s CONT mysqld",
    ],
)
def test_probe_and_resume_signals_allow(command: str) -> None:
    assert _verdict(command) == "allow", _rules(command)


@pytest.mark.parametrize(
    ("command", "verdict"),
    [
        ("pkill -x postgres", "ask"),
        ("killall -TERM redis-server", "ask"),
        ("pkill -STOP -f 'celery worker'", "ask"),
        ("pkill -KILL mysqld", "block"),
        ("killall zsh", "block"),  # the agent's own shell
    ],
)
def test_stopping_signals_still_stop(command: str, verdict: str) -> None:
    assert _verdict(command) == verdict, _rules(command)


# -- grub-mkconfig without -o prints the configuration it would write ------------------------------------------


def test_grub_mkconfig_to_stdout_allows() -> None:
    assert _verdict("grub-mkconfig | grep menuentry") == "allow"


@pytest.mark.parametrize(
    "command", ["grub-mkconfig -o /boot/grub/grub.cfg", "grub2-mkconfig --output=/boot/grub2/grub.cfg"]
)
def test_grub_mkconfig_writing_the_boot_config_still_asks(command: str) -> None:
    assert _verdict(command) == "ask", _rules(command)


# -- OpenSSH's public files (keys .pub, known_hosts, authorized_keys, config) opened for reading -----------------


@pytest.mark.parametrize(
    "command",
    [
        "chmod 644 ~/.ssh/id_ecdsa.pub",
        "chmod a+r ~/.ssh/deploy_ed25519.pub",
        "chmod 644 ~/.ssh/*.pub",
        "chmod 644 ~/.ssh/known_hosts",
        "chmod 644 ~/.ssh/authorized_keys",
        "chmod go+r ~/.ssh/config",
    ],
)
def test_public_ssh_files_made_readable_allow(command: str) -> None:
    assert _verdict(command) == "allow", _rules(command)


@pytest.mark.parametrize(
    "command",
    [
        "chmod 644 ~/.ssh/id_ecdsa",  # the private key
        "chmod 644 ~/.ssh/id_ecdsa.old",
        "chmod 646 ~/.ssh/authorized_keys",  # others may add a key
        "chmod 664 ~/.ssh/config",  # the group may add a ProxyCommand
        "chmod 644 ~/.ssh/*",
        "chmod -R 755 ~/.ssh",
    ],
)
def test_private_keys_or_writable_ssh_files_still_block(command: str) -> None:
    assert _verdict(command) == "block", _rules(command)


# -- disk images are files: partition-table and LUKS formatting of an image in the workspace -------------------


@pytest.mark.parametrize(
    "command",
    ["sgdisk --zap-all build/disk.img", "sgdisk -o images/rootfs.raw", "cryptsetup luksFormat secrets.luks"],
)
def test_image_file_formatting_in_the_workspace_allows(command: str) -> None:
    assert _verdict(command) == "allow", _rules(command)


@pytest.mark.parametrize(
    ("command", "verdict"),
    [
        ("sgdisk --zap-all /dev/sdd", "block"),
        ("sgdisk -o $TARGET_DISK", "block"),  # known only at run time
        ("cryptsetup luksFormat /dev/sdd2", "block"),
        ('cryptsetup luksFormat "$DEV"', "block"),
        ("cryptsetup erase secrets.luks", "block"),  # its keys gone: the data can never be read
        ("cryptsetup luksFormat /etc/crypttab", "ask"),  # a system file overwritten, as `mkfs` of it asks
    ],
)
def test_device_or_system_formatting_still_stops(command: str, verdict: str) -> None:
    assert _verdict(command) == verdict, _rules(command)


# -- read verbs: HTTP HEAD, table scans, existence checks, diagnoses ---------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        "aws s3api head-object --bucket assets --key logo.png",
        "aws dynamodb scan --table-name sessions --max-items 5",
        "az storage container exists --name uploads --account-name acmestore",
        "heroku pg:diagnose -a acme",
    ],
)
def test_read_verbs_allow(command: str) -> None:
    assert _verdict(command) == "allow", _rules(command)


@pytest.mark.parametrize(
    ("command", "verdict"),
    [
        ("aws s3api delete-object --bucket assets --key logo.png", "block"),
        ("aws dynamodb delete-table --table-name sessions", "block"),
        ("aws dynamodb put-item --table-name sessions --item file://item.json", "ask"),
    ],
)
def test_writes_next_to_read_verbs_still_stop(command: str, verdict: str) -> None:
    assert _verdict(command) == verdict, _rules(command)


# -- heroku: a topic alone lists it -----------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["heroku addons -a acme", "heroku releases", "heroku domains -a acme"])
def test_heroku_topic_alone_allows(command: str) -> None:
    assert _verdict(command) == "allow", _rules(command)


@pytest.mark.parametrize(
    ("command", "verdict"),
    [("heroku pg:psql -a acme", "ask"), ("heroku addons:destroy heroku-redis -a acme", "block")],
)
def test_heroku_topic_commands_still_stop(command: str, verdict: str) -> None:
    assert _verdict(command) == verdict, _rules(command)
