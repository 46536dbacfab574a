"""playbooks/site.yml and verify.yml for every component a fleet host can
declare - libvirt networks, a PXE server on one of them, VF counts with a VF
given to a VM, and a VM's interfaces - on the sandbox hypervisor `fleet`, the
way an AWX job runs them (ansible-playbook, inventory variables only):

* --check on a fresh host fails nothing and changes nothing (libvirt, links,
  addresses, routes, firewall, the TFTP root, the fake sysfs tree);
* apply converges, a second apply reports changed=0 (PLAY RECAP);
* verify.yml shows what was converged (the VM's interfaces with their MACs
  on their networks, the boot file served over TFTP, the VFs and the VM that
  holds one), changes nothing, and fails naming the interface when the host
  drifts from the inventory.

SR-IOV has no hardware here: the PF lives in a fake sysfs tree (tests/
fakesysfs.py) that sriov_vf reads through its testing option sysfs_root; a
watcher in this process plays the kernel's part (VFs appear after a write
of sriov_numvfs). The VM is defined but never started (cheaper; every
component can be converged on a shut-off VM).
"""
from __future__ import annotations

import os
import re
import subprocess
import time

import pytest
import yaml

import vnsb
from fakesysfs import FakeKernel
from virtnet_testlib import ANSIBLE_BIN

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BIN = ANSIBLE_BIN
HV_PYTHON = os.path.join(ROOT, "playbooks", "inventory", "demo", "hv-python")
# Another name for the sandbox lets two checkouts run this file side by side.
NAME = os.environ.get("VIRTNET_FLEET_SITE_SANDBOX", "fleet")
HOST = "fleet-hv"
VM = "fleetvm"
RUNNING = "fleetrun"
LAN_MAC = "52:54:00:f1:ee:01"
VF_MAC = "52:54:00:f1:ee:0f"
NETS = ("fleet-nat", "fleet-pxe")


def _host_vars(tftp_root: str, sysfs_root: str) -> dict:
    fast = ["no-ping"]
    return {
        "virtnet_sriov_vfs": [
            {"pf": "eth1", "num_vfs": 2, "sysfs_root": sysfs_root,
             "attach": {"vm": VM, "mac": VF_MAC, "live": False}},
        ],
        "virtnet_networks": [
            {"name": "fleet-nat", "forward": {"mode": "nat"}, "bridge": {"name": "virbr-fnat", "stp": False},
             "ips": [{"address": "192.0.2.1/26", "dhcp": {"ranges": [{"start": "192.0.2.10", "end": "192.0.2.40"}]}}],
             "dnsmasq_options": fast, "autostart": True},
            {"name": "fleet-pxe", "forward": {"mode": "isolated"}, "bridge": {"name": "virbr-fpxe", "stp": False},
             "ips": [{"address": "192.0.2.65/26",
                      "dhcp": {"ranges": [{"start": "192.0.2.74", "end": "192.0.2.104"}]}}],
             "dnsmasq_options": fast, "autostart": True},
        ],
        "virtnet_pxe_networks": [
            {"name": "fleet-pxe", "tftp_root": tftp_root, "restart": True, "verify": True,
             "boot_files": [{"name": "boot.ipxe", "content": "#!ipxe\necho fleet\nexit\n"}],
             "bootp_file": "boot.ipxe"},
        ],
        "virtnet_vm_interfaces": [
            {"domain": VM, "alias": "ua-lan", "mac": LAN_MAC, "type": "network", "source": "fleet-nat"},
            {"domain": VM, "alias": "ua-pxe", "type": "network", "source": "fleet-pxe", "model": "e1000e",
             "link": "down"},
        ],
    }


