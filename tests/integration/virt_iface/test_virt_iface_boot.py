"""virt_iface boot_order on domains that boot by <os><boot dev>, against the
sandbox's real libvirtd: libvirt writes <boot dev='hd'/> into every domain
defined without a boot element and refuses it next to a per-device boot
order, so virt_iface converts the domain's boot list in the same define.

Guests (small on purpose, TCG on a shared machine):
- vifb-disk: shut off, no kernel, a disk, a CD-ROM and two NICs;
- vifb-run: no kernel, no disk, one NIC, running (SeaBIOS / iPXE find
  nothing on an isolated network): the change is pending until a restart;
- vifb-kern: shut off, boots the test kernel directly: written, with a warning.
The PXE boot itself (the guest gets its lease through iPXE) is proven in
tests/integration/pxe_network.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from virtnet_testlib import converge, run_module

NET = "vifb-iso"
MAC1 = "52:54:00:fb:00:01"
MAC2 = "52:54:00:fb:00:02"
MAC_RUN = "52:54:00:fb:01:01"
MAC_KERN = "52:54:00:fb:02:01"
GUESTS = ("vifb-disk", "vifb-run", "vifb-kern")


class Hv:
    def __init__(self, sb):
        self.sb = sb
        self.prefix = sb.hv_argv([])

    def run(self, check=False, diff=False, **kw):
        return run_module("virt_iface", dict(kw, uri=self.sb.uri), check=check, diff=diff, argv_prefix=self.prefix)

    def converge(self, **kw):
        return converge("virt_iface", dict(kw, uri=self.sb.uri), argv_prefix=self.prefix)

    def xml(self, name, inactive=True):
        return self.sb.virsh("dumpxml", *(["--inactive"] if inactive else []), name, check=False).stdout

    def root(self, name, inactive=True):
        return ET.fromstring(self.xml(name, inactive))

    def define(self, name, nics, *, netboot=True, disks=False):
        """The sandbox test guest, without <boot> anywhere (libvirt adds
        <os><boot dev='hd'/>), optionally with a disk and an empty CD-ROM."""
        self.sb.guest(name).dir.mkdir(parents=True, exist_ok=True)   # its serial console files
        root = ET.fromstring(self.sb.guest_xml(name, nics, netboot=netboot))
        if disks:
            devices = root.find("devices")
            disk = ET.Element("disk", type="file", device="disk")
            ET.SubElement(disk, "driver", name="qemu", type="raw")
            ET.SubElement(disk, "source", file=str(self.sb.state_dir / ("%s.img" % name)))
            ET.SubElement(disk, "target", dev="vda", bus="virtio")
            cdrom = ET.Element("disk", type="file", device="cdrom")
            ET.SubElement(cdrom, "target", dev="sda", bus="sata")
            ET.SubElement(cdrom, "readonly")
            devices.insert(0, cdrom)
            devices.insert(0, disk)
        assert root.find("os/boot") is None and root.find(".//devices/*/boot") is None
        path = self.sb.state_dir / ("%s.xml" % name)
        path.write_text(ET.tostring(root, encoding="unicode"))
        self.sb.virsh("define", str(path))
        stored = self.root(name)
        assert [b.get("dev") for b in stored.findall("os/boot")] == ["hd"]   # what libvirt does by itself
        return stored


def warnings(res):
    """The warning texts of a result (plain strings, or the WarningSummary
    dicts newer ansible-core returns)."""
    out = []
    for w in res.get("warnings") or []:
        out.append(w if isinstance(w, str) else (w.get("event") or {}).get("msg", "") or w.get("msg", ""))
    return out


def boot_orders(root):
    out = {}
    for dev in root.find("devices"):
        boot = dev.find("boot")
        if boot is not None:
            key = dev.find("mac").get("address") if dev.tag == "interface" else dev.find("target").get("dev")
            out[key] = int(boot.get("order"))
    return out


def _clean(sb):
    for name in GUESTS:
        sb.virsh("destroy", name, check=False)
        sb.virsh("undefine", name, check=False)
    sb.virsh("net-destroy", NET, check=False)
    sb.virsh("net-undefine", NET, check=False)


@pytest.fixture(scope="module")
def hv(sandbox):
    h = Hv(sandbox)
    _clean(sandbox)
    path = sandbox.state_dir / ("%s.xml" % NET)
    # Isolated, no addresses, no DHCP: a running netboot guest finds nothing.
    path.write_text("<network><name>%s</name><bridge name='vbvifbiso' stp='off'/></network>" % NET)
    sandbox.virsh("net-define", str(path))
    sandbox.virsh("net-start", NET)
    yield h
    _clean(sandbox)


def test_boot_order_converts_the_os_boot_list_of_a_shut_off_vm(hv):
    hv.define("vifb-disk", [{"source": NET, "mac": MAC1}, {"source": NET, "mac": MAC2}], disks=True)
    before = hv.xml("vifb-disk")
    check = hv.run(check=True, diff=True, domain="vifb-disk", mac=MAC1, boot_order=1)
    assert check["changed"] and hv.xml("vifb-disk") == before   # check mode touches nothing
    _c, applied, again = hv.converge(domain="vifb-disk", mac=MAC1, boot_order=1)
    # One define, saying what the boot list became; a warning says it too.
    note = ("converted the os boot list (<boot dev='hd'/>) to per-device boot orders: "
            "interface %s=1, disk vda=2" % MAC1)
    assert [a["kind"] for a in applied["actions"]] == ["define"]
    assert note in applied["actions"][0]["summary"]
    assert any(note in w for w in warnings(applied)), applied.get("warnings")
    assert applied["restart_required"] is False
    assert applied["diff"]["before"]["boot"] == {"os": ["hd"], "devices": {}}
    assert applied["diff"]["after"]["boot"] == {"os": [], "devices": {"interface %s" % MAC1: 1, "disk vda": 2}}
    assert warnings(again) == []
    # What libvirt stored: no <os><boot>, the NIC first, then the disk; the
    # CD-ROM and the other NIC were not in the old list and get no order.
    root = hv.root("vifb-disk")
    assert root.find("os/boot") is None
    assert boot_orders(root) == {MAC1: 1, "vda": 2}
    info = run_module("virt_iface_info", {"uri": hv.sb.uri, "domain": "vifb-disk"}, argv_prefix=hv.prefix)
    nics = {i["mac"]: i["boot_order"] for i in info["domains"][0]["interfaces"]}
    assert nics == {MAC1: 1, MAC2: None}


def test_an_order_the_conversion_gave_the_disk_is_refused_for_another_nic(hv):
    before = hv.xml("vifb-disk")
    for check in (True, False):
        res = hv.run(check=check, domain="vifb-disk", mac=MAC2, boot_order=2)
        assert res.get("failed") and "boot_order=2: already given to disk vda" in res["msg"], res
    assert hv.xml("vifb-disk") == before
    # a free order is fine, and nothing is converted again
    _c, applied, _a = hv.converge(domain="vifb-disk", mac=MAC2, boot_order=3)
    assert "converted" not in applied["actions"][0]["summary"]
    assert boot_orders(hv.root("vifb-disk")) == {MAC1: 1, "vda": 2, MAC2: 3}


def test_running_vm_gets_it_in_its_config_and_reports_the_restart(hv):
    hv.define("vifb-run", [{"source": NET, "mac": MAC_RUN}])
    hv.sb.virsh("start", "vifb-run")
    try:
        live_before = hv.xml("vifb-run", inactive=False)
        _c, applied, again = hv.converge(domain="vifb-run", mac=MAC_RUN, boot_order=1)
        assert [a["kind"] for a in applied["actions"]] == ["define"]
        # No disk: the 'hd' entry names nothing and is just dropped.
        assert "(<boot dev='hd'/>) to per-device boot orders: interface %s=1" % MAC_RUN \
            in applied["actions"][0]["summary"]
        for res in (applied, again):
            assert res["restart_required"] is True and res["pending"] == ["boot_order"]
        config = hv.root("vifb-run")
        assert config.find("os/boot") is None and boot_orders(config) == {MAC_RUN: 1}
        assert hv.xml("vifb-run", inactive=False) == live_before   # the running domain is untouched
        # restart=true applies it: the domain runs the converted definition.
        res = hv.run(domain="vifb-run", mac=MAC_RUN, boot_order=1, restart=True, restart_timeout=5)
        assert not res.get("failed"), res
        assert [a["kind"] for a in res["actions"]] == ["restart"] and res["restart_required"] is False
        live = hv.root("vifb-run", inactive=False)
        assert live.find("os/boot") is None and boot_orders(live) == {MAC_RUN: 1}
        again = hv.run(domain="vifb-run", mac=MAC_RUN, boot_order=1)
        assert again["changed"] is False and again["restart_required"] is False
    finally:
        hv.sb.virsh("destroy", "vifb-run", check=False)


def test_direct_kernel_boot_is_written_with_a_warning(hv):
    hv.define("vifb-kern", [{"source": NET, "mac": MAC_KERN}], netboot=False)
    _c, applied, again = hv.converge(domain="vifb-kern", mac=MAC_KERN, boot_order=1)
    for res in (applied, again):
        assert any("boots a kernel directly" in w and "boot_order=1" in w for w in warnings(res)), res
    root = hv.root("vifb-kern")
    assert root.find("os/kernel") is not None and root.find("os/boot") is None
    assert boot_orders(root) == {MAC_KERN: 1}
