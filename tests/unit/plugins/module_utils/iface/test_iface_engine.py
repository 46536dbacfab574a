"""iface.engine over a fake libvirt: what it reads (identity in config and
live, MACs of the whole host, ACPI, <os><boot>), what it sends (the domain
XML with only the one interface edited, in place), and info."""

from types import SimpleNamespace

import pytest
from lxml import etree

from ansible_collections.virtnet.networking.plugins.module_utils.libvirt import conn as lc
from ansible_collections.virtnet.networking.plugins.module_utils.iface import engine as ie
from ansible_collections.virtnet.networking.plugins.module_utils.iface import info as iinfo
from ansible_collections.virtnet.networking.plugins.module_utils.iface import validate as ival
from ansible_collections.virtnet.networking.plugins.module_utils.fsroot import FsRoot
from ansible_collections.virtnet.networking.plugins.module_utils.thirdparty import netaddr
from ansible_collections.virtnet.networking.plugins.modules import virt_iface
from unit import fakes
from unit.fakes import FakeLibvirt, run

DOM = """<domain type='qemu'>
  <name>%(name)s</name>
  <os><type arch='x86_64' machine='pc-i440fx-10.0'>hvm</type>%(boot)s</os>
  <features>%(acpi)s</features>
  <devices>
    <disk type='file' device='disk'><target dev='vda' bus='virtio'/></disk>
    %(ifaces)s
    <serial type='pty'/>
  </devices>
</domain>"""

NIC_A = """<interface type='network'>
      <mac address='52:54:00:00:00:01'/>
      <source network='default'/>
      <model type='virtio'/>
      <alias name='ua-web'/>
      <rom bar='off'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>
    </interface>"""
NIC_A_LIVE = """<interface type='network'>
      <mac address='52:54:00:00:00:01'/>
      <source network='default' portid='1b0c' bridge='virbr0'/>
      <target dev='vnet7'/>
      <model type='virtio'/>
      <alias name='%s'/>
      <rom bar='off'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>
    </interface>"""
NIC_B = """<interface type='direct'>
      <mac address='52:54:00:00:00:02'/>
      <source dev='lan2' mode='bridge'/>
      <model type='virtio'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x04' function='0x0'/>
    </interface>"""


def dom_xml(name, ifaces, *, boot=True, acpi=True):
    return DOM % {"name": name, "ifaces": "\n    ".join(ifaces), "boot": "<boot dev='hd'/>" if boot else "",
                  "acpi": "<acpi/>" if acpi else ""}


class FakeDom:
    def __init__(self, name, config, live=None):
        self._name, self.config, self.live = name, config, live
        self.calls = []

    def name(self):
        return self._name

    def isActive(self):
        return self.live is not None

    def isPersistent(self):
        return self.config is not None

    def XMLDesc(self, flags):
        return self.config if flags & lc.DOMAIN_XML_INACTIVE else (self.live or self.config)

    def attachDeviceFlags(self, xml, flags):
        self.calls.append(("attach", xml, flags))
        root = etree.fromstring(self.live.encode())
        el = etree.fromstring(xml.encode())
        etree.SubElement(el, "address", type="pci", domain="0x0000", bus="0x00", slot="0x09", function="0x0")
        root.find("devices").append(el)
        self.live = etree.tostring(root, encoding="unicode")

    def updateDeviceFlags(self, xml, flags):
        self.calls.append(("update", xml, flags))

    def interfaceAddresses(self, source, flags):
        if source == 0:
            return {"vnet7": {"hwaddr": "52:54:00:00:00:01", "addrs": [{"addr": "192.0.2.10", "prefix": 24,
                                                                        "type": 0}]}}
        raise RuntimeError("no agent")


def FakeLv(doms, networks=("default",)):  # noqa: N802 - reads as the class it builds
    """The shared fake libvirt with ``doms`` and active networks by name."""
    nets = {n: SimpleNamespace(name=lambda n=n: n, isActive=lambda: True) for n in networks}
    return FakeLibvirt(domains=doms, networks=nets)


