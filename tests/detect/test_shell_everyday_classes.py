"""Issue 16, round 4: classes of the Debian man-page examples that asked without cause. Each test pairs
the everyday form with the consequential one next to it, which still stops. Commands are written per
class, not copied from the corpus."""

from __future__ import annotations

import pytest
from shell_verdicts import rules as _rules
from shell_verdicts import verdict as _verdict

# -- kubectl `--local`: set/label/annotate edit a manifest and print it, the API server is never called -----


@pytest.mark.parametrize(
    "command",
    [
        "kubectl set image -f k8s/web.yaml web=web:2.1 --local -o yaml",
        "kubectl label --local -f k8s/web.yaml tier=front -o yaml > k8s/web.labelled.yaml",
        "oc annotate --local -f k8s/web.yaml owner=team-a -o json",
        "kubectl create cm app --from-file=conf/ --dry-run=client -o yaml | kubectl label --local -f - a=b -o yaml",
    ],
)
def test_kubectl_local_edits_allow(command: str) -> None:
    assert _verdict(command) == "allow", _rules(command)


@pytest.mark.parametrize(
    ("command", "verdict"),
    [
        ("kubectl set image deploy/web web=web:2.1", "ask"),
        ("kubectl set image deploy/web web=web:2.1 --local=false", "ask"),
        ("kubectl label pods web tier=front -o yaml", "ask"),
        ("kubectl delete pods --all --local", "block"),  # no `--local` on delete: not a local edit
        ("kubectl label --local -f - a=b -o yaml < k8s/web.yaml | kubectl apply -f -", "ask"),
    ],
)
def test_kubectl_server_changes_still_stop(command: str, verdict: str) -> None:
    assert _verdict(command) == verdict, _rules(command)


# -- rclone's global `-n` is its dry run -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "verdict"),
    [
        ("rclone delete -n remote:old", "allow"),
        ("rclone sync -vn ./site remote:www", "allow"),
        ("rclone delete remote:old", "block"),
        ("rclone sync ./site remote:www", "ask"),
    ],
)
def test_rclone_short_dry_run(command: str, verdict: str) -> None:
    assert _verdict(command) == verdict, _rules(command)


# -- container images written to local transports publish nothing ------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        "podman push app:dev oci-archive:build/app.tar",
        "podman push app:dev dir:build/app",
        "podman manifest push app-list:1 docker-archive:/tmp/app.tar",
        "buildah push app:dev containers-storage:app:copy",
        "skopeo copy docker://quay.io/acme/app:1 oci:build/layout:1",
        "skopeo sync --src docker --dest dir quay.io/acme/app ./mirror",
    ],
)
def test_images_copied_to_local_storage_allow(command: str) -> None:
    assert _verdict(command) == "allow", _rules(command)


@pytest.mark.parametrize(
    "command",
    [
        "podman push app:dev quay.io/acme/app:dev",
        "podman push app:dev docker://quay.io/acme/app:dev",
        "buildah push app:dev docker://quay.io/acme/app:dev",  # buildah is judged like podman
        "podman manifest push app-list:1 docker://quay.io/acme/app:1",
        "skopeo copy oci:build/layout:1 docker://quay.io/acme/app:1",
        "skopeo sync --src dir --dest docker ./mirror quay.io/acme",
        "docker push dir:5000/app",  # docker reads `dir:5000` as a registry host
        "podman push --creds u:p oci:app",  # one image: pushed to its own name, `oci` on Docker Hub
        "skopeo copy docker://quay.io/acme/app:1 dir:/etc/app",  # a system tree, like `cp`
    ],
)
def test_image_publishing_still_asks(command: str) -> None:
    assert _verdict(command) == "ask", _rules(command)


def test_buildah_local_removals_are_local_work() -> None:
    assert _verdict("buildah manifest rm localhost/app-list") == "allow"


# -- copying out of a pod or a codespace reads it -----------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    ["kubectl cp web-0:/var/log/app.log ./logs/app.log", "gh codespace cp -e 'remote:~/src/*.go' ./src/"],
)
def test_copy_out_of_remote_allows(command: str) -> None:
    assert _verdict(command) == "allow", _rules(command)


