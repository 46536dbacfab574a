"""The roles on a sandbox hypervisor that has something for them to change
(issue 12, items 2 and 6):

* externally_visible_vm on a running VM whose macvtap sits on the very NIC
  the bridge must take (Configuring virtual machine network connections,
  15.9.3 "Replacing macvtap connections"): check mode states the plan, the
  real run follows it (shut down, bridge, switch keeping MAC and PCI address,
  start), the guest gets a LAN lease through the bridge and answers from the
  LAN; the second run changes nothing. With restarts not allowed, it is
  refused before any change.
* variables the role can check (VMs, MACs, names, NICs, intervals) are refused
  before the first change, naming the variable and the value, and the host
  snapshot is identical afterwards;
* a failure after the VM was shut down (libvirt cannot save its new
  definition): the bridge is rolled back, the VM is started again on its
  macvtap, and the run says both;
* a move that cannot happen (a transient VM whose interface cannot move
  live) is refused by the role's one hypervisor call before it defines the
  network, and a bond this kernel cannot make is rolled back: the host
  snapshot is identical afterwards.
"""
from __future__ import annotations

import difflib
import json
import os
import re
import subprocess
import sys
import time

import pytest

from playbook_helpers import ROOT, ansible_playbook, host_state

sys.path.insert(0, os.path.join(ROOT, "playbooks", "demo"))
import probe  # noqa: E402

MV_MAC = "52:54:00:e7:0c:02"


def _role(sb, tmp_path, role: str, variables: dict, *extra: str) -> subprocess.CompletedProcess:
    play = tmp_path / f"{role}.yml"
    play.write_text(json.dumps([{"hosts": "sandbox-hv", "gather_facts": False,
                                 "roles": [dict({"role": f"virtnet.networking.{role}"}, **variables)]}]))
    return ansible_playbook(sb, str(play), *extra)


def _recap(cp) -> dict:
    m = re.search(r"sandbox-hv\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", cp.stdout)
    assert m, cp.stdout[-3000:] + cp.stderr[-2000:]
    return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, m.groups())))


def _iface(sb, vm: str, *, inactive: bool = False) -> dict:
    """type, source, mac and PCI address of the VM's only interface."""
    xml = sb.virsh("dumpxml", *(["--inactive"] if inactive else []), vm).stdout
    m = re.search(r"<interface type='(\w+)'>(.*?)</interface>", xml, re.S)
    assert m, xml
    body = m.group(2)
    src = re.search(r"<source (?:bridge|dev|network)='([^']+)'", body)
    pci = re.search(r"<address type='pci' domain='(\w+)' bus='(\w+)' slot='(\w+)' function='(\w+)'", body)
    return {"type": m.group(1), "source": src and src.group(1),
            "mac": re.search(r"<mac address='([^']+)'", body).group(1), "pci": pci and pci.groups()}


@pytest.fixture(scope="module")
def mv1(sb):
    """A running, persistent guest on macvtap over lan1 (LAN lease from the
    outside's dnsmasq), and an NM bridge brx (no port) standing in for a
    bridge made elsewhere."""
    sb.nmcli("connection", "add", "type", "bridge", "con-name", "brx", "ifname", "brx", "ipv4.method", "disabled",
             "ipv6.method", "disabled", "bridge.stp", "no", check=True)
    g = sb.start_guest("mv1", nics=[{"type": "direct", "source": "lan1", "mac": MV_MAC}], persistent=True)
    g.wait_for_lease(timeout=120)
    _settle(sb)
    return g


def _same(before: dict, after: dict) -> None:
    """The host snapshots are identical; otherwise show what differs.  Routes
    compare as a set: a NIC NetworkManager took and gave back (a rolled-back
    bond) gets its own IPv6 multicast route again, listed in another place."""
    before, after = dict(before), dict(after)
    for snap in (before, after):
        snap["hv_routes"] = sorted(snap["hv_routes"].splitlines())
    if before != after:
        lines = []
        for key in sorted(set(before) | set(after)):
            if before.get(key) != after.get(key):
                lines += difflib.unified_diff(str(before.get(key)).splitlines(), str(after.get(key)).splitlines(),
                                              key + " before", key + " after", lineterm="")
        raise AssertionError("the host changed:\n" + "\n".join(lines))


