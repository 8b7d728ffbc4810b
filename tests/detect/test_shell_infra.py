"""Infrastructure services an ops agent administers (issue 16, round 9; the tenth brief corpus found these
kinds allowed): storage pools and volumes, hypervisors and private clouds, HA clusters, routing daemons, load
balancers and virtual IPs, traffic shaping, firewall sets, DHCP and network authentication, HPC schedulers and
GPUs, shared environments, mail and telephony servers, observability backends, backup retention and service
meshes. None of these lines is in a benchmark corpus: they check the class, not the listed example; each class
also keeps its everyday look-alikes."""

from __future__ import annotations

import pytest
from shell_verdicts import rules, verdict

from railguard.detect.shell import analyze_command
from railguard.detect.shell._catalogue import CatalogueError, with_more_clis
from railguard.detect.shell._rules_infra import TABLE_NAMES, allowed_examples, infra_effects

RANK = {"allow": 0, "ask": 1, "block": 2}
EXAMPLES = [
    (effect.rule, effect.verdict, command) for effect in infra_effects() for command in effect.examples
]


def test_the_table_loads_and_registers_every_program_it_names() -> None:
    assert len(infra_effects()) >= 60
    assert [e.rule for e in infra_effects() if not e.examples] == []
    assert sorted({n for e in infra_effects() for n in e.names}) == sorted(TABLE_NAMES)


@pytest.mark.parametrize(("rule", "expected", "command"), EXAMPLES, ids=[c for _, _, c in EXAMPLES])
def test_example_is_stopped_by_its_entry(rule: str, expected: str, command: str) -> None:
    analysis = analyze_command(command, workspace="/home/u/app", home="/home/u")
    assert rule in {f.rule for f in analysis.findings}
    assert RANK[analysis.verdict] >= RANK[expected]


@pytest.mark.parametrize("command", allowed_examples())
def test_everyday_look_alike_is_allowed(command: str) -> None:
    assert verdict(command) == "allow", rules(command)


def test_a_cli_in_both_catalogue_files_fails_at_load() -> None:
    main = {"verbs": {}, "blast": {}, "clis": {"ceph": {"kind": "remote"}}}
    with pytest.raises(CatalogueError, match="ceph"):
        with_more_clis(main, {"clis": {"ceph": {"kind": "remote"}}})
    merged = with_more_clis(main, {"clis": {"rbd": {"kind": "remote"}}})
    assert sorted(merged["clis"]) == ["ceph", "rbd"] and sorted(main["clis"]) == ["ceph"]