def _clean(sb) -> None:
    sb.virsh("destroy", RUNNING, check=False)
    for vm in (VM, RUNNING):
        sb.virsh("undefine", vm, check=False)
    for net in NETS:
        sb.virsh("net-destroy", net, check=False)
        sb.virsh("net-undefine", net, check=False)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    reason = vnsb.missing_requirements(False)
    if reason:
        pytest.skip(reason)
    sb = vnsb.Sandbox(NAME)
    sb.up(reuse=True)
    _clean(sb)   # a reused instance may hold a previous run's objects
    # IPv6 DAD of a fresh namespace settles by itself; let it, so snapshots
    # compare only what a playbook could have touched.
    deadline = time.monotonic() + 15
    while "tentative" in sb.run_hv(["ip", "-o", "addr"]).stdout and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)

    base = tmp_path_factory.mktemp("fleet")
    kernel = FakeKernel(base / "sysfs")
    kernel.add_pf("eth1", driver="ixgbe", total=7, slot=3)
    kernel.delay = 0.2
    kernel.watch()
    pxe = sb.state_dir / "fleet-pxe"       # dnsmasq (user nobody) must reach it: not below pytest's 0700 tmp
    pxe.mkdir(mode=0o755, exist_ok=True)
    os.chmod(pxe, 0o755)
    tftp_root = pxe / "root"

    xml = base / "vm.xml"
    xml.write_text(sb.guest_xml(VM, []))
    sb.virsh("define", str(xml))

    inv = base / "inventory"
    (inv / "host_vars").mkdir(parents=True)
    (inv / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": {"hypervisors": {"hosts": {HOST: {
        "ansible_connection": "local", "ansible_python_interpreter": HV_PYTHON}}}}}}))
    host_vars = _host_vars(str(tftp_root), kernel.root)
    (inv / "host_vars" / f"{HOST}.yml").write_text(yaml.safe_dump(host_vars))

    box = {"sb": sb, "inv": str(inv), "kernel": kernel, "tftp_root": tftp_root, "vars": host_vars}
    yield box
    kernel.stop()
    if os.environ.get("VIRTNET_SANDBOX_KEEP") == "1":
        return
    sb.down()


def play(box, playbook: str, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, VIRTNET_SANDBOX_NAME=NAME, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    return subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", box["inv"],
                           os.path.join(ROOT, "playbooks", playbook), *extra],
                          env=env, capture_output=True, text=True, timeout=300, check=False)


def recap(cp: subprocess.CompletedProcess) -> dict:
    m = re.search(HOST + r"\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", cp.stdout)
    assert m, cp.stdout[-4000:] + cp.stderr[-2000:]
    return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, m.groups())))


def host_state(box) -> dict:
    snap = box["sb"].snapshot()
    snap["tftp_root_exists"] = box["tftp_root"].exists()
    snap["sysfs"] = box["kernel"].listing()
    return snap


def domiflist(sb) -> list:
    rows = [r.split() for r in sb.virsh("domiflist", VM, "--inactive").stdout.splitlines()]
    return [r for r in rows if r and r[0] != "Interface" and not r[0].startswith("---")]


ITEM = re.compile(r'"((?:bridges|sriov_vfs|networks|pxe_networks|vm_interfaces)\[\d+\]) ')


def items_changed(cp: subprocess.CompletedProcess) -> set:
    """The items site.yml says it changed (in check mode: would change)."""
    return set(ITEM.findall(cp.stdout))