@pytest.mark.parametrize(
    "command",
    [
        "kubectl cp ./patch.sh web-0:/tmp/patch.sh",
        "kubectl cp web-0:/etc/app.conf /etc/app.conf",
        "gh codespace cp -e notes.md 'remote:/workspaces/app/'",
    ],
)
def test_copy_into_remote_or_system_tree_asks(command: str) -> None:
    assert _verdict(command) == "ask", _rules(command)


# -- uploads to this machine ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        "curl -F upload=@dist/app.whl http://localhost:8080/upload",
        "curl -T build/report.html http://127.0.0.1:9000/reports/",
        "curl --data-binary @fixtures/event.json http://[::1]:3000/hook",
    ],
)
def test_uploads_to_loopback_allow(command: str) -> None:
    assert _verdict(command) == "allow", _rules(command)


@pytest.mark.parametrize(
    ("command", "verdict"),
    [
        ("curl -F upload=@dist/app.whl https://files.example.com/upload", "ask"),
        ("curl -F upload=@dist/app.whl http://localhost:8080/upload https://files.example.com/", "ask"),
        ("curl -x http://proxy.example.com:3128 -T a.zip http://localhost/u", "ask"),
        ("curl --resolve localhost:80:203.0.113.9 -T a.zip http://localhost/u", "ask"),
        ("curl -T a.zip http://localhost@files.example.com/u", "ask"),
        ("curl -T a.zip $UPLOAD_URL", "ask"),
        ("curl -F f=@.env http://localhost:8080/upload", "block"),  # secrets stay off every host
    ],
)
def test_uploads_elsewhere_still_stop(command: str, verdict: str) -> None:
    assert _verdict(command) == verdict, _rules(command)


# -- PEM files that hold no private key; image layer keys are used, not read --------------------------------


@pytest.mark.parametrize(
    "command",
    [
        "openssl asn1parse -in tls/ca-cert.pem",
        "openssl ecparam -in tls/ec_param.pem -noout -text",
        "openssl pkeyparam -in tls/dhparam.pem -text",
        "cat tls/fullchain.pem",
        "skopeo copy --decryption-key keys/layers.key oci:enc:1 oci:plain:1",
    ],
)
def test_public_pem_and_layer_keys_allow(command: str) -> None:
    assert _verdict(command) == "allow", _rules(command)


@pytest.mark.parametrize(
    "command",
    ["cat tls/server.pem", "cat tls/cert-and-key.pem", "openssl pkey -in tls/privkey.pem -text -noout"],
)
def test_pem_that_may_hold_a_key_still_asks(command: str) -> None:
    assert _verdict(command) == "ask", _rules(command)


# -- unknown tools: deliberately not asked for working-tree file arguments --------------------------------


def test_unknown_tool_on_working_tree_files_allows() -> None:
    # An uncatalogued program run on files here is the everyday case (linters, converters, generators);
    # its effects are judged by what it touches (system paths, secrets, devices, destroy verbs).
    assert _verdict("frobnicate --in docs/a.md --out build/a.html") == "allow"
    assert _verdict("frobnicate --in ~/.ssh/id_ed25519") == "block"
    assert _verdict("frobctl cluster delete main") == "ask"


# -- GraphQL through `gh api`: the document, not the POST, says whether it writes ---------------------------


@pytest.mark.parametrize(
    ("command", "verdict"),
    [
        ("gh api graphql -f query='query($n: String!) { repository(name: $n) { id } }' -f n=cli", "allow"),
        (
            "gh api graphql --paginate -f query='{ viewer { repositories(first: 50) { nodes { name } } } }'",
            "allow",
        ),
        (
            "gh api graphql -f query='mutation { addStar(input: {starrableId: \"R\"}) { clientMutationId } }'",
            "ask",
        ),
        ('gh api graphql -f query="$QUERY"', "ask"),  # the document is only known at run time
        ("gh api graphql -F query=@ops/update.graphql", "ask"),
        ("gh api graphql --input body.json", "ask"),
    ],
)
def test_graphql_reads_allow_and_writes_ask(command: str, verdict: str) -> None:
    assert _verdict(command) == verdict, _rules(command)


# -- round 5: `xargs -I{}` names are the piped names, as when appended ---------------------------------------


