"""hypervisor_info against the sandbox hypervisor: a host built by hand the
way the RHEL procedures do it (``virsh net-define`` / ``net-start`` /
``net-autostart`` of a NAT network with DHCP and a static host, an isolated
network, a network serving PXE from its own TFTP root, a guest with two NICs
defined and started with ``virsh``, VFs made with ``echo 2 >
sriov_numvfs`` on the fake kernel tree), read back with hypervisor_info, and
every item it returns given back to its own module: each run must report
changed=false with no action, and the host's snapshot (libvirt XML live and
inactive, links, addresses, routes, firewall) and the fake kernel tree must
be exactly as before.

Lab subnets: vh9nat 192.0.2.0/26, vh9iso 192.0.2.64/26, vh9pxe 192.0.2.128/26.
"""

from __future__ import annotations

import os
import shutil

import pytest

from fakesysfs import FakeKernel
from virtnet_testlib import Hv, run_module

GUEST = "vh9g"
MAC_NAT = "52:54:00:9a:00:01"
MAC_ISO = "52:54:00:9a:00:02"
NAT_XML = """<network>
  <name>vh9nat</name>
  <forward mode='nat'/>
  <ip address='192.0.2.1' netmask='255.255.255.192'>
    <dhcp>
      <range start='192.0.2.10' end='192.0.2.50'/>
      <host mac='%s' name='%s' ip='192.0.2.5'/>
    </dhcp>
  </ip>
</network>
""" % (MAC_NAT, GUEST)
ISO_XML = """<network>
  <name>vh9iso</name>
  <ip address='192.0.2.65' prefix='26'/>
</network>
"""
PXE_XML = """<network>
  <name>vh9pxe</name>
  <forward mode='nat'/>
  <ip address='192.0.2.129' prefix='26'>
    <tftp root='%s'/>
    <dhcp>
      <range start='192.0.2.140' end='192.0.2.150'/>
      <bootp file='pxelinux.0'/>
    </dhcp>
  </ip>
</network>
"""
# item list -> the single module that takes its items
MODULES = {"bridges": "nm_bond_bridge", "sriov_vfs": "sriov_vf", "networks": "virt_network",
           "pxe_networks": "pxe_network", "vm_interfaces": "virt_iface"}


@pytest.fixture(scope="module")
def built(sandbox, tmp_path_factory):
    """The host, made with virsh and echo only."""
    hv = Hv(sandbox)
    tftp = sandbox.state_dir / "vh9tftp"
    shutil.rmtree(tftp, ignore_errors=True)
    tftp.mkdir()
    os.chmod(tftp, 0o755)
    (tftp / "pxelinux.0").write_bytes(b"\x00PXE boot loader")
    os.chmod(tftp / "pxelinux.0", 0o644)
    xml_dir = tmp_path_factory.mktemp("vh9xml")
    for name, xml, autostart in (("vh9nat", NAT_XML, True), ("vh9iso", ISO_XML, False),
                                 ("vh9pxe", PXE_XML % tftp, False)):
        path = xml_dir / (name + ".xml")
        path.write_text(xml)
        sandbox.virsh("net-define", str(path))
        sandbox.virsh("net-start", name)
        if autostart:
            sandbox.virsh("net-autostart", name)
    guest = sandbox.define_guest(GUEST, [{"type": "network", "source": "vh9nat", "mac": MAC_NAT},
                                         {"type": "network", "source": "vh9iso", "mac": MAC_ISO, "model": "e1000",
                                          "link": "down"}])
    sandbox.virsh("start", GUEST)
    # Booted and leased its static address: the host works as built, and the
    # guest's own link events are over before any snapshot is taken.
    assert guest.wait_for_lease("eth0", timeout=180) == "192.0.2.5"
    kernel = FakeKernel(tmp_path_factory.mktemp("vh9sys") / "root")
    kernel.add_pf("eth1", driver="ixgbe", total=7, slot=3)
    kernel.add_pf("eth0", driver="e1000e", total=None, slot=2)
    # echo 2 > /sys/class/net/eth1/device/sriov_numvfs, with no udev rule (15.7 without its step 5)
    kernel.write("/" + os.path.relpath(kernel.numvfs_path("eth1"), kernel.root), "2")
    yield hv, kernel, tftp
    kernel.stop()
    sandbox.virsh("destroy", GUEST, check=False)
    sandbox.virsh("undefine", GUEST, check=False)
    for name in ("vh9nat", "vh9iso", "vh9pxe"):
        sandbox.virsh("net-destroy", name, check=False)
        sandbox.virsh("net-undefine", name, check=False)
    shutil.rmtree(tftp, ignore_errors=True)


