"""sriov_vf end to end in-process: the real engine, planner and sysfs code
against the fake kernel (tests/fakesysfs.py) and a fake libvirt holding
domain XML.  Every scenario runs check -> apply -> apply again, and the
kernel's log proves the count went through 0.  (Against the real libvirt:
tests/integration/sriov_vf/.)"""

import copy
import os
import stat

import pytest
from lxml import etree

from ansible_collections.virtnet.networking.plugins.module_utils import engine as eng
from ansible_collections.virtnet.networking.plugins.module_utils.libvirt import conn as lc
from ansible_collections.virtnet.networking.plugins.module_utils.sriov import engine as se
from ansible_collections.virtnet.networking.plugins.module_utils.sriov import info as sinfo
from ansible_collections.virtnet.networking.plugins.module_utils.errors import VirtnetError
from ansible_collections.virtnet.networking.plugins.module_utils.fsroot import FsRoot
from ansible_collections.virtnet.networking.plugins.modules import sriov_vf

from fakesysfs import FakeKernel, fake_grubby
from unit import fakes
from unit.fakes import FakeClock, FakeLibvirt

RULE2 = ('# Managed by virtnet.networking.sriov_vf: 2 VFs on eth1 at boot (Configuring virtual machine network connections, 15.7.2).\n'
         'ACTION=="add", SUBSYSTEM=="net", ENV{ID_NET_DRIVER}=="ixgbe", ATTR{device/sriov_numvfs}="2"\n')
DOMAIN = "<domain type='qemu'><name>%s</name><devices><interface type='network'><mac address='52:54:00:aa:00:01'/>" \
         "<source network='default'/></interface></devices></domain>"


class FakeDom:
    def __init__(self, name, active=False):
        self._name = name
        self.active = active
        self.config = etree.fromstring(DOMAIN % name)
        self.live = copy.deepcopy(self.config) if active else None
        self.calls = []

    def name(self):
        return self._name

    def isActive(self):  # noqa: N802 - libvirt's name
        return self.active

    def isPersistent(self):  # noqa: N802
        return not getattr(self, "transient", False)

    def XMLDesc(self, flags):  # noqa: N802
        tree = self.config if (flags & 2 or not self.active) else self.live
        return etree.tostring(tree, encoding="unicode")

    def _trees(self, flags):
        out = []
        if flags & lc.AFFECT_CONFIG:
            out.append(self.config)
        if flags & lc.AFFECT_LIVE:
            if not self.active:
                raise VirtnetError("libvirt: Requested operation is not valid: domain is not running")
            out.append(self.live)
        return out

    def attachDeviceFlags(self, xml, flags):  # noqa: N802
        self.calls.append(("attach", xml, flags))
        if getattr(self, "refuse_mac", None) and self.refuse_mac in xml:
            # libvirt refuses atomically: neither view changes.
            raise VirtnetError("libvirt: internal error: refused for the test")
        for tree in self._trees(flags):
            tree.find("devices").append(etree.fromstring(xml))

    def detachDeviceFlags(self, xml, flags):  # noqa: N802
        self.calls.append(("detach", xml, flags))
        want = etree.tostring(etree.fromstring(xml), method="c14n")
        for tree in self._trees(flags):
            for el in tree.find("devices"):
                if etree.tostring(el, method="c14n") == want:
                    tree.find("devices").remove(el)
                    break
            else:
                raise VirtnetError("libvirt: no matching device")

    def add_hostdev_iface(self, pci, mac, where=("config",)):
        dom, rest = pci.split(":", 1)
        bus, rest = rest.split(":")
        slot, fn = rest.split(".")
        xml = ("<interface type='hostdev' managed='yes'><mac address='%s'/><source><address type='pci' "
               "domain='0x%s' bus='0x%s' slot='0x%s' function='0x%s'/></source></interface>" % (mac, dom, bus, slot, fn))
        for w in where:
            getattr(self, w).find("devices").append(etree.fromstring(xml))

    def add_bare_hostdev(self, slot, fn):
        self.config.find("devices").append(etree.fromstring(
            "<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x00' "
            "slot='0x%02x' function='0x%x'/></source></hostdev>" % (slot, fn)))

    def hostdevs(self, view="config"):
        tree = getattr(self, view)
        return [(el.find("mac").get("address"), dict(el.find("source/address").attrib))
                for el in tree.findall("devices/interface[@type='hostdev']")]