def _settle(sb) -> None:
    """Let a new link's IPv6 link-local address finish DAD (its routes come
    with it), so that the snapshots compare what the role might touch."""
    deadline = time.monotonic() + 15
    while "tentative" in sb.run_hv(["ip", "-o", "addr"]).stdout and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1)


EVM = {"externally_visible_vm_name": "mv1", "externally_visible_vm_host_interface": "lan1",
       "externally_visible_vm_bridge": "br-lan1", "externally_visible_vm_restart_timeout": 6}


@pytest.mark.parametrize("role,variables,named,value", [
    ("externally_visible_vm", {"externally_visible_vm_name": "ghost", "externally_visible_vm_host_interface": "lan2"},
     "externally_visible_vm_name", "ghost"),
    ("externally_visible_vm", dict(EVM, externally_visible_vm_interface_mac="52-54-00-zz"),
     "externally_visible_vm_interface_mac", "52-54-00-zz"),
    ("externally_visible_vm", dict(EVM, externally_visible_vm_host_interface="lan9"),
     "externally_visible_vm_host_interface", "lan9"),
    ("externally_visible_vm", dict(EVM, externally_visible_vm_bridge="lan2"), "externally_visible_vm_bridge", "lan2"),
    ("externally_visible_vm", dict(EVM, externally_visible_vm_restart="never"), "externally_visible_vm_restart", "never"),
    ("bonded_bridge", {"bonded_bridge_configure_host": False, "bonded_bridge_bridge": "brx",
                       "bonded_bridge_vms": [{"name": "ghost"}]}, "bonded_bridge_vms", "ghost"),
    ("bonded_bridge", {"bonded_bridge_configure_host": False, "bonded_bridge_bridge": "brx",
                       "bonded_bridge_vms": [{"name": "mv1", "mac": "52-54-00-zz"}]}, "bonded_bridge_vms", "52-54-00-zz"),
    ("bonded_bridge", {"bonded_bridge_configure_host": False, "bonded_bridge_bridge": "brx",
                       "bonded_bridge_network": "my net"}, "bonded_bridge_network", "my net"),
    ("bonded_bridge", {"bonded_bridge_ports": ["lan2"], "bonded_bridge_miimon": 0}, "bonded_bridge_miimon", "0"),
    ("bonded_bridge", {"bonded_bridge_ports": ["lan2"], "bonded_bridge_bond_options": {"miimon": 0}},
     "bonded_bridge_bond_options", "miimon"),
    ("bonded_bridge", {"bonded_bridge_ports": ["lan2"], "bonded_bridge_bridge": "bridge-for-the-vms"},
     "bonded_bridge_bridge", "bridge-for-the-vms"),
    ("bonded_bridge", {"bonded_bridge_ports": ["lan2", "lan9"]}, "bonded_bridge_ports", "lan9"),
    ("bonded_bridge", {"bonded_bridge_configure_host": False, "bonded_bridge_bridge": "br-nowhere"},
     "bonded_bridge_bridge", "br-nowhere"),
])
def test_refused_before_the_first_change(sb, mv1, tmp_path, role, variables, named, value):
    before = host_state(sb)
    cp = _role(sb, tmp_path, role, variables)
    assert _recap(cp)["failed"] == 1, cp.stdout[-3000:]
    assert _recap(cp)["changed"] == 0, cp.stdout[-3000:]
    fatal = cp.stdout[re.search(r"^(fatal|failed): ", cp.stdout, re.M).start():]
    assert f"{named}=" in fatal or named in fatal, fatal[:2000]
    assert value in fatal, fatal[:2000]
    _same(before, host_state(sb))


def test_restart_never_names_why_a_restart_is_needed(sb, mv1, tmp_path):
    cp = _role(sb, tmp_path, "externally_visible_vm", dict(EVM, externally_visible_vm_restart="never"), "--check")
    assert _recap(cp)["failed"] == 1, "refused in check mode too"
    assert "the kernel does not make lan1 a port of br-lan1 while a macvtap uses it" in cp.stdout, cp.stdout[-3000:]