def _mine(items, key, prefix="vh9"):
    return [i for i in items if i[key].startswith(prefix)]


def test_a_host_built_by_hand_reads_back_as_the_modules_options(built):
    hv, kernel, tftp = built
    r = hv.run("hypervisor_info", sysfs_root=kernel.root)
    assert not r.get("failed"), r
    assert r["changed"] is False
    host = r["hypervisor"]
    assert set(host) == set(MODULES)
    nets = {n["name"]: n for n in _mine(host["networks"], "name")}
    assert sorted(nets) == ["vh9iso", "vh9nat", "vh9pxe"]
    nat = nets["vh9nat"]
    assert (nat["state"], nat["autostart"], nat["forward"]) == ("running", True, {"mode": "nat"})
    assert nat["bridge"]["name"].startswith("virbr")          # libvirt picked it on net-define
    assert nat["ips"] == [{"address": "192.0.2.1/26", "dhcp": {
        "ranges": [{"start": "192.0.2.10", "end": "192.0.2.50"}],
        "hosts": [{"mac": MAC_NAT, "ip": "192.0.2.5", "name": GUEST}]}}]
    iso = nets["vh9iso"]
    assert (iso["state"], iso["autostart"], iso["forward"]) == ("running", False, {"mode": "isolated"})
    assert iso["ips"] == [{"address": "192.0.2.65/26"}]
    # The TFTP root and boot file are the PXE item's; virt_network's item does not carry them.
    assert "tftp" not in str(nets["vh9pxe"]) and "pxelinux" not in str(nets["vh9pxe"])
    assert _mine(host["pxe_networks"], "name") == [{
        "name": "vh9pxe", "address": "192.0.2.129/26", "tftp_root": str(tftp), "owner": "root", "group": "root",
        "boot_files": [{"name": "pxelinux.0"}], "bootp_file": "pxelinux.0"}]
    assert _mine(host["vm_interfaces"], "domain") == [
        {"domain": GUEST, "mac": MAC_NAT, "type": "network", "source": "vh9nat", "model": "virtio", "link": "up"},
        {"domain": GUEST, "mac": MAC_ISO, "type": "network", "source": "vh9iso", "model": "e1000", "link": "down"},
    ]
    assert host["sriov_vfs"] == [{"pf": "eth1", "num_vfs": 2, "persistent": False}]
    # This sandbox runs no NetworkManager: said, not guessed.
    assert host["bridges"] == [] and any(n.startswith("bridges: not read") for n in r["notes"]), r["notes"]


def test_every_item_given_back_to_its_module_changes_nothing(built, sandbox):
    hv, kernel, _tftp = built
    r = hv.run("hypervisor_info", sysfs_root=kernel.root)
    assert not r.get("failed"), r
    before, tree, writes = sandbox.snapshot(), kernel.listing(), list(kernel.writes)
    ran = []
    for key, items in r["hypervisor"].items():
        for item in items:
            if key == "bridges":        # nm_bond_bridge takes no uri
                res = run_module(MODULES[key], item, argv_prefix=hv.prefix)
            elif key == "sriov_vfs":
                res = hv.run(MODULES[key], sysfs_root=kernel.root, **item)
            else:
                res = hv.run(MODULES[key], **item)
            ran.append((key, item, res))
    # every item of the host built here, and whatever else the sandbox has
    assert len(ran) >= 3 + 1 + 2 + 1
    failed = [(k, i, res.get("msg")) for k, i, res in ran if res.get("failed")]
    assert failed == []
    changed = [(k, i, res["actions"]) for k, i, res in ran if res["changed"] or res["actions"]]
    assert changed == []
    assert sandbox.snapshot() == before
    print("%d items given back, none changed; notes: %s" % (len(ran), r["notes"]))
    assert kernel.listing() == tree and kernel.writes == writes