def FakeLv(*doms):  # noqa: N802 - reads as the class it builds
    return FakeLibvirt(domains=doms)


def FakeModule(params, check=False, bindir=None):  # noqa: N802
    """sriov_vf's parameters as AnsibleModule makes them."""
    return fakes.FakeModule(params, argument_spec=sriov_vf.argument_spec(), check_mode=check, bindir=bindir)


class Host:
    """A fake hypervisor: kernel tree, libvirt domains, grubby."""

    def __init__(self, tmp_path, **kw):
        self.kernel = FakeKernel(tmp_path / "root", **kw)
        self.kernel.add_pf("eth1", driver="ixgbe", total=7, slot=3)
        self.kernel.add_pf("eth0", driver="e1000e", total=None, slot=2)
        self.kernel.add_virtual("br0")
        self.lv = FakeLv(FakeDom("vm1"), FakeDom("vm2"), FakeDom("vm3", active=True))
        self.grubby = fake_grubby(tmp_path / "bin", tmp_path)
        self.bindir = str(tmp_path / "bin")

    def run(self, check=False, clock=None, **params):
        params.setdefault("uri", "test:///default")
        module = FakeModule(dict(params, sysfs_root=self.kernel.root), check=check, bindir=self.bindir)
        timing = {"clock": clock, "sleep": clock.sleep} if clock else {}
        engine = se.SriovEngine(module, writer=self.kernel, lv=self.lv, **timing)
        try:
            eng.run(module, engine)
        except fakes.Exited as done:
            return dict(done.result, warnings=module.warnings)
        except fakes.Failed as failed:
            return dict(failed.result, failed=True)
        raise AssertionError("module neither exited nor failed")

    def converge(self, **params):
        check = self.run(check=True, **params)
        assert not check.get("failed"), check
        applied = self.run(**params)
        assert not applied.get("failed"), applied
        assert (check["changed"], check["actions"], check["diff"]["after"]) == \
            (applied["changed"], applied["actions"], applied["diff"]["after"])
        again = self.run(**params)
        assert not again.get("failed"), again
        assert again["changed"] is False and again["actions"] == [], again
        return check, applied, again

    def rule(self):
        path = self.kernel.p("etc/udev/rules.d/eth1.rules")
        if not os.path.exists(path):
            return None, None
        return open(path).read(), stat.S_IMODE(os.stat(path).st_mode)

    def numvfs_writes(self):
        return [v for p, v in self.kernel.writes if p.endswith("sriov_numvfs")]

    def grubby_calls(self):
        try:
            return open(self.grubby["log"]).read().splitlines()
        except FileNotFoundError:
            return []


@pytest.fixture
def host(tmp_path):
    h = Host(tmp_path)
    yield h
    h.kernel.stop()


def test_create_vfs_check_apply_again_and_the_udev_rule(host):
    check, applied, again = host.converge(pf="eth1", num_vfs=2)
    assert check["changed"] and [a["kind"] for a in applied["actions"]] == ["numvfs", "udev"]
    assert host.numvfs_writes() == ["2"]
    assert applied["sriov"]["numvfs"] == 2 and applied["sriov"]["udev_rule"] == RULE2
    assert host.rule() == (RULE2, 0o644)
    assert [v.netdev for v in se.Sysfs(FsRoot(host.kernel.root)).pf("eth1").vfs] == ["eth1v0", "eth1v1"]
    assert applied["diff"]["before"]["numvfs"] == 0 and applied["diff"]["before"]["udev_rule"] is None
    # The rule is written atomically: no temporary file is left beside it.
    assert os.listdir(host.kernel.p("etc/udev/rules.d")) == ["eth1.rules"]


def test_a_non_zero_count_changes_through_zero(host):
    host.converge(pf="eth1", num_vfs=2)
    check, applied, _again = host.converge(pf="eth1", num_vfs=4)
    assert "2 -> 0 -> 4 VFs" in applied["actions"][0]["summary"]
    # Without the 0 the fake kernel would have answered EBUSY, as the real one does.
    assert host.numvfs_writes() == ["2", "0", "4"]
    assert host.rule()[0].endswith('ATTR{device/sriov_numvfs}="4"\n')