def test_site_check_apply_again_then_verify(fleet):
    sb = fleet["sb"]
    before = host_state(fleet)
    check = play(fleet, "site.yml", "--check", "--diff")
    r = recap(check)
    assert r["failed"] == 0, check.stdout[-4000:]
    assert r["changed"] > 0
    # on a fresh host check mode plans the PXE server and the NICs on the networks the same run defines
    predicted = items_changed(check)
    assert {"pxe_networks[0]", "vm_interfaces[0]", "vm_interfaces[1]"} <= predicted, check.stdout[-4000:]
    assert host_state(fleet) == before, "check mode changed the host"

    applied = play(fleet, "site.yml")
    r = recap(applied)
    assert r["failed"] == 0, applied.stdout[-4000:]
    assert r["changed"] > 0
    assert items_changed(applied) == predicted, applied.stdout[-4000:]   # check mode predicted every item
    assert sorted(n for n in sb.virsh("net-list", "--name").stdout.split() if n.startswith("fleet")) == list(NETS)
    # the user's view: virsh domiflist, the interfaces on their networks with the declared MAC and model
    rows = domiflist(sb)
    assert ["-", "network", "fleet-nat", "virtio", LAN_MAC] in rows, rows
    assert [r[1:4] for r in rows if r[2] == "fleet-pxe"] == [["network", "fleet-pxe", "e1000e"]], rows
    assert ["-", "hostdev", "-", "-", VF_MAC] in rows, rows
    assert (fleet["tftp_root"] / "boot.ipxe").read_text() == "#!ipxe\necho fleet\nexit\n"
    assert fleet["kernel"].listing() != before["sysfs"]

    again = play(fleet, "site.yml")
    assert recap(again) == dict(recap(again), changed=0, failed=0), again.stdout[-4000:]
    check2 = play(fleet, "site.yml", "--check")
    assert recap(check2)["changed"] == 0, check2.stdout[-4000:]

    converged = host_state(fleet)
    verify = play(fleet, "verify.yml")
    r = recap(verify)
    assert r["failed"] == 0 and r["changed"] == 0, verify.stdout[-4000:]
    assert host_state(fleet) == converged
    # an AWX job template of type "check" runs it with --check: same report
    checked = play(fleet, "verify.yml", "--check")
    assert recap(checked) == dict(recap(checked), failed=0, changed=0), checked.stdout[-4000:]
    assert '"served": "yes, same as the file on disk"' in checked.stdout
    out = verify.stdout
    # per VM, a domiflist-like table: the NAT interface with its MAC, the PXE one unplugged
    assert re.search(r'"fleetvm": \{\s*"interfaces": \[', out), out[-4000:]
    assert re.search(r'"- +network +fleet-nat +virtio +%s +- +up"' % LAN_MAC, out), out[-4000:]
    assert re.search(r'"- +network +fleet-pxe +e1000e +52:54:00:\S+ +- +down"', out), out[-4000:]
    assert re.search(r'"- +hostdev +0000:00:13\.\d +- +%s' % VF_MAC, out), out[-4000:]
    assert re.search(r'"state": "shut off"', out)
    # the PXE network: its TFTP root and boot file, fetched over TFTP and compared with the file on disk
    assert re.search(r'"fleet-pxe": \{\s*"active": true,\s*"address": "192.0.2.65/26",\s*"boot_file": "boot.ipxe"', out)
    assert '"served": "yes, same as the file on disk"' in out
    assert '"tftp_root": "%s"' % fleet["tftp_root"] in out
    # the PF: 2 of 7 VFs, VF 0 given to the VM
    assert re.search(r'"eth1": \{\s*"at_boot": "udev rule \S*/etc/udev/rules.d/eth1.rules",\s*"driver": "ixgbe",'
                     r'\s*"numvfs": 2,\s*"totalvfs": 7,', out), out[-4000:]
    assert re.search(r'"VF 0 0000:00:13\.0 eth1v0 -> %s \(%s\)"' % (VM, VF_MAC), out), out[-4000:]
    assert '"VF 1 0000:00:13.1 eth1v1 -> free"' in out


def test_verify_fails_on_drift_and_names_the_interface(fleet):
    sb = fleet["sb"]
    assert recap(play(fleet, "site.yml"))["failed"] == 0
    sb.virsh("detach-interface", VM, "network", "--mac", LAN_MAC, "--config")
    pxe_mac = [r[4] for r in domiflist(sb) if r[2] == "fleet-pxe"][0]
    sb.virsh("domif-setlink", VM, pxe_mac, "up", "--config")
    try:
        cp = play(fleet, "verify.yml")
        assert recap(cp)["failed"] == 1, cp.stdout[-4000:]
        assert "VM fleetvm interface ua-lan: missing; inventory wants" in cp.stdout, cp.stdout[-4000:]
        # every drifted item is named, not only the first
        assert re.search(r"VM fleetvm interface ua-pxe: \{.*'link': 'up'", cp.stdout), cp.stdout[-4000:]
    finally:
        fixed = play(fleet, "site.yml")
    assert recap(fixed)["failed"] == 0 and recap(fixed)["changed"] > 0, fixed.stdout[-4000:]
    assert recap(play(fleet, "verify.yml"))["failed"] == 0


