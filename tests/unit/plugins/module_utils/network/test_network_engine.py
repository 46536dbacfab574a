"""network.engine / libvirt.restart helpers that read the host: routes and
links from an injectable root, and the interface XML sent to reconnect."""

import os

import netaddr
import pytest
from lxml import etree

from ansible_collections.virtnet.networking.plugins.module_utils.network import engine as ne
from ansible_collections.virtnet.networking.plugins.modules import virt_network
from unit.fakes import FakeLibvirt, FakeModule
from ansible_collections.virtnet.networking.plugins.module_utils.libvirt import host as lh
from ansible_collections.virtnet.networking.plugins.module_utils.libvirt import restart as nr
from ansible_collections.virtnet.networking.plugins.module_utils.errors import VirtnetError
from ansible_collections.virtnet.networking.plugins.module_utils.fsroot import FsRoot

ROUTE = """Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
lan0\t00000000\t016433C6\t0003\t0\t0\t0\t00000000\t0\t0\t0
lan0\t006433C6\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
virbr1\t807100CB\t00000000\t0001\t0\t0\t0\tE0FFFFFF\t0\t0\t0
"""
ROUTE6 = (
    "20010db8010000000000000000000000 40 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 00000100 00000001 00000000 00000001     lan0\n"
    "fe800000000000000000000000000000 40 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 00000100 00000001 00000000 00000001     lan0\n"
    "00000000000000000000000000000001 80 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 00000000 00000001 00000000 00200001       lo\n"
)


def fake_root(tmp_path):
    (tmp_path / "proc/net").mkdir(parents=True)
    (tmp_path / "proc/net/route").write_text(ROUTE)
    (tmp_path / "proc/net/ipv6_route").write_text(ROUTE6)
    for name, bridge in (("lan0", False), ("br0", True), ("virbr1", True)):
        d = tmp_path / "sys/class/net" / name
        d.mkdir(parents=True)
        if bridge:
            (d / "bridge").mkdir()
    return FsRoot(str(tmp_path))


def test_read_routes(tmp_path):
    routes = lh.read_routes(fake_root(tmp_path))
    assert routes == [
        (netaddr.IPNetwork("0.0.0.0/0"), "lan0"),
        (netaddr.IPNetwork("198.51.100.0/24"), "lan0"),
        (netaddr.IPNetwork("203.0.113.128/27"), "virbr1"),
        (netaddr.IPNetwork("2001:db8:100::/64"), "lan0"),
    ]


def test_read_links(tmp_path):
    assert lh.read_links(fake_root(tmp_path)) == {"br0": True, "lan0": False, "virbr1": True}
    assert lh.read_links(FsRoot(str(tmp_path / "nothing"))) is None


def test_is_local():
    assert lh.is_local("qemu:///system")
    assert lh.is_local("qemu:///system?socket=/run/x/libvirt-sock")
    assert not lh.is_local("qemu+ssh://root@hv1/system")


LIVE_IFACE = """<interface type='network'>
  <mac address='52:54:00:10:e7:82'/>
  <source network='t1' portid='b708f466-d361-4726-9a11-dd92e19ec9dc' bridge='vbt1'/>
  <target dev='vnet0'/>
  <model type='virtio'/>
  <alias name='net0'/>
  <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>
</interface>"""


def test_reconnect_xml_drops_runtime_attributes_and_keeps_the_rest():
    el = etree.fromstring(nr._iface_on(etree.fromstring(LIVE_IFACE), "vn-hold-1").encode())
    src = el.find("source")
    assert dict(src.attrib) == {"network": "vn-hold-1"}
    assert el.find("mac").get("address") == "52:54:00:10:e7:82"
    assert el.find("alias").get("name") == "net0" and el.find("model").get("type") == "virtio"


def test_hold_network_has_no_address_and_no_stp():
    root = etree.fromstring(nr._hold_network_xml("vn-hold-1").encode())
    assert root.find("ip") is None and root.find("forward") is None
    assert root.find("bridge").get("stp") == "off"
    rng = "/usr/share/libvirt/schemas/network.rng"
    if os.path.exists(rng):
        assert etree.RelaxNG(etree.parse(rng)).validate(root)


def test_reconnect_only_where_there_is_a_bridge():
    assert nr._has_bridge("<network><name>a</name><bridge name='virbr1'/></network>")
    assert nr._has_bridge("<network><name>a</name><forward mode='bridge'/><bridge name='br0'/></network>")
    assert not nr._has_bridge("<network><name>a</name><forward mode='bridge'><interface dev='eth0'/></forward>"
                              "</network>")


class FakeNet:
    def __init__(self, fail_on=None):
        self.calls = []
        self.fail_on = fail_on

    def isActive(self):  # noqa: N802 - libvirt's name
        return True

    def update(self, command, section, parent, xml, flags):
        self.calls.append((command, xml))
        if len(self.calls) == self.fail_on:
            raise RuntimeError("libvirt said no")
        return 0


def test_failed_live_update_reverts_the_ones_before_it():
    from ansible_collections.virtnet.networking.plugins.module_utils.engine import Plan
    from ansible_collections.virtnet.networking.plugins.module_utils.network import plan as npl
    net = FakeNet(fail_on=2)
    engine = ne.NetworkEngine(FakeModule({"name": "lab", "uri": "qemu:///system"},
                                         argument_spec=virt_network.argument_spec()))
    engine.lv = FakeLibvirt(networks={"lab": net}, call_errors=(RuntimeError,))
    plan = Plan()
    for mac in ("52:54:00:00:00:01", "52:54:00:00:00:02"):
        xml = "<host mac='%s' ip='198.51.100.10'/>" % mac
        plan.add("update", "add " + mac, payload=npl.Update(npl.CMD_ADD_LAST, npl.SECTION_IP_DHCP_HOST, 0, xml))
    with pytest.raises(VirtnetError):
        engine.apply(plan)
    # what run() does on the failure: the journal holds only the update that ran
    assert engine.roll_back() == "live update reverted"
    assert [c[0] for c in net.calls] == [npl.CMD_ADD_LAST, npl.CMD_ADD_LAST, npl.CMD_DELETE]
    assert "00:01" in net.calls[2][1]