def test_vfs_that_appear_late_are_waited_for(host):
    host.kernel.delay = 0.5
    _c, applied, _a = host.converge(pf="eth1", num_vfs=3, persistent=False)
    assert applied["sriov"]["numvfs"] == 3 and host.rule() == (None, None)


def test_vfs_that_never_appear_fail_with_the_wait_timeout(host):
    host.kernel.delay = float("inf")          # a driver that never makes them
    clock = FakeClock()
    result = host.run(pf="eth1", num_vfs=2, wait_timeout=1, clock=clock)
    assert result["failed"] and result["msg"] == \
        "eth1: the VFs did not appear within wait_timeout=1 s: 0 of 2 VFs present"
    assert 1001 <= clock.now < 1001.5           # waited out the timeout, on the injected clock


def test_driver_refusing_the_new_count_restores_the_old_one(host):
    host.converge(pf="eth1", num_vfs=2)
    host.kernel.refuse[5] = 12   # ENOMEM from the driver
    result = host.run(pf="eth1", num_vfs=5)
    assert result["failed"] and "writing 5 to /sys/class/net/eth1/device/sriov_numvfs failed: Cannot allocate memory" \
        in result["msg"]
    assert result["rolled_back"] == "sriov_numvfs of eth1 set back to 2"
    assert host.numvfs_writes() == ["2", "0", "5", "2"]
    assert host.rule() == (RULE2, 0o644)   # the rule is written after the count, so it was not touched


def test_state_absent_removes_vfs_and_rule(host):
    host.converge(pf="eth1", num_vfs=2)
    _c, applied, _a = host.converge(pf="eth1", state="absent")
    assert [a["kind"] for a in applied["actions"]] == ["numvfs", "udev"]
    assert host.rule() == (None, None) and applied["sriov"]["numvfs"] == 0
    assert not os.path.exists(host.kernel.p("sys/class/net/eth1v0"))


def test_a_rule_with_the_wrong_mode_is_rewritten(host):
    host.converge(pf="eth1", num_vfs=2)
    os.chmod(host.kernel.p("etc/udev/rules.d/eth1.rules"), 0o600)
    _c, applied, _a = host.converge(pf="eth1", num_vfs=2)
    assert [a["kind"] for a in applied["actions"]] == ["udev"] and host.rule() == (RULE2, 0o644)


def test_bnx2x_caveat_and_rule_shared_by_driver_are_warned(tmp_path):
    h = Host(tmp_path)
    h.kernel.add_pf("eth5", driver="bnx2x", total=4, slot=5)
    h.kernel.add_pf("eth6", driver="bnx2x", total=4, slot=6)
    result = h.run(pf="eth5", num_vfs=1)
    assert not result.get("failed"), result
    assert any("Broadcom NetXtreme II BCM57810" in w for w in result["warnings"])
    assert any("matches the driver bnx2x, so at boot it also sets 1 VFs on eth6" in w for w in result["warnings"])


def test_assigned_vfs_block_a_count_change_and_name_the_vms(host):
    host.converge(pf="eth1", num_vfs=2)
    host.lv.doms["vm1"].add_hostdev_iface("0000:00:13.0", "52:54:00:00:01:01")
    host.lv.doms["vm2"].add_hostdev_iface("0000:00:13.1", "52:54:00:00:01:02")
    before = host.kernel.listing(), host.lv.snapshot()
    result = host.run(pf="eth1", num_vfs=4)
    assert result["failed"] and result["msg"] == (
        "num_vfs=4: changing the VF count of eth1 removes all its 2 VFs first (the kernel only changes it through 0), "
        "but VFs are assigned to VMs: vm1 (VF 0, 0000:00:13.0), vm2 (VF 1, 0000:00:13.1). Detach them first, or set "
        "detach_assigned=true")
    assert result["vms"] == ["vm1", "vm2"]
    assert (host.kernel.listing(), host.lv.snapshot()) == before


