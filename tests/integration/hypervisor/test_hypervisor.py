"""hypervisor against the sandbox hypervisor: whole RHEL procedures as ONE
call each (check mode predicts the real run on a fresh host, a second run
changes nothing), all or nothing at the component boundaries, and
state=overridden.  The bad-input corpus entries of hypervisor live with the
other modules' in tests/integration/evidence/bad_inputs.yml.

Lab subnets: 192.0.2.0/24 in /27s; objects are named hv7-* and removed at
the end.  One sandbox with NetworkManager (the bridge case needs it).
"""

from __future__ import annotations

import time

import pytest

from fakesysfs import FakeKernel
from virtnet_testlib import Hv

P = "hv7-"  # every object of this file
VM = P + "vm"
VM_MAC = "52:54:00:77:00:01"


def net(name, n, mode="nat", dhcp=True, **extra):
    """A network on 192.0.2.(32n)/27: gateway .32n+1, DHCP .32n+10-.32n+20."""
    base = 32 * n
    ip = {"address": "192.0.2.%d/27" % (base + 1)}
    if dhcp:
        ip["dhcp"] = {"ranges": [{"start": "192.0.2.%d" % (base + 10), "end": "192.0.2.%d" % (base + 20)}]}
    args = dict(name=P + name, forward={"mode": mode}, bridge={"stp": False}, ips=[ip], **extra)
    return args


def wipe(hv):
    for name in hv.virsh("net-list", "--all", "--name").split():
        if name.startswith(P):
            hv.virsh("net-destroy", name)
            hv.virsh("net-undefine", name)
    for name in hv.virsh("list", "--all", "--name").split():
        if name.startswith(P):
            hv.virsh("destroy", name)
            hv.virsh("undefine", name)


def _setup(sb):
    h = Hv(sb)
    # libvirt refuses IPv6 forwarding unless accept_ra=2 on an uplink that
    # takes router adverts: inside the sandbox only, lan0 only.
    sb.run_hv(["sysctl", "-qw", "net.ipv6.conf.lan0.accept_ra=2"], check=False)
    wipe(h)
    # libvirt creates its (empty) firewall chains on the first network start
    # and keeps them: let that happen before any baseline snapshot.
    warm = net("warm", 7, "isolated", dhcp=False)
    assert not h.run("hypervisor", networks=[warm]).get("failed")
    wipe(h)
    return h


@pytest.fixture(scope="module")
def hv(sandbox):
    h = _setup(sandbox)
    yield h
    wipe(h)


@pytest.fixture(scope="module")
def hvnm(sandbox_nm):
    """The sandbox with NetworkManager (bridges)."""
    h = _setup(sandbox_nm)
    yield h
    wipe(h)


def _fresh(hv):
    wipe(hv)
    hv.sb.define_guest(VM, [])


@pytest.fixture
def fresh(hv):
    """A fresh host for each procedure: no hv7- networks, a shut-off guest."""
    _fresh(hv)
    yield hv
    wipe(hv)


@pytest.fixture
def freshnm(hvnm):
    _fresh(hvnm)
    yield hvnm
    wipe(hvnm)


def one_call(hv, args):
    """check -> real -> again: the user's whole procedure as one task."""
    before = hv.sb.snapshot()
    check = hv.run("hypervisor", check=True, **args)
    assert not check.get("failed"), check
    assert check["changed"] is True
    assert hv.sb.snapshot() == before, "check mode changed the host"
    real = hv.run("hypervisor", **args)
    assert not real.get("failed"), real
    assert real["actions"] == check["actions"], (check["actions"], real["actions"])
    assert real["states"] == check["states"], (check["states"], real["states"])
    again = hv.run("hypervisor", **args)
    assert not again.get("failed"), again
    assert again["changed"] is False and again["actions"] == [], again
    return real


def kinds(result, item):
    return [a["kind"] for a in result["actions"] if a["item"] == item]


def iface_xml(hv, domain, mac):
    from lxml import etree
    root = etree.fromstring(hv.virsh("dumpxml", "--inactive", domain).encode())
    for el in root.findall("devices/interface"):
        if el.find("mac").get("address") == mac:
            return el
    return None