# --------------------------------------------------------------------------
# A host bridge made with nmcli (Configuring virtual machine network
# connections, 15.9), on the sandbox that runs NetworkManager
# --------------------------------------------------------------------------

@pytest.fixture
def nm_bridge(sandbox_nm):
    sb = sandbox_nm

    def nmcli(*args):
        cp = sb.nmcli(*args)
        assert cp.returncode == 0, (args, cp.stderr)

    nmcli("connection", "add", "type", "bridge", "con-name", "vh9br", "ifname", "vh9br", "bridge.stp", "no",
          "ipv4.method", "manual", "ipv4.addresses", "198.51.100.61/24", "ipv6.method", "disabled")
    nmcli("connection", "add", "type", "ethernet", "con-name", "vh9br-lan2", "ifname", "lan2",
          "master", "vh9br", "slave-type", "bridge")
    nmcli("connection", "up", "vh9br")
    yield sb
    for name in ("vh9br-lan2", "vh9br"):
        sb.nmcli("connection", "delete", "id", name)
    sb.run_hv(["ip", "link", "del", "vh9br"])
    sb.run_hv(["ip", "addr", "flush", "dev", "lan2"])


def test_a_bridge_made_with_nmcli_given_back_changes_nothing(nm_bridge):
    sb = nm_bridge
    hv = Hv(sb)
    r = hv.run("hypervisor_info", include=["bridges"])
    assert not r.get("failed"), r
    assert [n for n in r["notes"] if n.startswith("bridges")] == []
    (item,) = [b for b in r["hypervisor"]["bridges"] if b["name"] == "vh9br"]
    assert item == {"name": "vh9br", "stp": False, "autoconnect_ports": False, "ports": ["lan2"],
                    "ipv4": {"method": "manual", "addresses": ["198.51.100.61/24"]},
                    "ipv6": {"method": "disabled"}}
    assert r["hypervisor"]["networks"] == [] and r["hypervisor"]["vm_interfaces"] == []   # not included
    profiles = sb.nmcli("-t", "connection", "show").stdout
    before = sb.snapshot()
    res = run_module("nm_bond_bridge", item, argv_prefix=hv.prefix)
    assert not res.get("failed"), res
    assert (res["changed"], res["actions"]) == (False, [])
    assert sb.nmcli("-t", "connection", "show").stdout == profiles and sb.snapshot() == before


def _given_back(r, sysfs_root=None):
    """hypervisor_info's output as the hypervisor task's arguments."""
    args = {key: [dict(item) for item in items] for key, items in r["hypervisor"].items()}
    for item in args["sriov_vfs"]:
        item["sysfs_root"] = sysfs_root
    return args


def test_the_whole_host_given_back_to_hypervisor_changes_nothing(built, sandbox):
    """The info module's output is the hypervisor module's input: one task,
    check mode and real, plans and changes nothing."""
    hv, kernel, _tftp = built
    r = hv.run("hypervisor_info", sysfs_root=kernel.root)
    assert not r.get("failed"), r
    args = _given_back(r, kernel.root)
    assert sum(len(v) for v in args.values()) >= 7
    before, tree, writes = sandbox.snapshot(), kernel.listing(), list(kernel.writes)
    for check in (True, False):
        res = hv.run("hypervisor", check=check, **args)
        assert not res.get("failed"), res
        assert (res["changed"], res["actions"]) == (False, []), res["actions"]
    assert sandbox.snapshot() == before
    assert kernel.listing() == tree and kernel.writes == writes


def test_a_bridge_made_with_nmcli_given_back_to_hypervisor_changes_nothing(nm_bridge):
    sb = nm_bridge
    hv = Hv(sb)
    r = hv.run("hypervisor_info", include=["bridges"])
    assert not r.get("failed"), r
    bridges = [b for b in r["hypervisor"]["bridges"] if b["name"] == "vh9br"]
    profiles, before = sb.nmcli("-t", "connection", "show").stdout, sb.snapshot()
    for check in (True, False):
        res = hv.run("hypervisor", check=check, bridges=bridges)
        assert not res.get("failed"), res
        assert (res["changed"], res["actions"]) == (False, []), res["actions"]
    assert sb.nmcli("-t", "connection", "show").stdout == profiles and sb.snapshot() == before