def FakeModule(check_mode=False, **params):  # noqa: N802
    """virt_iface's parameters as AnsibleModule makes them (argument spec
    defaults and types); the domain is remote unless a test says otherwise."""
    return fakes.FakeModule(dict({"uri": "qemu+ssh://hv/system"}, **params),
                            argument_spec=virt_iface.argument_spec(), check_mode=check_mode)


def engine_for(lv, **params):
    module = FakeModule(**params)
    eng = ie.IfaceEngine(module)
    eng.lv = lv
    return module, eng


def desired(**p):
    return ival.desired_from_params(dict({"domain": "vm1", "state": "present", "restart": False,
                                          "restart_timeout": 60}, **p))


def test_read_state_identity_config_and_live():
    vm = FakeDom("vm1", dom_xml("vm1", [NIC_B, NIC_A]), dom_xml("vm1", [NIC_B, NIC_A_LIVE % "ua-web"]))
    other = FakeDom("vm2", dom_xml("vm2", ["<interface type='network'><mac address='52:54:00:00:00:09'/>"
                                           "<source network='default'/></interface>"]))
    state, _d, config_el, live_el = ie.read_state(FakeLv([vm, other]), desired(alias="ua-web"))
    assert state.config_index == 1 and state.config.mac == "52:54:00:00:00:01"
    assert live_el.find("target").get("dev") == "vnet7"
    assert state.host_macs == {"52:54:00:00:00:02": "domain vm1 (another interface)",
                               "52:54:00:00:00:09": "domain vm2"}
    assert state.os_boot and state.acpi and state.networks == {"default": True}
    assert state.boot_orders == {}


def test_live_nic_without_the_new_alias_is_still_the_same_nic():
    """Alias written to the config, domain not restarted: the running NIC
    (libvirt's alias net0) is found by the config's MAC, not hot-plugged again."""
    vm = FakeDom("vm1", dom_xml("vm1", [NIC_A]), dom_xml("vm1", [NIC_A_LIVE % "net0"]))
    state, _d, _c, live_el = ie.read_state(FakeLv([vm]), desired(alias="ua-web"))
    assert live_el is not None and state.live.alias is None
    from ansible_collections.virtnet.networking.plugins.module_utils.iface import plan as ipl
    plan, _t = ipl.plan(desired(alias="ua-web"), state)
    assert plan.actions == [] and plan.pending == ["alias"]


def test_needs_acpi_only_on_pc_machines():
    assert ie._needs_acpi(etree.fromstring(dom_xml("x", [], acpi=False)))
    assert not ie._needs_acpi(etree.fromstring(dom_xml("x", [])))
    q35 = dom_xml("x", [], acpi=False).replace("pc-i440fx-10.0", "pc-q35-10.0")
    assert not ie._needs_acpi(etree.fromstring(q35))


def test_define_edits_only_that_interface_in_place():
    vm = FakeDom("vm1", dom_xml("vm1", [NIC_B, NIC_A]))
    lv = FakeLv([vm])
    module, eng = engine_for(lv, domain="vm1", alias="ua-web", type="bridge", source="br0", boot_order=None)
    run(module, eng)
    assert module.result["changed"] and not module.result.get("failed"), module.result
    assert len(lv.defined) == 1
    root = etree.fromstring(lv.defined[0].encode())
    ifaces = root.findall("devices/interface")
    assert [i.get("type") for i in ifaces] == ["direct", "bridge"]
    assert etree.tostring(ifaces[0]) == etree.tostring(etree.fromstring(dom_xml("vm1", [NIC_B, NIC_A]).encode())
                                                       .findall("devices/interface")[0])
    assert ifaces[1].find("rom").get("bar") == "off"
    assert ifaces[1].find("address").get("slot") == "0x03"
    assert [c.tag for c in root.find("devices")] == ["disk", "interface", "interface", "serial"]
    assert module.result["interface"]["config"]["type"] == "bridge"