# --------------------------------------------------------------------------
# 1. RHEL procedures, one call each, on a fresh host
# --------------------------------------------------------------------------

def test_default_nat_network_with_static_host_and_a_guest_nic(fresh):
    hv = fresh
    nat = net("nat", 1, autostart=True)
    nat["ips"][0]["dhcp"]["hosts"] = [{"mac": VM_MAC, "ip": "192.0.2.40", "name": "web1"}]
    args = dict(networks=[nat], vm_interfaces=[
        dict(domain=VM, alias="ua-lan", mac=VM_MAC, type="network", source=P + "nat", model="virtio")])
    real = one_call(hv, args)
    assert kinds(real, "networks[0]") == ["define", "start", "autostart"]
    assert kinds(real, "vm_interfaces[0]") == ["define"]
    xml = hv.virsh("net-dumpxml", P + "nat")
    assert "<forward mode='nat'" in xml and "<host mac='%s' name='web1' ip='192.0.2.40'/>" % VM_MAC in xml
    assert hv.virsh("net-info", P + "nat").count("yes") >= 3  # active, persistent, autostart
    el = iface_xml(hv, VM, VM_MAC)
    assert el is not None and el.get("type") == "network"
    assert el.find("source").get("network") == P + "nat" and el.find("model").get("type") == "virtio"
    assert el.find("alias").get("name") == "ua-lan"


def test_routed_network(fresh):
    hv = fresh
    real = one_call(hv, dict(networks=[net("routed", 2, "route")]))
    assert kinds(real, "networks[0]") == ["define", "start"]
    xml = hv.virsh("net-dumpxml", P + "routed")
    assert "<forward mode='route'" in xml and "192.0.2.65" in xml
    # the host routes the subnet to the network's bridge
    assert "192.0.2.64/27" in hv.sb.run_hv(["ip", "-4", "route"]).stdout


def test_isolated_network_with_pxe_declared_in_the_same_call(fresh, tmp_path_factory):
    hv = fresh
    root = hv.sb.state_dir / "hv7-tftp"
    hv.sb.run_hv(["rm", "-rf", str(root)])
    # no restart option: the network this call creates has no guest yet, so
    # the run restarts it to serve PXE now, not after a restart the user has
    # to remember
    args = dict(networks=[net("pxe", 3, "isolated")],
                pxe_networks=[dict(name=P + "pxe", tftp_root=str(root), bootp_file="boot.ipxe",
                                   boot_files=[{"name": "boot.ipxe", "content": "#!ipxe\necho hv7\n"}])])
    # the single pxe_network module could not check-mode this: no such network yet
    real = one_call(hv, args)
    assert kinds(real, "networks[0]")[:2] == ["define", "start"] and kinds(real, "pxe_networks[0]")
    assert real["restart_required"] is False, real
    xml = hv.virsh("net-dumpxml", P + "pxe")  # live: what dnsmasq serves
    assert "<forward" not in xml  # isolated
    assert "<tftp root='%s'/>" % root in xml and "<bootp file='boot.ipxe'/>" in xml
    assert (root / "boot.ipxe").read_text() == "#!ipxe\necho hv7\n"
    hv.sb.run_hv(["rm", "-rf", str(root)])


def test_vm_interface_on_a_network_declared_in_the_same_call(fresh):
    hv = fresh
    mac = "52:54:00:77:00:02"
    args = dict(networks=[net("back", 4, "isolated")],
                vm_interfaces=[dict(domain=VM, mac=mac, type="network", source=P + "back", link="down")])
    real = one_call(hv, args)
    assert kinds(real, "vm_interfaces[0]") == ["define"]
    el = iface_xml(hv, VM, mac)
    assert el.find("source").get("network") == P + "back" and el.find("link").get("state") == "down"


def test_open_network(fresh):
    hv = fresh
    real = one_call(hv, dict(networks=[net("open", 5, "open", autostart=True)]))
    assert kinds(real, "networks[0]") == ["define", "start", "autostart"]
    assert "<forward mode='open'/>" in hv.virsh("net-dumpxml", P + "open")


