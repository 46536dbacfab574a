"""Real bonds on a real (virtual) host: seed 15.10 end to end.

This machine's kernel has no bonding, so the module runs where one exists: a
Debian "full host" guest (systemd, NetworkManager, sshd, Python, Debian's
cloud kernel with bonding.ko) booted under qemu TCG in the sandbox, built by
sandbox/fullhost/build.sh and cached in /var/cache/virtnet-sandbox/fullhost.
ansible-playbook reaches it over SSH exactly as a user's playbook would
(from the sandbox hypervisor's network namespace, where its management
network lives).  Then the active port's virtual cable is pulled from the
hypervisor side (``virsh domif-setlink ... down``) to prove the failover.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "sandbox" / "fullhost"))

import fullhost  # noqa: E402

BRIDGE_ADDR = "192.0.2.130"


@pytest.fixture(scope="module")
def host(sandbox_factory):
    if subprocess.run(["which", "debootstrap"], capture_output=True, check=False).returncode != 0 \
            and not (fullhost.CACHE / "disk.img").exists():
        pytest.skip("debootstrap is not installed and no full-host image is cached")
    sb = sandbox_factory.get("n6b%d" % (os.getpid() % 100000))   # per session: never shared
    fh = fullhost.FullHost(sb)
    fh.start()
    try:
        fh.boot_s = fh.wait_ssh()
        yield fh
    finally:
        fh.destroy()


def playbook(fh, tmp_path, tasks: list, *, check: bool = False) -> list:
    """Run ``tasks`` on the full host with ansible-playbook; return each task's result."""
    inv = tmp_path / "inventory.ini"
    inv.write_text(fh.inventory())
    play = tmp_path / "play.yml"
    play.write_text(json.dumps([{"hosts": "fullhost", "gather_facts": False, "tasks": tasks}]))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".build"),
               ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_HOST_KEY_CHECKING="False",
               ANSIBLE_NOCOLOR="1")
    argv = ["ip", "netns", "exec", fh.sb.hv_ns, str(ROOT / ".venv" / "bin" / "ansible-playbook"),
            "-i", str(inv), str(play), "--diff"] + (["--check"] if check else [])
    cp = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300, check=False)
    doc = json.loads(cp.stdout[cp.stdout.index("{"):])
    return [t["hosts"]["fullhost"] for t in doc["plays"][0]["tasks"]]


def bonding(fh) -> dict:
    text = fh.ssh("cat /proc/net/bonding/bond0")
    active = re.search(r"Currently Active Slave: (\S+)", text).group(1)
    ports = dict(re.findall(r"Slave Interface: (\S+)\nMII Status: (\S+)", text))
    mode = re.search(r"Bonding Mode: (.+)", text).group(1)
    return {"active": active, "ports": ports, "mode": mode}


def test_active_backup_bond_under_bridge_fails_over_when_the_cable_is_pulled(host, tmp_path):
    fh = host
    p1, p2 = fh.ifname_of(fullhost.PORT1_MAC), fh.ifname_of(fullhost.PORT2_MAC)
    task = {"name": "bond + bridge of seed 15.10",
            "virtnet.networking.nm_bond_bridge": {
                "name": "br0", "bond": {"name": "bond0", "mode": "active-backup", "miimon": 100,
                                        "ports": [p1, p2]},
                "ipv4": {"addresses": [BRIDGE_ADDR + "/25"]}, "verify_target": fullhost.HV_LAN}}
    info = {"name": "read it back", "virtnet.networking.nm_bond_bridge_info": {"name": "br0"}}

    # Safety first: a bond that would swallow the NIC carrying SSH is refused
    # before anything changes, and the host stays reachable.
    mgmt = fh.ifname_of(fullhost.MGMT_MAC)
    refused = playbook(fh, tmp_path, [{"name": "bond over the management NIC", "ignore_errors": True,
                                       "virtnet.networking.nm_bond_bridge": {
                                           "name": "br0", "bond": {"name": "bond0", "ports": [p1, mgmt]}}}])[0]
    assert refused["failed"] and "carries the host's IP configuration (active profile 'mgmt'" in refused["msg"]
    assert sorted(fh.ssh("nmcli -t -f NAME connection show").split()) == ["lo", "mgmt"]

    check = playbook(fh, tmp_path, [task], check=True)[0]
    results = playbook(fh, tmp_path, [task, info])
    assert len(results) == 2, results   # a failed first task ends the play: show why
    applied, seen = results
    again = playbook(fh, tmp_path, [task])[0]
    assert not check.get("failed") and not applied.get("failed"), (check, applied)
    assert check["changed"] and applied["changed"] and again["changed"] is False
    assert check["actions"] == applied["actions"]
    assert check["bridge"] == applied["bridge"]
    assert applied["bridge"]["active"] == {"br0": True, "bond0": True, p1: True, p2: True}
    assert applied["checkpoint"][-1].endswith("destroyed: the new state is kept")
    assert applied["reachable"] == fullhost.HV_LAN

    # The seed's verification, from the host itself and from the info module.
    st = bonding(fh)
    assert st["mode"] == "fault-tolerance (active-backup)"
    assert st["ports"] == {p1: "up", p2: "up"}
    assert seen["bridges"]["br0"]["status"]["bond"]["active_port"] == st["active"]
    assert seen["bridges"]["br0"]["status"]["bridge"]["ports"]["bond0"]["state"] == "forwarding"
    assert "master br0" in fh.ssh("ip -o link show bond0")

    # Traffic through the bridge while the active port's cable is pulled.
    first = st["active"]
    other = p2 if first == p1 else p1
    mac = fullhost.PORT1_MAC if first == p1 else fullhost.PORT2_MAC
    pinger = subprocess.Popen(["ip", "netns", "exec", fh.sb.hv_ns, "ping", "-n", "-i", "0.2", "-c", "50", "-W", "1",
                               BRIDGE_ADDR], stdout=subprocess.PIPE, text=True)
    time.sleep(3)
    fh.setlink(mac, "down")
    out = pinger.communicate(timeout=60)[0]
    sent, received = map(int, re.search(r"(\d+) packets transmitted, (\d+) received", out).groups())
    after = bonding(fh)
    print("failover: %d/%d echo replies while pulling %s; active %s -> %s; boot to ssh %.1f s"
          % (received, sent, first, first, after["active"], fh.boot_s))
    assert after["active"] == other
    assert after["ports"] == {first: "down", other: "up"}
    assert received >= sent - 5, out   # miimon 100 ms: a blip, not an outage
    assert subprocess.run(["ip", "netns", "exec", fh.sb.hv_ns, "ping", "-c", "1", "-W", "2", BRIDGE_ADDR],
                          capture_output=True, check=False).returncode == 0
    # Plugging the cable back brings the port's link back (active-backup
    # does not fail back without a primary).
    fh.setlink(mac, "up")
    time.sleep(1)
    assert bonding(fh)["ports"] == {first: "up", other: "up"}