def test_detach_assigned_detaches_then_changes_the_count(host):
    host.converge(pf="eth1", num_vfs=2)
    host.lv.doms["vm1"].add_hostdev_iface("0000:00:13.0", "52:54:00:00:01:01")
    _c, applied, _a = host.converge(pf="eth1", num_vfs=3, detach_assigned=True)
    assert [a["kind"] for a in applied["actions"]] == ["detach", "numvfs", "udev"]
    assert applied["diff"]["before"]["assigned"] == [
        {"vf": 0, "vm": "vm1", "mac": "52:54:00:00:01:01", "config": True, "live": False}]
    assert applied["sriov"]["assigned"] == [] and host.lv.doms["vm1"].hostdevs() == []


def test_attach_picks_a_free_vf_with_a_stable_mac(host):
    host.converge(pf="eth1", num_vfs=3)
    host.lv.doms["vm2"].add_hostdev_iface("0000:00:13.0", "52:54:00:00:01:02")
    _c, applied, _a = host.converge(pf="eth1", attach={"vm": "vm1"})
    assert applied["attached"]["vf"] == 1 and applied["attached"]["pci"] == "0000:00:13.1"
    mac = applied["attached"]["mac"]
    assert mac.startswith("52:54:00:")
    assert host.lv.doms["vm1"].hostdevs() == [(mac, {"type": "pci", "domain": "0x0000", "bus": "0x00",
                                                     "slot": "0x13", "function": "0x1"})]
    xml = host.lv.doms["vm1"].calls[0][1]
    el = etree.fromstring(xml)
    assert (el.tag, el.get("type"), el.get("managed")) == ("interface", "hostdev", "yes")
    assert host.lv.doms["vm1"].calls[0][2] == lc.AFFECT_CONFIG     # shut off: persistent config only
    assert {"vf": 1, "vm": "vm1", "mac": mac, "config": True, "live": False} in applied["sriov"]["assigned"]


def test_attach_to_a_running_vm_is_live_and_persistent(host):
    host.converge(pf="eth1", num_vfs=1)
    _c, applied, _a = host.converge(pf="eth1", attach={"vm": "vm3", "vf": "0", "mac": "52:54:00:00:03:01"})
    assert host.lv.doms["vm3"].calls[0][2] == lc.AFFECT_CONFIG | lc.AFFECT_LIVE
    assert host.lv.doms["vm3"].hostdevs("live") == host.lv.doms["vm3"].hostdevs("config") != []
    assert applied["actions"][0]["disruption"] == "none"


def test_attach_with_another_mac_replaces_the_interface(host):
    host.converge(pf="eth1", num_vfs=1)
    host.converge(pf="eth1", attach={"vm": "vm1", "vf": "0000:00:13.0", "mac": "52:54:00:00:01:01"})
    _c, applied, _a = host.converge(pf="eth1", attach={"vm": "vm1", "vf": "0", "mac": "52:54:00:00:01:09"})
    assert [a["kind"] for a in applied["actions"]] == ["detach", "attach"]
    assert [mac for mac, _attrs in host.lv.doms["vm1"].hostdevs()] == ["52:54:00:00:01:09"]


def test_create_and_attach_in_one_task(host):
    _c, applied, _a = host.converge(pf="eth1", num_vfs=2, attach={"vm": "vm2", "mac": "52:54:00:00:02:01"})
    assert [a["kind"] for a in applied["actions"]] == ["numvfs", "udev", "attach"]
    assert applied["attached"] == {"vm": "vm2", "vf": 0, "pci": "0000:00:13.0", "mac": "52:54:00:00:02:01"}


def test_attach_absent_detaches(host):
    host.converge(pf="eth1", num_vfs=1)
    host.converge(pf="eth1", attach={"vm": "vm1", "mac": "52:54:00:00:01:01"})
    _c, applied, _a = host.converge(pf="eth1", attach={"vm": "vm1", "state": "absent"})
    assert [a["kind"] for a in applied["actions"]] == ["detach"] and host.lv.doms["vm1"].hostdevs() == []