def test_bridge_and_a_bridge_mode_network_on_it(freshnm):
    hv = freshnm
    sb = hv.sb
    br = "hv7br0"
    args = dict(bridges=[dict(name=br, ports=["lan2"], ipv4={"method": "disabled"}, ipv6={"method": "disabled"})],
                networks=[dict(name=P + "host", forward={"mode": "bridge"}, bridge={"name": br})])
    try:
        real = one_call(hv, args)
        assert kinds(real, "networks[0]") == ["define", "start"]
        xml = hv.virsh("net-dumpxml", P + "host")
        assert "<forward mode='bridge'/>" in xml and "<bridge name='%s'/>" % br in xml
        assert sb.run_hv(["ip", "-o", "link", "show", "master", br]).stdout.count("lan2") == 1
    finally:
        wipe(hv)
        for name in sb.nmcli("-g", "NAME", "connection", "show").stdout.split():
            if name.startswith(br):
                sb.nmcli("connection", "delete", name)


# --------------------------------------------------------------------------
# 2. all or nothing at the component boundaries
# --------------------------------------------------------------------------

@pytest.fixture
def ipv6_forwarding_refused(hv):
    """libvirt refuses to start an IPv6 network while lan2 takes router
    adverts without accept_ra=2 (as test_virt_network.py provokes it)."""
    sb = hv.sb
    sb.run_hv(["sysctl", "-qw", "net.ipv6.conf.lan2.accept_ra=1"], check=True)
    fwd = sb.run_hv(["sysctl", "-n", "net.ipv6.conf.lan2.forwarding"], check=True).stdout.strip()
    sb.run_hv(["sysctl", "-qw", "net.ipv6.conf.lan2.forwarding=0"], check=True)
    sb.run_hv(["ip", "link", "set", "lan2", "down"], check=True)
    sb.run_hv(["ip", "link", "set", "lan2", "up"], check=True)
    deadline = time.monotonic() + 30
    while not sb.run_hv(["ip", "-6", "route", "show", "dev", "lan2", "proto", "ra"]).stdout.strip():
        assert time.monotonic() < deadline, "no router advert reached lan2 in 30 s"
        time.sleep(0.3)
    yield
    sb.run_hv(["sysctl", "-qw", "net.ipv6.conf.lan2.accept_ra=2"], check=True)
    sb.run_hv(["sysctl", "-qw", "net.ipv6.conf.lan2.forwarding=" + fwd], check=True)


def routes_as_set(snap):
    """A port that left a bridge and came back gets its kernel routes back
    in another order: the same routes, compared as a set."""
    return dict(snap, hv_routes=sorted(snap["hv_routes"].splitlines()))


def assert_all_or_nothing(hv, args, failing_item, before):
    check = hv.run("hypervisor", check=True, **args)
    assert not check.get("failed"), check  # nothing in the plan can see it coming
    result = hv.run("hypervisor", **args)
    assert result.get("failed"), "the failure was not provoked: %s" % result
    assert result["msg"].startswith(failing_item + " "), result["msg"]
    assert result.get("item") == failing_item, result
    assert result.get("rolled_back"), result
    assert routes_as_set(hv.sb.snapshot()) == routes_as_set(before)


def test_networks_to_networks_failure_undoes_the_first_network(fresh, ipv6_forwarding_refused):
    hv = fresh
    before = hv.sb.snapshot()
    bad = net("v6", 2, "nat")
    bad["ips"].append({"address": "2001:db8:77::1/64"})
    assert_all_or_nothing(hv, dict(networks=[net("ok", 1, autostart=True), bad]), "networks[1]", before)


def test_networks_to_pxe_failure_undoes_the_network(fresh):
    hv = fresh
    before = hv.sb.snapshot()
    # /proc takes no new directory: the PXE step fails after the network is up
    args = dict(networks=[net("pxe", 3, "isolated")],
                pxe_networks=[dict(name=P + "pxe", tftp_root="/proc/hv7-tftp", bootp_file="a.ipxe",
                                   boot_files=[{"name": "a.ipxe", "content": "#!ipxe\n"}])])
    assert_all_or_nothing(hv, args, "pxe_networks[0]", before)