def test_running_vm_gets_its_interface_live_and_verify_shows_its_address(fleet, tmp_path):
    """A running VM declared in the fleet gets its NIC hot-plugged by
    site.yml; verify.yml's table then shows what `virsh domiflist` and
    `domifaddr` would: the host tap, the network, the MAC and the address
    the guest leased."""
    sb = fleet["sb"]
    guest = sb.start_guest(RUNNING, [], persistent=True)
    try:
        nic = {"domain": RUNNING, "alias": "ua-nat", "type": "network", "source": "fleet-nat"}
        extra = tmp_path / "running.yml"
        extra.write_text(yaml.safe_dump({"virtnet_vm_interfaces": fleet["vars"]["virtnet_vm_interfaces"] + [nic]}))
        assert recap(play(fleet, "site.yml"))["failed"] == 0      # the rest of the host converged (test order)
        applied = play(fleet, "site.yml", "-e", "@%s" % extra)
        assert recap(applied)["failed"] == 0 and recap(applied)["changed"] == 1, applied.stdout[-4000:]
        assert items_changed(applied) == {"vm_interfaces[2]"}, applied.stdout[-4000:]
        assert '"vm_interfaces[2] %s ua-nat ' % RUNNING in applied.stdout
        live = [r.split() for r in sb.virsh("domiflist", RUNNING).stdout.splitlines() if r.strip()]
        assert [r[1:3] for r in live] == [["network", "fleet-nat"]] and live[0][0].startswith("vnet"), live
        tap, mac = live[0][0], live[0][4]
        ip = guest.wait_for_lease("eth0", timeout=90)
        assert recap(play(fleet, "site.yml", "-e", "@%s" % extra))["changed"] == 0

        verify = play(fleet, "verify.yml", "-e", "@%s" % extra)
        assert recap(verify) == dict(recap(verify), failed=0, changed=0), verify.stdout[-4000:]
        row = r'"%s +network +fleet-nat +virtio +%s +%s/26 +up"' % (tap, mac, re.escape(ip))
        assert re.search(row, verify.stdout), (row, verify.stdout[-4000:])
        assert re.search(r'"%s": \{\s*"interfaces": \[[^]]*\],\s*"state": "running"' % RUNNING, verify.stdout)

        # a change the running VM cannot take: written to its config, and site.yml says the VM needs a restart
        extra.write_text(yaml.safe_dump({"virtnet_vm_interfaces": [dict(nic, model="e1000e")]}))
        pending = play(fleet, "site.yml", "-e", "@%s" % extra)
        assert recap(pending)["failed"] == 0, pending.stdout[-4000:]
        assert "fleetrun needs a restart for model (set restart: true" in pending.stdout, pending.stdout[-4000:]
        assert "e1000e" in sb.virsh("dumpxml", "--inactive", RUNNING).stdout
        assert "e1000e" not in sb.virsh("dumpxml", RUNNING).stdout
    finally:
        guest.destroy()


@pytest.mark.parametrize("var, index, key, value", [
    ("virtnet_networks", 1, "forwrd", {"mode": "nat"}),
    ("virtnet_vm_interfaces", 1, "modle", "rtl8139"),
])
def test_a_typo_in_an_item_is_refused_by_name_and_nothing_changes(fleet, tmp_path, var, index, key, value):
    """`forwrd:` in a network item would otherwise be dropped silently: the
    host's run fails naming the list, the item's index and the key, and the
    host is left as it was (nothing of the other items is applied either)."""
    assert recap(play(fleet, "site.yml"))["failed"] == 0
    before = host_state(fleet)
    items = [dict(i) for i in fleet["vars"][var]]
    items[index][key] = value
    # a change elsewhere that a run would make, were the declaration valid
    nets = [dict(n) for n in fleet["vars"]["virtnet_networks"]] if var != "virtnet_networks" else items
    nets[0] = dict(nets[0], autostart=False)
    extra = tmp_path / "typo.yml"
    extra.write_text(yaml.safe_dump({var: items, "virtnet_networks": nets}))
    cp = play(fleet, "site.yml", "-e", "@%s" % extra)
    assert recap(cp)["failed"] == 1, cp.stdout[-4000:]
    where = "%s[%d].%s" % (var[len("virtnet_"):], index, key)
    assert "%s=" % where in cp.stdout and "unsupported option" in cp.stdout, cp.stdout[-4000:]
    assert host_state(fleet) == before


def test_host_without_vf_variables_skips_sriov_cleanly(fleet):
    """A host that declares no VFs (an empty list, as most of a fleet): its
    VFs are left alone, the other components are still converged, and
    verify.yml has no VF section for it."""
    sysfs = fleet["kernel"].listing()
    cp = play(fleet, "site.yml", "-e", '{"virtnet_sriov_vfs": []}')
    assert recap(cp)["failed"] == 0, cp.stdout[-4000:]
    assert "TASK [The virtual networking of the host (hypervisor)]" in cp.stdout
    assert not {i for i in items_changed(cp) if i.startswith("sriov_vfs")}, cp.stdout[-4000:]
    verify = play(fleet, "verify.yml", "-e", '{"virtnet_sriov_vfs": []}')
    assert recap(verify) == dict(recap(verify), failed=0, changed=0), verify.stdout[-4000:]
    assert '"sriov": {}' in verify.stdout
    assert fleet["kernel"].listing() == sysfs