def test_iommu_off_is_refused_with_the_seeds_fix(tmp_path):
    h = Host(tmp_path, iommu_groups=0)
    before = h.kernel.listing()
    result = h.run(pf="eth1", num_vfs=2)
    assert result["failed"] and result["msg"] == (
        "the IOMMU is off (no IOMMU groups in /sys/kernel/iommu_groups) and the kernel command line lacks "
        "intel_iommu=on iommu=pt: VFs cannot be assigned to VMs. Fix (Configuring virtual machine network connections, 15.7.2): "
        'grubby --args="intel_iommu=on iommu=pt" --update-kernel=ALL, then reboot the host (and enable Intel VT-d in '
        "the firmware if it is off); or set enable_iommu=true to let the module run grubby (it returns "
        "reboot_required)")
    assert h.kernel.listing() == before
    assert h.grubby_calls() == ["--info=ALL"]   # read, never updated


def test_enable_iommu_runs_grubby_and_asks_for_a_reboot(tmp_path):
    h = Host(tmp_path, iommu_groups=0, cpu_vendor="AuthenticAMD")
    before = h.kernel.listing()
    check, applied, again = h.converge(pf="eth1", num_vfs=2, enable_iommu=True)
    assert [a["kind"] for a in applied["actions"]] == ["grubby"] and applied["actions"][0]["disruption"] == "reboot"
    assert applied["reboot_required"] is True and applied["restart_required"] is True
    assert again["restart_required"] is True and "reboot the host" in again["pending"][0]
    assert check["reboot_required"] is True and again["reboot_required"] is True
    assert "--update-kernel=ALL --args=iommu=pt" in h.grubby_calls()
    assert open(h.grubby["state"]).read().split()[-1] == "iommu=pt"
    assert h.kernel.listing() == before     # no VF, no rule before the reboot
    # After the reboot the kernel has IOMMU groups and the same task creates the VFs.
    os.makedirs(h.kernel.p("sys/kernel/iommu_groups/0"))
    h.kernel.set_cmdline("ro root=/dev/vda1 iommu=pt")
    _c, applied, _a = h.converge(pf="eth1", num_vfs=2, enable_iommu=True)
    assert [a["kind"] for a in applied["actions"]] == ["numvfs", "udev"] and applied["reboot_required"] is False


def test_missing_recommended_args_are_a_warning_when_the_iommu_is_on(host):
    result = host.run(pf="eth1", num_vfs=1)
    assert any("lacks intel_iommu=on iommu=pt" in w for w in result["warnings"])


def test_absent_needs_no_iommu(tmp_path):
    h = Host(tmp_path, iommu_groups=0)
    result = h.run(pf="eth1", state="absent")
    assert not result.get("failed") and not result["changed"]


def test_info_lists_pfs_vfs_and_the_vms_using_them(host):
    host.converge(pf="eth1", num_vfs=2, attach={"vm": "vm1", "vf": "1", "mac": "52:54:00:00:01:01"})
    out = sinfo.info(FsRoot(host.kernel.root), host.lv)
    assert [p["pf"] for p in out["pfs"]] == ["eth1"]
    pf = out["pfs"][0]
    assert (pf["driver"], pf["totalvfs"], pf["numvfs"], pf["udev_rule"], pf["udev_rule_path"]) == \
        ("ixgbe", 7, 2, RULE2, "/etc/udev/rules.d/eth1.rules")
    assert [(v["index"], v["pci"], v["netdev"], [u["vm"] for u in v["vms"]]) for v in pf["vfs"]] == \
        [(0, "0000:00:13.0", "eth1v0", []), (1, "0000:00:13.1", "eth1v1", ["vm1"])]
    assert out["iommu"]["enabled"] and out["iommu"]["recommended_args"] == ["intel_iommu=on", "iommu=pt"]
    assert sinfo.info(FsRoot(host.kernel.root), host.lv, "eth0")["pfs"] == []


def test_open_root_only_takes_a_marked_fake_tree(tmp_path):
    assert se.open_root("/").root == "/"
    with pytest.raises(VirtnetError) as exc:
        se.open_root(str(tmp_path))
    assert "is not a fake sysfs tree" in exc.value.msg