def test_hotplug_writes_the_live_pci_slot_to_the_config():
    vm = FakeDom("vm1", dom_xml("vm1", [NIC_B]), dom_xml("vm1", [NIC_B]))
    lv = FakeLv([vm])
    module, eng = engine_for(lv, domain="vm1", alias="ua-new", type="network", source="default")
    run(module, eng)
    assert [c[0] for c in vm.calls] == ["attach"] and vm.calls[0][2] == lc.AFFECT_LIVE
    sent = etree.fromstring(vm.calls[0][1].encode())
    assert sent.find("alias").get("name") == "ua-new" and sent.find("address") is None
    new = etree.fromstring(lv.defined[0].encode()).findall("devices/interface")[1]
    assert new.find("address").get("slot") == "0x09"
    assert new.find("mac").get("address") == module.result["interface"]["config"]["mac"]


def test_check_mode_sends_nothing():
    vm = FakeDom("vm1", dom_xml("vm1", [NIC_B]), dom_xml("vm1", [NIC_B]))
    lv = FakeLv([vm])
    module = FakeModule(check_mode=True, domain="vm1", alias="ua-new", type="network", source="default")
    eng = ie.IfaceEngine(module)
    eng.lv = lv
    run(module, eng)
    assert module.result["changed"] and vm.calls == [] and lv.defined == []
    assert [a["kind"] for a in module.result["actions"]] == ["attach", "define"]


def test_config_copy_of_a_live_nic():
    el = ie._config_copy(etree.fromstring(NIC_A_LIVE % "net0"))
    assert el.find("target") is None and el.find("alias") is None
    assert el.find("source").attrib == {"network": "default"}


def test_info_lists_nics_with_addresses():
    vm = FakeDom("vm1", dom_xml("vm1", [NIC_A]), dom_xml("vm1", [NIC_A_LIVE % "ua-web", NIC_B]))
    out = iinfo.info(FakeLv([vm]))["domains"][0]
    assert (out["name"], out["running"], out["config_only"]) == ("vm1", True, [])
    web, direct = out["interfaces"]
    assert (web["host_dev"], web["alias"], web["device_alias"], web["pci_address"], web["in_config"]) == \
        ("vnet7", "ua-web", "ua-web", "0000:00:03.0", True)
    assert web["addresses"] == [{"address": "192.0.2.10", "prefix": 24, "family": "ipv4", "origin": "lease"}]
    assert (direct["type"], direct["mode"], direct["in_config"], direct["addresses"]) == \
        ("direct", "bridge", False, [])


class ArpDom(FakeDom):
    """libvirt's ARP source: every host ARP entry with the NIC's MAC, on any
    host interface."""

    def interfaceAddresses(self, source, flags):
        if source == 2:
            return {"vnet7": {"hwaddr": "52:54:00:00:00:01", "addrs": [
                {"addr": "192.0.2.10", "prefix": 0, "type": 0},
                {"addr": "198.51.100.7", "prefix": 0, "type": 0},
                {"addr": "192.0.2.99", "prefix": 0, "type": 0}]}}
        raise RuntimeError("no lease file")