def test_a_move_that_cannot_happen_is_refused_before_the_network_is_defined(sb, mv1, tmp_path):
    """A transient VM whose macvtap cannot move to a network live: the role's
    one hypervisor call plans the network and the move before its first
    change, so it refuses the move naming the VM and the item, and the
    network is never defined (the host snapshot is identical)."""
    g = sb.start_guest("tr1", nics=[{"type": "direct", "source": "lan2", "mac": "52:54:00:e7:0c:09"}])
    try:
        g.wait_for_lease(timeout=120)
        _settle(sb)
        before = host_state(sb)
        cp = _role(sb, tmp_path, "bonded_bridge", {"bonded_bridge_configure_host": False, "bonded_bridge_bridge": "brx",
                                                   "bonded_bridge_network": "brx-net", "bonded_bridge_vms": [{"name": "tr1"}]})
        assert _recap(cp)["failed"] == 1, cp.stdout[-3000:]
        fatal = cp.stdout[re.search(r"^fatal: ", cp.stdout, re.M).start():]
        assert "vm_interfaces[0]" in fatal and "tr1 is transient" in fatal, fatal[:3000]
        assert "rolled_back" not in fatal, "refused before the first change: nothing to undo"
        _same(before, host_state(sb))
    finally:
        sb.virsh("destroy", "tr1", check=False)


def _guest_ipv4(g, timeout: float = 120) -> str:
    """The address the guest's eth0 has, once it has one (its console log
    starts again with each boot, so a lease line may be the last boot's)."""
    deadline = time.monotonic() + timeout
    while True:
        rc, out = g.run("ip -4 -o addr show eth0")
        m = re.search(r"inet (\S+)/", out)
        if rc == 0 and m:
            return m.group(1)
        assert time.monotonic() < deadline, out
        time.sleep(1)


def _but_the_vm_runtime(state: dict, vm: str) -> dict:
    """The host state without what restarting `vm` renews by itself: its
    running XML (a new macvtap index) and its macvtap link with the link's
    addresses and routes."""
    state = dict(state, domains={k: v for k, v in state["domains"].items() if k != vm})
    for key in ("hv_links", "hv_addrs", "hv_routes"):
        state[key] = "\n".join(l for l in state[key].splitlines() if "macvtap" not in l)
    return state


def test_a_failure_after_the_shutdown_starts_the_vm_again_and_undoes_the_bridge(sb, mv1, tmp_path):
    """The role's rescue: the VM is shut down to release its macvtap, the
    bridge is made, and then libvirt cannot save the VM's new definition
    (its configuration directory is made immutable for the test). The run
    fails saying what failed and what was undone: NetworkManager rolled the
    bridge back and the VM was started again, still on its macvtap, with the
    same MAC and PCI address, and it is back on the LAN."""
    was, config = _iface(sb, "mv1"), sb.virsh("dumpxml", "--inactive", "mv1").stdout
    assert was["type"] == "direct" and was["source"] == "lan1"
    before = host_state(sb)
    qemu_etc = sb.state_dir / "etc" / "libvirt" / "qemu"
    started = time.monotonic()
    subprocess.run(["chattr", "+i", str(qemu_etc)], check=True)
    try:
        cp = _role(sb, tmp_path, "externally_visible_vm", EVM)
    finally:
        subprocess.run(["chattr", "-i", str(qemu_etc)], check=True)
    assert _recap(cp)["failed"] == 1, cp.stdout[-4000:]
    assert "externally_visible_vm: vm_interfaces[0] (mv1 " in cp.stdout, cp.stdout[-4000:]
    undone = re.search(r"Undone: (.*)", cp.stdout).group(1)
    assert "NetworkManager rolled back" in undone and "VM mv1 started again" in undone, undone
    assert "NOT undone" not in cp.stdout, cp.stdout[-3000:]

    assert sb.virsh("domstate", "mv1").stdout.strip() == "running"
    assert _iface(sb, "mv1") == was
    assert sb.virsh("dumpxml", "--inactive", "mv1").stdout == config
    _same(_but_the_vm_runtime(before, "mv1"), _but_the_vm_runtime(host_state(sb), "mv1"))
    rc, uptime = mv1.run("cut -d' ' -f1 /proc/uptime", timeout=120)
    assert rc == 0 and float(uptime.split()[-1]) < time.monotonic() - started, "the VM was not restarted"
    ip = _guest_ipv4(mv1)
    assert ip.startswith("198.51.100."), ip
    assert probe.outside_fetch(sb, ip, "mv1"), f"{ip} does not answer from the LAN"
    _settle(sb)