def test_a_running_vm_without_vfio_gets_the_vf_in_its_definition_only(tmp_path):
    h = Host(tmp_path, vfio=False)
    h.converge(pf="eth1", num_vfs=1)
    _c, applied, _a = h.converge(pf="eth1", attach={"vm": "vm3", "live": False, "mac": "52:54:00:00:03:01"})
    assert h.lv.doms["vm3"].calls[0][2] == lc.AFFECT_CONFIG
    assert h.lv.doms["vm3"].hostdevs("live") == [] and len(h.lv.doms["vm3"].hostdevs("config")) == 1
    assert applied["sriov"]["assigned"] == [{"vf": 0, "vm": "vm3", "mac": "52:54:00:00:03:01", "config": True,
                                             "live": False}]
    h.kernel.stop()


def test_detach_assigned_takes_a_vf_out_of_a_running_vm_too(host):
    host.converge(pf="eth1", num_vfs=1)
    host.lv.doms["vm3"].add_hostdev_iface("0000:00:13.0", "52:54:00:00:03:01", where=("config", "live"))
    _c, applied, _a = host.converge(pf="eth1", num_vfs=2, detach_assigned=True)
    assert applied["actions"][0]["summary"] == \
        "detach VF 0 (0000:00:13.0) from VM vm3 (persistent config and running VM)"
    assert applied["actions"][0]["disruption"] == "restart"
    assert [(c[0], c[2]) for c in host.lv.doms["vm3"].calls] == [("detach", lc.AFFECT_LIVE), ("detach", lc.AFFECT_CONFIG)]
    assert host.lv.doms["vm3"].hostdevs("live") == host.lv.doms["vm3"].hostdevs("config") == []


def test_a_bare_hostdev_is_seen_and_replaced_by_an_interface_with_a_mac(host):
    """The seed: a VF given as <hostdev> loses its MAC at every host reboot;
    the module replaces it with <interface type='hostdev'> and a MAC."""
    host.converge(pf="eth1", num_vfs=2)
    host.lv.doms["vm1"].add_bare_hostdev(0x13, 0)
    refused = host.run(pf="eth1", attach={"vm": "vm2", "vf": "0"})
    assert refused["failed"] and "is already assigned to VM vm1" in refused["msg"]
    _c, applied, _a = host.converge(pf="eth1", attach={"vm": "vm1", "vf": "0", "mac": "52:54:00:00:01:01"})
    assert [a["kind"] for a in applied["actions"]] == ["detach", "attach"]
    assert host.lv.doms["vm1"].config.findall("devices/hostdev") == []
    assert [m for m, _attrs in host.lv.doms["vm1"].hostdevs()] == ["52:54:00:00:01:01"]


def test_the_result_lists_the_vfs_read_from_sysfs(host):
    applied = host.run(pf="eth1", num_vfs=2)
    assert applied["vfs"] == [{"index": 0, "pci": "0000:00:13.0", "netdev": "eth1v0", "mac": "00:00:00:00:00:00"},
                              {"index": 1, "pci": "0000:00:13.1", "netdev": "eth1v1", "mac": "00:00:00:00:00:00"}]


def test_the_rules_directory_is_created_when_missing(host):
    os.rmdir(host.kernel.p("etc/udev/rules.d"))
    host.converge(pf="eth1", num_vfs=2)
    assert host.rule() == (RULE2, 0o644)


def test_a_vm_keeps_its_mac_when_the_count_changes_under_it(host):
    host.converge(pf="eth1", num_vfs=1)
    host.lv.doms["vm1"].add_hostdev_iface("0000:00:13.0", "52:54:00:00:01:07")
    _c, applied, _a = host.converge(pf="eth1", num_vfs=2, detach_assigned=True, attach={"vm": "vm1"})
    assert [a["kind"] for a in applied["actions"]] == ["detach", "numvfs", "udev", "attach"]
    assert applied["attached"]["mac"] == "52:54:00:00:01:07"
    assert [m for m, _attrs in host.lv.doms["vm1"].hostdevs()] == ["52:54:00:00:01:07"]


@pytest.mark.parametrize("pf", ["../eth1", "eth1/../eth0", "..", "a" * 16])
def test_info_refuses_a_pf_that_is_no_interface_name_naming_pf_and_value(host, pf):
    with pytest.raises(VirtnetError) as exc:
        sinfo.info(FsRoot(host.kernel.root), host.lv, pf)
    assert exc.value.msg == "pf=%r: not a valid interface name (1-15 characters from letters, digits and _.:@+-)" % pf


def _host_state(host):
    return host.kernel.listing(), host.lv.snapshot()