@pytest.mark.parametrize(
    ("command", "expected", "rule"),
    [
        # storage: datasets, volumes, filesystems, clusters, targets, object stores
        ("zfs rollback -R pool/vms@nightly", "block", "storage-rollback"),
        ("zfs destroy pool/logs@%", "block", "storage-destroy"),
        ("zfs set sync=disabled pool/pg", "block", "storage-integrity-off"),
        ("zfs set atime=off pool/pg", "allow", None),
        ("lvconvert --mergesnapshot vg1/home_snap", "block", "volume-merge-split"),
        ("lvresize --size -2G vg1/srv", "block", "volume-shrink"),
        ("lvresize -r -L -2G vg1/srv", "allow", None),
        ("btrfs rescue super-recover /dev/sdd1", "block", "filesystem-repair"),
        ("btrfs balance start -mconvert=dup /data", "block", "storage-redundancy-cut"),
        ("btrfs balance status /data", "allow", None),
        ("ceph osd pool set images min_size 0", "block", "storage-safeguard-off"),
        ("ceph osd pool delete images images --yes-i-really-really-mean-it", "block", "vendor-destroy"),
        ("ceph health detail", "allow", None),
        ("rbd snap purge images/base", "block", "vendor-destroy"),
        ("radosgw-admin bucket list", "allow", None),
        ("gluster volume delete archive", "block", "vendor-destroy"),
        ("targetcli /iscsi delete iqn.2003-01.org.linux-iscsi.nas:sn.1", "block", "storage-target-delete"),
        ("mc admin user disable minio-prod ci", "block", "object-store-admin"),
        ("mc anonymous set download minio-prod/private", "block", "bucket-public"),
        # hypervisors and private clouds
        ("pvesh create /nodes/pve2/suspendall", "block", "vm-stop-all"),
        ("pvecm expected 2", "block", "vendor-destroy"),
        ("pct stop 305 --skiplock 1", "block", "vm-lock-override"),
        ("openstack role add --group contractors --domain default admin", "block", "cloud-admin-grant"),
        ("openstack security group rule create --remote-ip ::/0 web", "block", "cloud-open-ingress"),
        (
            "openstack security group rule create --remote-ip 0.0.0.0/0 --dst-port 443 web",
            "ask",
            "vendor-sensitive",
        ),
        ("govc vm.power -off -force /DC2/vm/*", "block", "hypervisor-admin"),
        ("govc host.maintenance.enter esx-07", "ask", "hypervisor-change"),
        ("govc vm.info web-01", "allow", None),
        (
            "for vm in $(virsh list --name --state-running); do virsh destroy $vm; done",
            "block",
            "every-guest-stop",
        ),
        (
            "openstack server list -f value -c ID | xargs -n1 openstack server stop",
            "block",
            "every-guest-stop",
        ),
        ("virsh destroy web-01", "ask", "vm-destroy"),
        ("lxc config set ci security.privileged=true", "block", "container-host-exposure"),
        ("incus storage volume delete fast scratch", "block", "container-storage-delete"),
        ("xe vm-suspend --multiple", "block", "vm-stop-all"),
        ("vagrant destroy", "allow", None),
        # HA clusters
        ("pcs property set no-quorum-policy=freeze", "block", "ha-safeguard-off"),
        ("pcs stonith disable --all", "block", "ha-safeguard-off"),
        ("corosync-quorumtool -e 2", "block", "ha-safeguard-off"),
        ("pcs resource status", "allow", None),
        # routing daemons, load balancers, VIPs, shaping, firewall sets
        ("vtysh -c 'clear bgp ipv4 unicast *'", "block", "service-console"),
        (
            "vtysh -c 'configure terminal' -c 'router ospf' -c 'no network 10.0.0.0/8 area 0'",
            "ask",
            "service-console",
        ),
        ("vtysh -c 'show ip route'", "allow", None),
        ("birdc restart all", "block", "service-console"),
        ("birdc show route", "allow", None),
        (
            "echo 'disable frontend https-in' | socat stdio unix-connect:/run/haproxy.sock",
            "block",
            "service-console",
        ),
        ("echo 'show info' | socat stdio /run/haproxy.sock", "allow", None),
        ("curl -X POST http://10.0.0.5:9901/drain_listeners", "block", "service-admin-api"),
        ("curl -s http://10.0.0.5:9901/stats", "allow", None),
        ("ipvsadm --delete-service -u 10.0.0.100:53", "block", "lb-table-delete"),
        ("arping -U -I bond0 172.16.0.10", "block", "address-takeover"),
        ("tc qdisc add dev enp3s0 root netem duplicate 40%", "block", "traffic-impairment"),
        ("tc qdisc add dev lo root netem delay 100ms", "allow", None),
        ("nft add element ip filter trusted { ::/0 }", "block", "firewall-open"),
        ("ipset -X", "block", "firewall-open"),
        # DHCP and network authentication
        ("dnsmasq -F 172.16.0.100,172.16.0.200 -i eth1", "block", "dhcp-server-start"),
        (
            'echo \'{"command": "lease6-wipe"}\' | socat UNIX:/tmp/kea6-ctrl-socket -',
            "block",
            "service-console",
        ),
        ("ipa pwpolicy-mod admins --minlength=0", "block", "network-auth-open"),
        ("ipa user-find --login=alice", "allow", None),
        # HPC schedulers and GPUs
        (
            "scontrol create res starttime=now duration=unlimited nodes=ALL users=me",
            "block",
            "scheduler-policy",
        ),
        ("sacctmgr -i modify qos long set MaxJobs=0", "block", "scheduler-policy"),
        ("qmgr -c 'delete queue batch'", "block", "service-console"),
        ("qmgr -c 'print server'", "allow", None),
        ("nvidia-smi mig -dgi -gi 1", "block", "gpu-sharing-change"),
        (
            "nvidia-smi --query-compute-apps=pid --format=csv,noheader | xargs kill",
            "block",
            "gpu-process-kill",
        ),
        ("fuser -v /dev/nvidia0", "allow", None),
        # shared environments
        ("micromamba env remove -p /software/envs/rapids -y", "block", "shared-env-remove"),
        ("sudo pip freeze | sudo xargs pip uninstall -y", "block", "uninstall-everything"),
        ("pip freeze | xargs pip uninstall -y", "ask", "packages-mass-removed"),
        ("conda env list | awk '{print $1}' | xargs -n1 conda env remove -y -n", "block", "every-guest-stop"),
        # mail, telephony, observability, backups, meshes
        ("postconf -e 'smtp_tls_security_level = none'", "block", "mail-delivery-off"),
        ("exiqgrep -i | xargs exim -Mrm", "block", "mail-queue-all"),
        ("exiqgrep -i -f spammer@example.net | xargs exim -Mrm", "ask", "mail-queue-delete"),
        ("asterisk -rx 'core restart now'", "block", "service-console"),
        ("asterisk -rx 'channel originate Local/100@internal application Echo'", "allow", None),
        (
            'while read n; do asterisk -rx "channel originate PJSIP/$n@trunk application Playback hello"; done < list',
            "block",
            "service-console",
        ),
        ("fs_cli -x 'fsctl shutdown'", "block", "service-console"),
        ("echo 'prune files volume=Inc-0042 yes' | bconsole", "block", "service-console"),
        ("echo 'status dir' | bconsole", "allow", None),
        (
            "curl -X DELETE -H 'Authorization: Bearer t' https://grafana.internal/api/orgs/3",
            "block",
            "service-admin-api",
        ),
        (
            'curl -X PATCH -u admin:pw https://grafana.internal/api/org/users/4 -d \'{"role":"Admin"}\'',
            "block",
            "service-admin-grant",
        ),
        ("curl -X POST http://prometheus:9090/-/reload", "ask", "api-change"),
        ("cortextool alertmanager delete --id=t2", "block", "vendor-destroy"),
        (
            "thanos tools bucket cleanup --delete-delay=0 --objstore.config-file=o.yml",
            "block",
            "metrics-blocks-delete",
        ),
        ("restic forget --keep-within 12h --prune", "block", "backup-retention-cut"),
        ("borg prune --keep-last 1 /backups/repo", "block", "backup-retention-cut"),
        ("restic forget --keep-daily 7 --prune", "ask", "backup-delete"),
        ("restic forget --keep-within 30d --prune", "ask", "backup-delete"),
        ("velero schedule delete nightly --confirm", "block", "vendor-destroy"),
        ("kubectl label ns payments istio.io/rev-", "block", "mesh-protection-off"),
        ("istioctl x uninstall --purge", "block", "mesh-uninstall"),
        (
            "kubectl apply -f - <<'EOF'\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\n"
            'metadata:\n  name: off\n  namespace: payments\nspec:\n  mtls:\n    mode: "DISABLE"\nEOF',
            "block",
            "mesh-protection-off",
        ),
        ("kubectl get peerauthentication -A", "allow", None),
        ("consul intention create -allow web '*'", "block", "mesh-allow-all"),
        ("consul intention check web db", "allow", None),
    ],
)
def test_infra_class(command: str, expected: str, rule: str | None) -> None:
    assert verdict(command) == expected, rules(command)
    if rule is not None:
        assert rule in rules(command)