def test_macvtap_on_the_bridged_nic_is_replaced(sb, mv1, tmp_path):
    was = _iface(sb, "mv1")
    assert was["type"] == "direct" and was["source"] == "lan1"
    before = host_state(sb)

    # the MAC as a user may copy it (dashes, capitals): the role normalizes it
    evm = dict(EVM, externally_visible_vm_interface_mac=MV_MAC.upper().replace(":", "-"))
    check = _role(sb, tmp_path, "externally_visible_vm", evm, "--check")
    assert _recap(check)["failed"] == 0, check.stdout[-3000:]
    plan = re.search(r'"Plan for mv1:",\s*(.*?)\]', check.stdout, re.S)
    assert plan, check.stdout[-3000:]
    steps = re.findall(r'"(\w+) ', plan.group(1))
    assert steps == ["shut", "create", "switch", "start"], plan.group(1)
    _same(before, host_state(sb))

    applied = _role(sb, tmp_path, "externally_visible_vm", evm)
    assert _recap(applied)["failed"] == 0, applied.stdout[-4000:]
    assert plan.group(1) in applied.stdout, "the real run states the plan check mode stated"
    ran = [t for t in re.findall(r"TASK \[virtnet\.networking\.externally_visible_vm : ([^\]]+)\]\s*\*+\nchanged",
                                 applied.stdout)]
    # (Destroy only when the guest ignores the ACPI shutdown request, as the test guest does)
    # (the bridge and the switch are one all-or-nothing hypervisor task)
    assert [t.split(" ")[0] for t in ran if not t.startswith("Destroy")] == ["Ask", "Create", "Start"], ran

    now = _iface(sb, "mv1")
    assert now == dict(was, type="bridge", source="br-lan1"), (was, now)
    assert _iface(sb, "mv1", inactive=True)["type"] == "bridge"
    ports = sb.run_hv(["ls", "/sys/class/net/br-lan1/brif"]).stdout.split()
    assert "lan1" in ports and len(ports) == 2, ports

    lease = [e for e in mv1.events("LEASE") if len(e) >= 4 and e[2].lower() == MV_MAC]
    if not lease:
        mv1.wait_for_lease(timeout=120)
        lease = [e for e in mv1.events("LEASE") if len(e) >= 4 and e[2].lower() == MV_MAC]
    ip = lease[-1][3]
    assert ip.startswith("198.51.100."), lease
    assert probe.outside_fetch(sb, ip, "mv1"), f"{ip} does not answer from the LAN"

    again = _role(sb, tmp_path, "externally_visible_vm", evm)
    assert _recap(again)["changed"] == 0, again.stdout[-3000:]
    assert _recap(again)["failed"] == 0, again.stdout[-3000:]


def test_a_bond_this_kernel_cannot_make_is_rolled_back(sb, mv1, tmp_path):
    """No bonding driver here: NetworkManager's checkpoint rolls the bond back;
    the role fails naming the step and its message, and the host (profiles
    included) is as before."""
    before = host_state(sb)
    cp = _role(sb, tmp_path, "bonded_bridge", {"bonded_bridge_ports": ["lan2"], "bonded_bridge_bridge": "br1",
                                               "bonded_bridge_network": "b1-bridge"})
    assert _recap(cp)["failed"] == 1, cp.stdout[-3000:]
    fatal = cp.stdout[re.search(r"^fatal: ", cp.stdout, re.M).start():]
    result = json.loads(re.match(r"fatal: \[sandbox-hv\]: FAILED! => (\{.*\})$", fatal, re.M).group(1))
    assert result["msg"].startswith("bridges[0] (br1): "), result["msg"]
    assert "rolled back" in result["msg"] and "bond0" in result["msg"], result["msg"]
    assert "NetworkManager rolled back" in result["rolled_back"], result
    _same(before, host_state(sb))