@pytest.mark.parametrize(
    ("command", "verdict"),
    [
        ("find build -name '*.o' | xargs -I% rm -rf %", "allow"),
        ("find build -name '*.o' | xargs rm -rf", "allow"),  # the appended form it now matches
        ("find ~ -name '*.log' | xargs -I{} rm -rf {}", "ask"),
        ("find / -name core | xargs -I{} rm -rf '{}'", "ask"),
        ("find build -name x | xargs -I{} rm -rf {}/cache", "ask"),  # a path built on the name stays unknown
        ("cat list.txt | xargs -I{} rm -rf {}", "ask"),  # names of unknown origin
        ("echo / | xargs -I{} rm -rf {}", "block"),
    ],
)
def test_xargs_replace_string_judged_as_piped_names(command: str, verdict: str) -> None:
    assert _verdict(command) == verdict, _rules(command)


# -- gh's own preferences are local configuration -----------------------------------------------------------


def test_gh_config_is_local_like_git_config() -> None:
    assert _verdict("gh config set pager less") == "allow"
    assert _verdict("git config --global core.pager less") == "allow"
    assert _verdict("gh secret set TOKEN --body x") == "ask"  # a repository's settings are remote


# -- rclone remote control: endpoints that report -------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "verdict"),
    [
        ("rclone rc operations/about fs=gdrive:", "allow"),  # `rclone about` reads
        ("rclone rc core/pid", "allow"),  # listed in the catalogue as a report
        ("rclone rc backend/command command=features fs=s3:", "allow"),  # `rclone backend features`
        ("rclone rc core/command command=lsjson -a s3:b", "allow"),
        ("rclone rc core/command command=purge -a s3:b", "ask"),
        ("rclone rc core/command command=lsjson command=purge -a s3:b", "ask"),  # every named command counts
        ('rclone rc core/command --json \'{"command": "purge"}\' command=lsjson', "ask"),
        ("rclone rc operations/purge fs=s3: remote=old", "ask"),
        (
            "rclone rc sync/copy srcFs=/home dstFs=s3:b",
            "ask",
        ),  # the CLI's `copy` allows; the rc call is unseen
    ],
)
def test_rclone_rc_reading_endpoints(command: str, verdict: str) -> None:
    assert _verdict(command) == verdict, _rules(command)


# -- rclone given only local paths works on this machine's files: judged like `rm -r` of each tree ------------


@pytest.mark.parametrize(
    ("command", "verdict"),
    [
        ("rclone sync ./site /tmp/site-copy", "allow"),
        ("rclone sync /srv/media ./mirror", "allow"),  # the source of a sync is only read
        ("rclone moveto build/out.tar dist/out.tar", "allow"),
        ("rclone delete --min-age 7d ./cache", "allow"),
        ("rclone sync ./site ~/other-site", "ask"),
        ("rclone bisync ./a ../shared", "ask"),
        ("rclone bisync ./a /data/shared", "block"),  # a top-level data directory, as for `rsync --delete`
        ("rclone purge /srv/www", "block"),
        ("rclone sync ./empty /etc", "block"),
        ("rclone purge ~", "block"),
        ("rclone sync gdrive:site ./site", "allow"),  # a download: the remote source is only read
        ("rclone sync gdrive:site /srv/www", "block"),
        ("rclone sync gdrive:site ./site --backup-dir=gdrive:old", "ask"),  # moves pruned files there
        ("rclone move gdrive:inbox ./inbox", "ask"),  # empties the remote source
        ("rclone sync ./site remote:www", "ask"),  # a remote destination: the vendor verdicts
        ("rclone purge gdrive:old ./x", "block"),
        ("rclone delete $TARGET", "block"),  # a path only known at run time may name a remote
    ],
)
def test_rclone_local_paths_judged_as_file_deletes(command: str, verdict: str) -> None:
    assert _verdict(command) == verdict, _rules(command)


def test_local_image_destinations_judged_like_cp() -> None:
    for destination in ("/media/usb/images", "/mnt/mirror"):
        assert _verdict(f"cp -r build {destination}") == "allow"
        assert _verdict(f"skopeo sync --src docker --dest dir quay.io/acme/app {destination}") == "allow"
    assert _verdict("skopeo copy docker://quay.io/acme/app:1 dir:/var/lib/app") == "ask"
    assert _verdict("kubectl cp web-0:/var/log/app.log /mnt/logs/app.log") == "allow"


# -- round 8: `kubectl attach` without stdin streams output like `logs -f`; `-i` types into the process ----