def test_bridges_to_networks_to_pxe_failure_undoes_bridge_and_network(freshnm):
    hv = freshnm
    sb = hv.sb
    br = "hv7br1"
    before = sb.snapshot()
    nm_before = sb.nmcli("-g", "NAME,TYPE", "connection", "show").stdout
    args = dict(bridges=[dict(name=br, ports=["lan1"], ipv4={"method": "disabled"}, ipv6={"method": "disabled"})],
                networks=[net("pxe2", 3, "isolated")],
                pxe_networks=[dict(name=P + "pxe2", tftp_root="/proc/hv7-tftp", bootp_file="a.ipxe",
                                   boot_files=[{"name": "a.ipxe", "content": "#!ipxe\n"}])])
    try:
        assert_all_or_nothing(hv, args, "pxe_networks[0]", before)
        assert sb.nmcli("-g", "NAME,TYPE", "connection", "show").stdout == nm_before
    finally:
        for name in sb.nmcli("-g", "NAME", "connection", "show").stdout.split():
            if name.startswith(br):
                sb.nmcli("connection", "delete", name)

# --------------------------------------------------------------------------
# 4. state: overridden within a prefix
# --------------------------------------------------------------------------

def test_overridden_removes_only_undeclared_prefixed_networks(fresh):
    hv = fresh
    keep, stale, other = P + "keep", P + "stale", "hv8-other"
    assert not hv.run("hypervisor", networks=[net("keep", 1, "isolated"), net("stale", 2, "isolated"),
                                              dict(net("x", 3, "isolated"), name=other)]).get("failed")
    try:
        args = dict(state="overridden", managed={"lists": ["networks"], "prefix": P},
                    networks=[net("keep", 1, "isolated")])
        check = hv.run("hypervisor", check=True, **args)
        assert not check.get("failed"), check
        assert check["actions"] and all(a["name"] == stale for a in check["actions"]), check["actions"]
        assert set(hv.virsh("net-list", "--all", "--name").split()) >= {keep, stale, other}
        real = hv.run("hypervisor", **args)
        assert not real.get("failed"), real
        assert real["actions"] == check["actions"]
        names = set(hv.virsh("net-list", "--all", "--name").split())
        assert keep in names and other in names and stale not in names
        again = hv.run("hypervisor", **args)
        assert again["changed"] is False, again
    finally:
        hv.virsh("net-destroy", other)
        hv.virsh("net-undefine", other)


def test_overridden_refuses_to_remove_a_network_a_running_guest_uses(fresh):
    hv = fresh
    used = P + "used"
    assert not hv.run("hypervisor", networks=[net("used", 6, "isolated")]).get("failed")
    guest = P + "run"
    hv.sb.start_guest(guest, [{"source": used, "mac": "52:54:00:77:00:06"}])  # transient, running
    try:
        args = dict(state="overridden", managed={"lists": ["networks"], "prefix": P}, networks=[])
        # (the snapshot waits for the guest's new tap to finish IPv6 DAD)
        before = routes_as_set(hv.sb.snapshot())
        for check in (True, False):
            res = hv.run("hypervisor", check=check, **args)
            assert res.get("failed"), res
            assert res["msg"].startswith("state="), res["msg"]
            assert "'overridden'" in res["msg"] and used in res["msg"] and guest in res["msg"], res["msg"]
        assert routes_as_set(hv.sb.snapshot()) == before
        # force says the user means it: check mode lists the removal
        forced = hv.run("hypervisor", check=True, force=True, **args)
        assert not forced.get("failed"), forced
        assert {a["name"] for a in forced["actions"]} == {used}, forced["actions"]
    finally:
        hv.virsh("destroy", guest)


def test_networks_to_vm_interfaces_failure_undoes_the_network(fresh):
    hv = fresh
    guest = P + "hot"
    # a running guest: qemu, not the planner, refuses the NIC model at hotplug
    hv.sb.start_guest(guest, [])
    try:
        before = hv.sb.snapshot()
        args = dict(networks=[net("hot", 4, "isolated")],
                    vm_interfaces=[dict(domain=guest, mac="52:54:00:77:00:0a", type="network", source=P + "hot",
                                        model="nosuchnic")])
        assert_all_or_nothing(hv, args, "vm_interfaces[0]", before)
    finally:
        hv.virsh("destroy", guest)