def test_info_reports_arp_addresses_only_from_the_nics_current_bridge(tmp_path):
    # The guest moved from a network on lan0's segment to virbr0: its old
    # address is still in the host's ARP table, on lan0; a third entry is
    # incomplete (flags 0x0). Only the complete entry on virbr0 is its address.
    (tmp_path / "proc/net").mkdir(parents=True)
    (tmp_path / "proc/net/arp").write_text(
        "IP address       HW type     Flags       HW address            Mask     Device\n"
        "192.0.2.10       0x1         0x2         52:54:00:00:00:01     *        virbr0\n"
        "198.51.100.7     0x1         0x2         52:54:00:00:00:01     *        lan0\n"
        "192.0.2.99       0x1         0x0         52:54:00:00:00:01     *        virbr0\n")
    vm = ArpDom("vm1", dom_xml("vm1", [NIC_A]), dom_xml("vm1", [NIC_A_LIVE % "ua-web"]))
    lv = FakeLv([vm])
    lv.is_local = True
    web = iinfo.info(lv, fs=FsRoot(str(tmp_path)), subnet_of=lambda b: None)["domains"][0]["interfaces"][0]
    assert web["addresses"] == [{"address": "192.0.2.10", "prefix": 0, "family": "ipv4", "origin": "arp"}]
    # The guest still announces its old address on the new bridge until its
    # new lease (and the host answers it there): outside the bridge's own
    # subnet it is not the NIC's address.
    web = iinfo.info(lv, fs=FsRoot(str(tmp_path)),
                     subnet_of=lambda b: netaddr.IPNetwork("198.51.100.2/24") if b == "virbr0" else None)
    assert web["domains"][0]["interfaces"][0]["addresses"] == []
    # A remote hypervisor's ARP table is not this host's: nothing is filtered.
    lv.is_local = False
    web = iinfo.info(lv, fs=FsRoot(str(tmp_path)))["domains"][0]["interfaces"][0]
    assert [a["address"] for a in web["addresses"]] == ["192.0.2.10", "198.51.100.7", "192.0.2.99"]


@pytest.mark.parametrize("domain, count", [(None, 1), ("vm1", 1), ("nope", 0)])
def test_info_filter(domain, count):
    vm = FakeDom("vm1", dom_xml("vm1", [NIC_A]))
    assert len(iinfo.info(FakeLv([vm]), domain)["domains"]) == count


def test_failed_define_after_hotplug_unplugs_again():
    from ansible_collections.virtnet.networking.plugins.module_utils.errors import VirtnetError

    vm = FakeDom("vm1", dom_xml("vm1", [NIC_B]), dom_xml("vm1", [NIC_B]))
    detached = []
    vm.detachDeviceFlags = lambda xml, flags: detached.append(xml)
    lv = FakeLv([vm])

    def refuse(xml):
        raise VirtnetError("libvirt: defining the domain failed: unsupported configuration")
    lv.conn.defineXML = refuse
    module, eng = engine_for(lv, domain="vm1", alias="ua-new", type="network", source="default")
    with pytest.raises(SystemExit):
        run(module, eng)
    assert module.result["failed"] and "unsupported configuration" in module.result["msg"]
    assert module.result["rolled_back"] == "the hotplug undone"
    assert len(detached) == 1 and etree.fromstring(detached[0].encode()).find("alias").get("name") == "ua-new"


# --------------------------------------------------------------------------
# the link bounce after a live move (renew)
# --------------------------------------------------------------------------

class UpdatingDom(FakeDom):
    """updateDeviceFlags replaces the running NIC with the same MAC, as
    libvirt does, so the verifying re-read sees the move."""

    def updateDeviceFlags(self, xml, flags):
        super().updateDeviceFlags(xml, flags)
        root = etree.fromstring(self.live.encode())
        new = etree.fromstring(xml.encode())
        for el in root.findall("devices/interface"):
            if el.find("mac").get("address") == new.find("mac").get("address"):
                el.getparent().replace(el, new)
        self.live = etree.tostring(root, encoding="unicode")


def _links(calls):
    """(source network, link state) of every live update sent."""
    out = []
    for kind, xml, flags in calls:
        el = etree.fromstring(xml.encode())
        link = el.find("link")
        out.append((el.find("source").get("network"), link.get("state") if link is not None else "up", flags))
    return out