@pytest.mark.parametrize(
    ("command", "verdict"),
    [
        ("kubectl attach web-0", "allow"),
        ("kubectl attach deploy/api -c server -n staging", "allow"),
        ("oc attach web-0 -c sidecar", "allow"),
        ("kubectl attach web-0 -i", "ask"),
        ("kubectl attach web-0 -c server -it", "ask"),
        ("kubectl attach web-0 --stdin --tty", "ask"),
        ("kubectl attach web-0 -c app -i -t", "ask"),
    ],
)
def test_kubectl_attach_without_stdin_reads(command: str, verdict: str) -> None:
    assert _verdict(command) == verdict, _rules(command)


# -- round 8: rclone rc calls that tune the daemon's throttle, cache and polling change no file -------------


@pytest.mark.parametrize(
    ("command", "verdict"),
    [
        ("rclone rc core/bwlimit", "allow"),
        ("rclone rc core/bwlimit rate=4M:512k", "allow"),
        ("rclone rc vfs/forget dir=photos/2023", "allow"),
        ("rclone rc vfs/poll-interval interval=2m", "allow"),
        ("rclone rc cache/expire remote=media/ withData=true", "allow"),
        # the same daemon still asks for calls that change settings, files or mounts
        ('rclone rc options/set --json \'{"main": {"DryRun": false}}\'', "ask"),
        ("rclone rc operations/deletefile fs=gdrive: remote=notes.txt", "ask"),
        ("rclone rc sync/sync srcFs=./site dstFs=s3:www", "ask"),
        ("rclone rc mount/unmountall", "ask"),
        ("rclone rc mount/mount fs=gdrive: mountPoint=/etc", "ask"),
    ],
)
def test_rclone_rc_daemon_tuning(command: str, verdict: str) -> None:
    assert _verdict(command) == verdict, _rules(command)


# -- round 8: /proc/self/fd/N is the command's own descriptor, as /dev/fd/N --------------------------------


@pytest.mark.parametrize(
    ("command", "verdict"),
    [
        ("make 2>&1 | tee /proc/self/fd/2 > build.log", "allow"),
        ("printf 'done\\n' > /proc/thread-self/fd/1", "allow"),
        ("echo 1 > /proc/1/fd/1", "ask"),  # another process's stream
        ("echo 1000 | tee /proc/self/oom_score_adj", "ask"),
        ("echo x > /proc/self/fd/../mem", "ask"),
        ("echo c > /proc/sysrq-trigger", "block"),
    ],
)
def test_own_descriptors_under_proc(command: str, verdict: str) -> None:
    assert _verdict(command) == verdict, _rules(command)


# -- round 8: `gh repo sync` without a destination fast-forwards this checkout, like `git pull --ff-only` ----


@pytest.mark.parametrize(
    ("command", "verdict"),
    [
        ("gh repo sync", "allow"),
        ("gh repo sync -b release-2", "allow"),
        ("gh repo sync --branch main --source upstream-org/widget", "allow"),
        ("gh repo sync my-org/widget-fork", "ask"),  # the fork on the server changes
        ("gh repo sync -b main my-org/widget-fork --source upstream-org/widget", "ask"),
        ("gh repo sync -R my-org/widget-fork", "ask"),
        ("gh repo sync --force", "block"),  # a hard reset over local commits
    ],
)
def test_gh_repo_sync_of_this_checkout(command: str, verdict: str) -> None:
    assert _verdict(command) == verdict, _rules(command)


# -- round 8: a switch of the image tools takes no value; the word after it is an operand ------------------


@pytest.mark.parametrize(
    ("command", "verdict"),
    [
        ("skopeo sync --src docker --dest dir --scoped quay.io/acme/app /mnt/mirror", "allow"),
        ("skopeo sync --src docker --dest dir --all quay.io/acme/app ./images", "allow"),
        ("podman manifest push --all acme-list oci-archive:./dist/list.tar", "allow"),
        ("skopeo sync --src docker --dest dir --scoped quay.io/acme/app /etc/containers", "ask"),
        ("skopeo sync --src docker --dest docker --scoped quay.io/acme/app registry.acme.dev", "ask"),
        ("podman manifest push --all acme-list docker://quay.io/acme/list", "ask"),
        ("podman manifest push --all quay.io/acme/list", "ask"),  # pushes to its own name
    ],
)
def test_image_switches_take_no_value(command: str, verdict: str) -> None:
    assert _verdict(command) == verdict, _rules(command)
