"""The prerequisites role installs for real, on a Debian 12 host over SSH.

The host is the "full host" guest (sandbox/fullhost: debootstrap'd bookworm
with systemd, NetworkManager, sshd and Python, booted under qemu TCG in the
sandbox). It has python3 and NetworkManager but not libvirt, lxml, the libvirt
binding or python3-apt. It reaches no Debian mirror, so it gets what a site
without Internet access gets: a local apt repository, here served over HTTP
from the sandbox hypervisor's namespace, holding exactly the packages (and
dependencies) the image lacks (sandbox/fullhost/fullhost.py:local_repo, made
by this machine's apt against the image's own dpkg database).

What a user would notice: check mode names the packages it would install and
installs none; the real run installs them and starts libvirtd; a second run
changes nothing; and then the collection's modules work on that host.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "sandbox" / "fullhost"))
sys.path.insert(0, str(ROOT / "sandbox"))
sys.path.insert(0, str(ROOT / "tests"))

import fullhost  # noqa: E402
import vnsb  # noqa: E402
from virtnet_testlib import ANSIBLE_BIN  # noqa: E402

pytestmark = pytest.mark.sandbox

PORT = 8480
TABLE = yaml.safe_load((ROOT / "roles" / "prerequisites" / "vars" / "Debian.yml").read_text())["prerequisites_table"]
# What the role asks for with its defaults on Debian 12 (bookworm's libvirt).
WANT = TABLE["package_manager"] + TABLE["python"] + TABLE["libvirt"] + TABLE["network_manager"]


@pytest.fixture(scope="module")
def host(sandbox_factory):
    if subprocess.run(["which", "debootstrap"], capture_output=True, check=False).returncode != 0 \
            and not (fullhost.CACHE / "disk.img").exists():
        pytest.skip("debootstrap is not installed and no full-host image is cached")
    fullhost.ensure_image()
    repo = fullhost.local_repo(WANT)
    sb = sandbox_factory.get("prq%d" % (os.getpid() % 100000))
    fh = fullhost.FullHost(sb)
    fh.start()
    server = subprocess.Popen(["ip", "netns", "exec", sb.hv_ns, sys.executable, "-m", "http.server", str(PORT),
                               "--bind", fullhost.HV_MGMT, "--directory", str(repo)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if vnsb.SHAPES[sb.live_shape]["firewalld"]:
            # firewalld's `libvirt` zone, where libvirt puts the bridge of the
            # host's network, admits only dhcp, dns, ssh and tftp from guests
            # (measured: the repository's port refused, apt found no package).
            # A RHEL 9 site serving its mirror from the hypervisor opens it.
            sb.run_hv(["firewall-cmd", "--zone=libvirt", "--add-port=%d/tcp" % PORT], check=True)
        fh.wait_ssh()
        # The host's apt knows only the site's repository (the image's own
        # sources name a mirror it cannot reach) and has read its index, as
        # a host set up with its site's mirror has.
        fh.ssh("rm -f /etc/apt/sources.list.d/* && rm -rf /var/lib/apt/lists/* && "
               "echo 'deb [trusted=yes] http://%s:%d ./' > /etc/apt/sources.list && apt-get -q update --error-on=any"
               % (fullhost.HV_MGMT, PORT), timeout=300)
        yield fh
    finally:
        server.terminate()
        server.wait(timeout=10)
        fh.destroy()


def play(fh, tmp_path, *, check: bool = False, **body) -> dict:
    """Run one play (``roles=`` or ``tasks=``) on the host as a user's
    playbook would, over SSH; the ansible.posix.json document."""
    inv = tmp_path / "inventory.ini"
    inv.write_text(fh.inventory())
    play = tmp_path / "play.yml"
    play.write_text(json.dumps([dict({"hosts": "fullhost", "gather_facts": False}, **body)]))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".build"),
               ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_HOST_KEY_CHECKING="False",
               ANSIBLE_NOCOLOR="1")
    argv = ["ip", "netns", "exec", fh.sb.hv_ns, str(Path(ANSIBLE_BIN) / "ansible-playbook"),
            "-i", str(inv), str(play)] + (["--check"] if check else [])
    cp = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=1200, check=False)
    return json.loads(cp.stdout[cp.stdout.index("{"):])


def role(fh, tmp_path, *, check: bool = False, **role_vars) -> dict:
    return play(fh, tmp_path, check=check, roles=[dict({"role": "virtnet.networking.prerequisites"}, **role_vars)])


def tasks(doc) -> dict:
    """Each task's result by its name in the role (without the role's prefix)."""
    return {t["task"]["name"].split(" : ", 1)[-1]: t["hosts"]["fullhost"] for t in doc["plays"][0]["tasks"]
            if "fullhost" in t["hosts"]}


def installed(fh, pkgs) -> set:
    out = fh.ssh("dpkg-query -W -f '${Package} ${db:Status-Abbrev}\\n' %s 2>/dev/null; true" % " ".join(pkgs))
    return {ln.split()[0] for ln in out.splitlines() if ln.split()[1:2] == ["ii"]}


def test_check_then_install_then_nothing_then_the_modules_run(host, tmp_path):
    fh = host
    missing = [p for p in WANT if p not in installed(fh, WANT)]
    assert missing, "the image already has every package: nothing would be tested"
    dpkg_before = fh.ssh("sha256sum /var/lib/dpkg/status")

    check = role(fh, tmp_path, check=True)
    stats = check["stats"]["fullhost"]
    assert stats["failures"] == 0 and stats["unreachable"] == 0, json.dumps(tasks(check), indent=1)[-4000:]
    said = tasks(check)["Report what this host lacks"]["msg"]
    assert said == "fullhost: would install " + ", ".join(missing), said
    assert stats["changed"] > 0
    assert fh.ssh("sha256sum /var/lib/dpkg/status") == dpkg_before   # check mode installed nothing

    real = role(fh, tmp_path, prerequisites_start_services=True)
    stats = real["stats"]["fullhost"]
    assert stats["failures"] == 0 and stats["unreachable"] == 0, json.dumps(tasks(real), indent=1)[-4000:]
    assert tasks(real)["Report what this host lacks"]["msg"] == "fullhost: installs " + ", ".join(missing)
    assert installed(fh, WANT) == set(WANT)
    assert fh.ssh("systemctl is-active libvirtd.service NetworkManager.service").split() == ["active", "active"]
    # Debian's libvirt-daemon-system depends on libvirt-daemon-config-network:
    # libvirt's `default` network is defined whatever prerequisites_default_network
    # says, but nothing starts it (the role's README says so).
    assert "default" in fh.ssh("virsh net-list --all --name").split()
    assert "default" not in fh.ssh("virsh net-list --name").split()
    # The modules' libraries, for the platform Python the modules run with.
    fh.ssh("/usr/bin/python3 -c 'import libvirt, lxml.etree, netaddr'")

    again = role(fh, tmp_path, prerequisites_start_services=True)
    stats = again["stats"]["fullhost"]
    assert stats["failures"] == 0 and stats["changed"] == 0, json.dumps(tasks(again), indent=1)[-4000:]
    assert tasks(again)["Report what this host lacks"]["msg"] == "fullhost: has every package the modules need"

    # The collection's modules now run there: a libvirt network with DHCP
    # (libvirt, its network driver and dnsmasq, lxml, netaddr), read back.
    net = {"name": "prq-lab", "forward": {"mode": "isolated"}, "bridge": {"name": "virbr-prq"},
           "ips": [{"address": "203.0.113.1/24",
                    "dhcp": {"ranges": [{"start": "203.0.113.100", "end": "203.0.113.150"}]}}]}
    used = play(fh, tmp_path, tasks=[
        {"name": "define and start", "virtnet.networking.virt_network": net},
        {"name": "read back", "virtnet.networking.virt_network_info": {"name": "prq-lab"}}])
    stats = used["stats"]["fullhost"]
    assert stats["failures"] == 0 and stats["unreachable"] == 0, json.dumps(tasks(used), indent=1)[-4000:]
    assert tasks(used)["define and start"]["changed"]
    seen, = tasks(used)["read back"]["networks"]
    assert seen["active"] and seen["ips"][0]["dhcp"]["ranges"] == [{"start": "203.0.113.100", "end": "203.0.113.150"}]
    assert "inet 203.0.113.1/24" in fh.ssh("ip -o addr show virbr-prq")
    assert "dnsmasq" in fh.ssh("ps -C dnsmasq -o comm=")