@pytest.mark.parametrize("renew, expected", [
    (None, [("lab", "up"), ("lab", "down"), ("lab", "up")]),
    ("link_bounce", [("lab", "up"), ("lab", "down"), ("lab", "up")]),
    ("none", [("lab", "up")]),
])
def test_live_move_bounces_the_link_after_the_move(monkeypatch, renew, expected):
    slept = []
    monkeypatch.setattr(ie.time, "sleep", slept.append)
    vm = UpdatingDom("vm1", dom_xml("vm1", [NIC_A]), dom_xml("vm1", [NIC_A_LIVE % "ua-web"]))
    lv = FakeLv([vm], networks=("default", "lab"))
    params = dict(domain="vm1", alias="ua-web", type="network", source="lab", renew_down_time=3)
    if renew:
        params["renew"] = renew
    # check mode predicts it and sends nothing
    module, eng = engine_for(lv, **params)
    module.check_mode = True
    run(module, eng)
    kinds = [a["kind"] for a in module.result["actions"]]
    assert module.result["renewed"] == (renew or "link_bounce") and vm.calls == [] and lv.defined == []
    # the real run does what check mode said
    module, eng = engine_for(lv, **params)
    run(module, eng)
    assert not module.result.get("failed"), module.result
    assert [a["kind"] for a in module.result["actions"]] == kinds
    assert module.result["renewed"] == (renew or "link_bounce")
    assert [(s, st) for s, st, _f in _links(vm.calls)] == expected
    assert all(f == lc.AFFECT_LIVE for _s, _st, f in _links(vm.calls))
    assert slept == ([3] if len(expected) > 1 else [])
    assert module.result["interface"]["live"]["link"] == "up"
    # again: nothing to do, nothing reported
    module, eng = engine_for(lv, **params)
    run(module, eng)
    assert module.result["changed"] is False and "renewed" not in module.result


def test_a_failing_bounce_leaves_the_link_up_and_rolls_the_move_back(monkeypatch):
    monkeypatch.setattr(ie.time, "sleep", lambda s: None)

    class FailsOnUp(UpdatingDom):
        def updateDeviceFlags(self, xml, flags):
            el = etree.fromstring(xml.encode())
            if el.find("link") is not None and el.find("link").get("state") == "up" and \
                    any(etree.fromstring(x.encode()).find("link") is not None for _k, x, _f in self.calls):
                self.calls.append(("update", xml, flags))
                self.fail_next = getattr(self, "fail_next", 0) + 1
                if self.fail_next == 1:
                    raise RuntimeError("link up refused")
            super().updateDeviceFlags(xml, flags)

    vm = FailsOnUp("vm1", dom_xml("vm1", [NIC_A]), dom_xml("vm1", [NIC_A_LIVE % "ua-web"]))
    config_before = vm.config
    lv = FakeLv([vm], networks=("default", "lab"))
    lv.call = _wrap
    module, eng = engine_for(lv, domain="vm1", alias="ua-web", type="network", source="lab", renew_down_time=1)
    with pytest.raises(SystemExit):
        run(module, eng)
    assert module.result["failed"] and "link up refused" in module.result["msg"]
    assert "the link bounce" in module.result["rolled_back"]
    live = etree.fromstring(vm.live.encode()).find("devices/interface")
    assert live.find("source").get("network") == "default"
    assert live.find("link") is None or live.find("link").get("state") == "up"
    assert vm.config == config_before


def _wrap(what, fn, *args, xml=None):
    from ansible_collections.virtnet.networking.plugins.module_utils.errors import VirtnetError
    try:
        return fn(*args)
    except RuntimeError as err:
        raise VirtnetError("%s: %s" % (what, err))


def test_read_state_lists_config_targets_and_the_links_the_domain_holds():
    nic_a = NIC_A.replace("<model type='virtio'/>", "<target dev='lan9'/>\n      <model type='virtio'/>")
    vm = FakeDom("vm1", dom_xml("vm1", [NIC_B, nic_a]), dom_xml("vm1", [NIC_B, NIC_A_LIVE % "ua-web"]))
    state, _d, _c, _l = ie.read_state(FakeLv([vm]), desired(alias="ua-web"))
    assert state.config_targets == [("interface 52:54:00:00:00:01", "lan9", True)]
    assert state.own_links == {"vnet7"}