def _changed(before, after):
    """The paths / domains that differ (a readable assertion)."""
    return sorted(k for i in (0, 1) for k in set(before[i]) | set(after[i]) if before[i].get(k) != after[i].get(k))


def test_a_refused_attach_after_the_count_and_rule_undoes_both_and_the_detach(host):
    """Issue 12 item 5: everything this run wrote is undone when libvirt
    refuses the attach at the end; the user's own rule comes back byte for byte."""
    host.converge(pf="eth1", num_vfs=2, attach={"vm": "vm1", "vf": "1", "mac": "52:54:00:00:01:01"})
    rule = host.kernel.p("etc/udev/rules.d/eth1.rules")
    with open(rule, "a") as f:
        f.write("# kept\n")
    os.chmod(rule, 0o600)
    before = _host_state(host)
    host.lv.doms["vm2"].refuse_mac = "52:54:00:00:02:02"
    result = host.run(pf="eth1", num_vfs=3, detach_assigned=True, attach={"vm": "vm2", "mac": "52:54:00:00:02:02"})
    assert result["failed"] and result["msg"] == "libvirt: internal error: refused for the test"
    assert result["rolled_back"] == ("/etc/udev/rules.d/eth1.rules restored; sriov_numvfs of eth1 set back to 2 "
                                     "(through 0); 0000:00:13.1 re-attached to the definition of VM 'vm1'")
    assert host.numvfs_writes()[-4:] == ["0", "3", "0", "2"]
    assert _changed(before, _host_state(host)) == [] and "attached" not in result


def test_a_failed_replace_puts_the_old_interface_back_and_a_new_rules_dir_goes(host):
    os.rmdir(host.kernel.p("etc/udev/rules.d"))
    before = _host_state(host)
    host.lv.doms["vm2"].refuse_mac = "52:54:00:00:02:02"
    result = host.run(pf="eth1", num_vfs=1, attach={"vm": "vm2", "mac": "52:54:00:00:02:02"})
    assert result["rolled_back"] == "/etc/udev/rules.d/eth1.rules removed again; sriov_numvfs of eth1 set back to 0"
    assert _changed(before, _host_state(host)) == []

    host.converge(pf="eth1", num_vfs=1, attach={"vm": "vm3", "vf": "0", "mac": "52:54:00:00:03:01"})
    before = _host_state(host)
    host.lv.doms["vm3"].refuse_mac = "52:54:00:00:03:09"
    result = host.run(pf="eth1", attach={"vm": "vm3", "vf": "0", "mac": "52:54:00:00:03:09"})
    assert result["failed"] and result["rolled_back"] == (
        "0000:00:13.0 re-attached to the definition of VM 'vm3'; 0000:00:13.0 re-attached to the running VM 'vm3'")
    assert _changed(before, _host_state(host)) == []


def test_a_transient_vm_is_refused_before_anything_is_written(host):
    host.lv.doms["vm3"].transient = True
    before = _host_state(host)
    for check in (True, False):
        result = host.run(check=check, pf="eth1", num_vfs=1, attach={"vm": "vm3"})
        assert result["failed"] and result["msg"].startswith(
            "attach.vm='vm3': is a transient VM (running, but not defined), so the VF cannot be added to its "
            "persistent definition")
    assert _changed(before, _host_state(host)) == [] and host.kernel.writes == []


def test_a_vf_outside_any_iommu_group_is_not_hot_plugged(host):
    host.converge(pf="eth1", num_vfs=1)
    link = host.kernel.p("sys/devices/pci0000:00/0000:00:13.0/iommu_group")
    os.unlink(link)
    before = _host_state(host)
    for check in (True, False):
        result = host.run(check=check, pf="eth1", attach={"vm": "vm3"})
        assert result["failed"] and result["msg"] == (
            "attach.live=True: VM vm3 is running, but VF 0 (0000:00:13.0) of eth1 is in no IOMMU group, so VFIO cannot "
            "pass it to a VM; set attach.live=false to change only its persistent definition")
    assert _changed(before, _host_state(host)) == []
    _c, applied, _a = host.converge(pf="eth1", attach={"vm": "vm3", "live": False})
    assert [a["kind"] for a in applied["actions"]] == ["attach"]