def test_sriov_vfs_and_a_guest_on_them_in_one_call(fresh, tmp_path):
    """Configuring virtual machine network connections, 15.7 (attaching
    SR-IOV networking devices to virtual machines), with a NIC on a network
    beside the VF, as one call on a host without VFs: the single modules
    planned the VF count and the VM's interfaces in separate tasks; one
    declaration plans the count, the persistent udev rule, the VF given to
    the VM and its NIC, and check mode writes nothing to the kernel."""
    hv = fresh
    kernel = FakeKernel(tmp_path / "root")
    kernel.add_pf("eth1", driver="ixgbe", total=7, slot=3)
    kernel.delay = 0.3               # VFs appear a moment after the write, as on hardware
    kernel.watch()
    try:
        args = dict(sriov_vfs=[dict(pf="eth1", num_vfs=2, sysfs_root=kernel.root,
                                    attach={"vm": VM, "mac": "52:54:00:77:00:0f", "live": False})],
                    networks=[net("vfnet", 5, "isolated")],
                    vm_interfaces=[dict(domain=VM, alias="ua-mgmt", type="network", source=P + "vfnet")])
        tree = kernel.listing()
        check = hv.run("hypervisor", check=True, **args)
        assert not check.get("failed"), check
        assert kernel.listing() == tree and kernel.writes == []
        real = one_call(hv, args)
        assert kinds(real, "sriov_vfs[0]") == ["numvfs", "udev", "attach"]
        assert [v for _p, v in kernel.writes] == ["2"]
        dom = hv.virsh("dumpxml", "--inactive", VM)
        assert "<interface type='hostdev'" in dom and "52:54:00:77:00:0f" in dom and "ua-mgmt" in dom
    finally:
        kernel.stop()


def test_vfs_of_one_pf_for_two_vms_in_one_call(fresh, tmp_path):
    """One PF's VFs for two VMs: the sriov_vfs item (one per PF) makes the
    VFs and gives one to the first VM; the second VM gets another VF through
    a vm_interfaces item of type hostdev naming the VF's PCI address, as the
    refusal of a second sriov_vfs item for the same PF says."""
    hv = fresh
    vm2 = P + "vm2"
    hv.sb.define_guest(vm2, [])
    kernel = FakeKernel(tmp_path / "root")
    kernel.add_pf("eth1", driver="ixgbe", total=7, slot=3)
    kernel.watch()
    try:
        twice = dict(sriov_vfs=[dict(pf="eth1", num_vfs=3, sysfs_root=kernel.root, attach={"vm": VM, "live": False}),
                                dict(pf="eth1", sysfs_root=kernel.root, attach={"vm": vm2, "live": False})])
        for check in (True, False):
            refused = hv.run("hypervisor", check=check, **twice)
            assert refused.get("failed"), refused
            assert refused["msg"].startswith("sriov_vfs[1].pf='eth1': already declared by sriov_vfs[0]"), refused
            assert "vm_interfaces item of type hostdev" in refused["msg"], refused["msg"]
        assert kernel.writes == []
        vf2 = kernel.vf_pci("eth1", 2)
        args = dict(sriov_vfs=[twice["sriov_vfs"][0]],
                    vm_interfaces=[dict(domain=vm2, type="hostdev", source=vf2, mac="52:54:00:77:00:2f")])
        real = one_call(hv, args)
        assert kinds(real, "sriov_vfs[0]") == ["numvfs", "udev", "attach"]
        assert kinds(real, "vm_interfaces[0]") == ["define"], real["actions"]
        assert "<interface type='hostdev'" in hv.virsh("dumpxml", "--inactive", VM)
        bus, slot, fn = vf2.split(":")[1], vf2.split(":")[2].split(".")[0], vf2.split(".")[1]
        el = iface_xml(hv, vm2, "52:54:00:77:00:2f")
        src = el.find("source/address")
        assert el.get("type") == "hostdev" and int(src.get("bus"), 16) == int(bus, 16) \
            and int(src.get("slot"), 16) == int(slot, 16) and int(src.get("function"), 16) == int(fn, 16), \
            hv.virsh("dumpxml", "--inactive", vm2)
    finally:
        kernel.stop()