def test_a_vm_on_a_nat_network_is_switched_live(sb, mv1, tmp_path):
    """Seed 15.9 without macvtap: no shutdown in the plan, the switch is live
    (the guest keeps running), the second run changes nothing."""
    net = tmp_path / "nat.xml"
    net.write_text("<network><name>rn-nat</name><forward mode='nat'/><bridge name='virbr-rn' stp='off'/>"
                   "<ip address='192.0.2.65' prefix='26'><dhcp><range start='192.0.2.70' end='192.0.2.90'/></dhcp>"
                   "</ip></network>")
    sb.virsh("net-create", str(net))
    g = sb.start_guest("nat1", nics=[{"type": "network", "source": "rn-nat", "mac": "52:54:00:e7:0c:11"}],
                       persistent=True)
    try:
        g.wait_for_lease(timeout=120)
        boots = len(g.events("BOOTED"))
        variables = {"externally_visible_vm_name": "nat1", "externally_visible_vm_host_interface": "lan2",
                     "externally_visible_vm_bridge": "br-nat1"}
        check = _role(sb, tmp_path, "externally_visible_vm", variables, "--check")
        assert _recap(check)["failed"] == 0, check.stdout[-3000:]
        assert ("switch interface 52:54:00:e7:0c:11 of nat1 from network rn-nat to the bridge br-nat1, keeping its "
                "MAC and PCI address live") in check.stdout, check.stdout[-3000:]
        assert "shut down VM" not in check.stdout
        applied = _role(sb, tmp_path, "externally_visible_vm", variables)
        assert _recap(applied)["failed"] == 0, applied.stdout[-4000:]
        assert _iface(sb, "nat1")["source"] == "br-nat1"
        assert len(g.events("BOOTED")) == boots, "the guest was restarted"
        again = _role(sb, tmp_path, "externally_visible_vm", variables)
        assert _recap(again)["changed"] == 0, again.stdout[-3000:]
    finally:
        sb.virsh("destroy", "nat1", check=False)
        sb.virsh("undefine", "nat1", check=False)
        sb.virsh("net-destroy", "rn-nat", check=False)
        _drop_bridge(sb, "br-nat1", "lan2")


def _drop_bridge(sb, bridge: str, port: str) -> None:
    """Give the NIC back: remove the bridge profile a test's role run made
    and its port's profile (NetworkManager removes the bridge with it)."""
    sb.nmcli("connection", "delete", bridge, f"{bridge}-port-{port}", check=False)


def test_unplug_others_is_part_of_the_same_call(sb, mv1, tmp_path):
    """externally_visible_vm_unplug_others: the VM's other interface is set
    link down by the same hypervisor call that switches the named one (one
    vm_interfaces item each); check mode predicts both, the second run
    changes nothing."""
    net = tmp_path / "up.xml"
    net.write_text("<network><name>rn-up</name><forward mode='nat'/><bridge name='virbr-up' stp='off'/>"
                   "<ip address='192.0.2.129' prefix='26'><dhcp><range start='192.0.2.140' end='192.0.2.160'/></dhcp>"
                   "</ip></network>")
    sb.virsh("net-create", str(net))
    keep, other = "52:54:00:e7:0c:21", "52:54:00:e7:0c:22"
    g = sb.start_guest("up1", nics=[{"type": "network", "source": "rn-up", "mac": keep},
                                    {"type": "network", "source": "rn-up", "mac": other}], persistent=True)
    try:
        g.wait_for_lease(timeout=120)
        variables = {"externally_visible_vm_name": "up1", "externally_visible_vm_host_interface": "lan2",
                     "externally_visible_vm_bridge": "br-up1", "externally_visible_vm_interface_mac": keep,
                     "externally_visible_vm_unplug_others": True, "externally_visible_vm_verify": False}
        check = _role(sb, tmp_path, "externally_visible_vm", variables, "--check")
        assert _recap(check)["failed"] == 0, check.stdout[-3000:]
        assert f"vm_interfaces[0] up1 {keep} " in check.stdout, check.stdout[-3000:]
        assert f"vm_interfaces[1] up1 {other} " in check.stdout, check.stdout[-3000:]
        applied = _role(sb, tmp_path, "externally_visible_vm", variables)
        assert _recap(applied)["failed"] == 0, applied.stdout[-4000:]
        xml = sb.virsh("dumpxml", "up1").stdout
        ifaces = re.findall(r"<interface type='(\w+)'>(.*?)</interface>", xml, re.S)
        by_mac = {re.search(r"<mac address='([^']+)'", body).group(1): (kind, body) for kind, body in ifaces}
        assert by_mac[keep][0] == "bridge" and "<source bridge='br-up1'" in by_mac[keep][1], by_mac[keep]
        assert "<link state='down'/>" in by_mac[other][1], by_mac[other]
        assert "<link state='down'/>" not in by_mac[keep][1], by_mac[keep]
        again = _role(sb, tmp_path, "externally_visible_vm", variables)
        assert _recap(again)["changed"] == 0, again.stdout[-3000:]
    finally:
        sb.virsh("destroy", "up1", check=False)
        sb.virsh("undefine", "up1", check=False)
        sb.virsh("net-destroy", "rn-up", check=False)
        _drop_bridge(sb, "br-up1", "lan2")
