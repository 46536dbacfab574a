"""iface_xml / iface_model: generated <interface> elements are valid for
libvirt's own RelaxNG schema, parse(build(m)) == m, libvirt's own dumps
parse to the expected model, and an edit over the host's element keeps what
the module does not manage (PCI address, driver, target...)."""

import os

import pytest
from lxml import etree

from ansible_collections.virtnet.networking.plugins.module_utils.iface import model as im
from ansible_collections.virtnet.networking.plugins.module_utils.iface import xml as ix

SCHEMAS = "/usr/share/libvirt/schemas"


@pytest.fixture(scope="module")
def rng():
    """libvirt's domain grammar with <interface> as the start element."""
    common = os.path.join(SCHEMAS, "domaincommon.rng")
    if not os.path.exists(common):
        pytest.skip("libvirt's RelaxNG schemas are not installed")
    grammar = etree.fromstring(
        '<grammar xmlns="http://relaxng.org/ns/structure/1.0"'
        ' datatypeLibrary="http://www.w3.org/2001/XMLSchema-datatypes">'
        '<start><ref name="interface"/></start><include href="%s"/></grammar>' % common)
    return etree.RelaxNG(etree.ElementTree(grammar))


PF = (
    im.PortForward(proto="tcp", ranges=(im.PortRange(start=2022, to=22),)),
    im.PortForward(proto="udp", address="198.51.100.4",
                   ranges=(im.PortRange(start=5000, end=5020, to=6000),
                           im.PortRange(start=5010, end=5015, exclude=True))),
    im.PortForward(proto="tcp", address="2001:db8:ac10:fd01::1:10", dev="eth0",
                   ranges=(im.PortRange(start=8080), im.PortRange(start=4433, to=3444))),
)

MODELS = {
    "network": im.Interface(type="network", source="default", mac="52:54:00:12:34:56", model="virtio",
                            link="up", alias="ua-web", boot_order=1),
    "network-down": im.Interface(type="network", source="lab", mac="52:54:00:12:34:57", model="e1000e",
                                 link="down"),
    "bridge": im.Interface(type="bridge", source="br0", mac="52:54:00:00:00:01", model="virtio", link="up",
                           pci_address="0000:00:03.0"),
    "direct": im.Interface(type="direct", source="lan2", mode="bridge", mac="52:54:00:00:00:02", model="virtio",
                           link="up", boot_order=2),
    "passt": im.Interface(type="user", backend="passt", source="eth0", mac="52:54:00:98:d8:b7", model="virtio",
                          link="up", ips=("192.0.2.1/24", "2001:db8::5/64", "::ffff:192.0.2.1"),
                          port_forwards=im.normalized_forwards(PF)),
    "passt-bare": im.Interface(type="user", backend="passt", mac="52:54:00:98:d8:b8", model="virtio", link="up",
                               ips=(), port_forwards=()),
    "hostdev": im.Interface(type="hostdev", source="0000:03:10.2", mac="52:54:00:6d:90:02", link="up",
                            managed=True, vlan=42, alias="ua-vf0"),
    "hostdev-unmanaged": im.Interface(type="hostdev", source="0000:81:00.1", mac="52:54:00:6d:90:03", link="up",
                                      managed=False, pci_address="0000:00:07.0"),
}


@pytest.mark.parametrize("case", sorted(MODELS))
def test_build_is_valid_for_libvirt_schema(case, rng):
    el = etree.fromstring(ix.build(MODELS[case]).encode())
    assert rng.validate(el), (case, rng.error_log, ix.build(MODELS[case]))


@pytest.mark.parametrize("case", sorted(MODELS))
def test_round_trip(case):
    assert ix.parse(ix.build(MODELS[case])) == MODELS[case]


def test_port_forwards_are_normalized_in_any_order():
    shuffled = im.normalized_forwards(tuple(reversed([
        im.PortForward(proto=f.proto, address=f.address, dev=f.dev, ranges=tuple(reversed(f.ranges)))
        for f in PF])))
    assert shuffled == im.normalized_forwards(PF)


@pytest.mark.parametrize("text, norm", [("3:10.2", "0000:03:10.2"), ("0000:03:10.2", "0000:03:10.2"),
                                        ("ABCD:FF:1f.7", "abcd:ff:1f.7")])
def test_pci_normalized(text, norm):
    assert im.pci(text) == norm
    assert im.pci_from_attrs(im.pci_attrs(text)) == norm


@pytest.mark.parametrize("bad", ["03:10", "0000:03:10.8", "zz:00.0", "", "0000:003:10.2"])
def test_pci_rejects(bad):
    with pytest.raises(ValueError):
        im.pci(bad)


# --------------------------------------------------------------------------
# libvirt's own dumps (libvirt 11.3 `virsh dumpxml` of sandbox guests)
# --------------------------------------------------------------------------

# A running guest (dumpxml of a sandbox guest): type network, live XML with
# the port id, bridge, tap, libvirt's own alias and the PCI address it picked.
GOLDEN_LIVE_NETWORK = """<interface type='network'>
      <mac address='52:54:00:A1:B2:C3'/>
      <source network='vif-nat' portid='508fb906-3d84-4f39-9332-11907353c05c' bridge='vbvifnat'/>
      <target dev='vnet0'/>
      <model type='virtio'/>
      <link state='down'/>
      <alias name='ua-front'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>
    </interface>"""

GOLDEN_DIRECT = """<interface type='direct'>
      <mac address='52:54:00:0a:0b:0c'/>
      <source dev='lan2' mode='bridge'/>
      <target dev='macvtap0'/>
      <model type='virtio'/>
      <alias name='net1'/>
      <boot order='2'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x04' function='0x0'/>
    </interface>"""

GOLDEN_PASST = """<interface type='user'>
      <mac address='52:54:00:98:d8:b7'/>
      <portForward proto='tcp'>
        <range start='2022' to='22'/>
      </portForward>
      <model type='virtio'/>
      <backend type='passt' logFile='/var/log/passt.log'/>
      <alias name='net0'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/>
    </interface>"""

GOLDEN_HOSTDEV = """<interface type='hostdev' managed='yes'>
      <mac address='52:54:00:6d:90:02'/>
      <driver name='vfio'/>
      <source>
        <address type='pci' domain='0x0000' bus='0x03' slot='0x10' function='0x2'/>
      </source>
      <vlan>
        <tag id='42'/>
      </vlan>
      <alias name='hostdev0'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x06' function='0x0'/>
    </interface>"""


def test_golden_live_network():
    m = ix.parse(GOLDEN_LIVE_NETWORK)
    assert m == im.Interface(type="network", source="vif-nat", mac="52:54:00:a1:b2:c3", model="virtio",
                             link="down", alias="ua-front", pci_address="0000:00:02.0")


# A NIC moved live from type bridge onto a bridge-mode network: libvirt
# 11.3 keeps type='bridge' in the live XML but the source is the network.
GOLDEN_LIVE_MOVED_TO_NETWORK = """<interface type='bridge'>
      <mac address='52:54:00:f1:0a:09'/>
      <source network='vif-lan' portid='72e6dec3-847e-4403-9263-e4884768a691' bridge='vifbr0'/>
      <target dev='vnet14'/>
      <model type='virtio'/>
      <alias name='net0'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>
    </interface>"""


def test_golden_live_bridge_moved_onto_a_network_is_a_network_nic(rng):
    m = ix.parse(GOLDEN_LIVE_MOVED_TO_NETWORK)
    assert (m.type, m.source) == ("network", "vif-lan")
    el = ix.build_element(im.merge(im.Interface(link="down"), m), base=GOLDEN_LIVE_MOVED_TO_NETWORK)
    assert el.get("type") == "network" and el.find("source").get("network") == "vif-lan"
    assert el.find("target").get("dev") == "vnet14" and el.find("link").get("state") == "down"
    assert rng.validate(el), rng.error_log


def test_golden_direct_ignores_libvirts_own_alias():
    m = ix.parse(GOLDEN_DIRECT)
    assert (m.type, m.source, m.mode, m.alias, m.boot_order, m.link) == ("direct", "lan2", "bridge", None, 2, "up")


def test_golden_passt():
    m = ix.parse(GOLDEN_PASST)
    assert (m.type, m.backend, m.ips) == ("user", "passt", ())
    assert m.port_forwards == (im.PortForward(proto="tcp", ranges=(im.PortRange(start=2022, to=22),)),)


def test_golden_hostdev():
    m = ix.parse(GOLDEN_HOSTDEV)
    assert (m.type, m.source, m.vlan, m.managed, m.pci_address) == ("hostdev", "0000:03:10.2", 42, True,
                                                                    "0000:00:06.0")


def test_macvtap_to_bridge_keeps_mac_address_and_boot_order(rng):
    have = ix.parse(GOLDEN_DIRECT)
    want = im.merge(im.Interface(type="bridge", source="br0"), have)
    el = ix.build_element(want, base=GOLDEN_DIRECT)
    assert rng.validate(el), rng.error_log
    assert el.get("type") == "bridge"
    assert el.find("source").attrib == {"bridge": "br0"}
    assert el.find("mac").get("address") == "52:54:00:0a:0b:0c"
    assert el.find("boot").get("order") == "2"
    assert el.find("address").get("slot") == "0x04"
    # The macvtap device name belongs to the old connection.
    assert el.find("target") is None
    assert ix.parse(el) == im.Interface(type="bridge", source="br0", mac="52:54:00:0a:0b:0c", model="virtio",
                                        link="up", boot_order=2, pci_address="0000:00:04.0")


def test_live_source_move_drops_port_id_and_old_bridge(rng):
    have = ix.parse(GOLDEN_LIVE_NETWORK)
    want = im.merge(im.Interface(type="network", source="other", link="up"), have)
    el = ix.build_element(want, base=GOLDEN_LIVE_NETWORK)
    assert el.find("source").attrib == {"network": "other"}
    assert el.find("link").get("state") == "up"
    assert el.find("target").get("dev") == "vnet0"   # same tap: libvirt matches the device
    assert el.find("alias").get("name") == "ua-front"
    assert rng.validate(el), rng.error_log


def test_edit_keeps_unmanaged_children_and_backend_attributes():
    have = ix.parse(GOLDEN_PASST)
    fwd = (im.PortForward(proto="tcp", ranges=(im.PortRange(start=8080, to=80),)),)
    want = im.merge(im.Interface(type="user", port_forwards=fwd), have)
    el = ix.build_element(want, base=GOLDEN_PASST)
    assert el.find("backend").attrib == {"type": "passt", "logFile": "/var/log/passt.log"}
    assert [r.attrib for r in el.findall("portForward/range")] == [{"start": "8080", "to": "80"}]
    assert ix.parse(el).port_forwards == fwd


def test_boot_order_removed_when_unset_in_the_target():
    have = ix.parse(GOLDEN_DIRECT)
    import dataclasses
    el = ix.build_element(dataclasses.replace(have, boot_order=None), base=GOLDEN_DIRECT)
    assert el.find("boot") is None


def test_merge_new_interface_gets_libvirt_defaults():
    new = im.merge(im.Interface(type="direct", source="lan2", mac="52:54:00:00:00:09"), None)
    assert (new.model, new.mode, new.link) == ("virtio", "vepa", "up")
    vf = im.merge(im.Interface(type="hostdev", source="0000:03:10.2", mac="52:54:00:00:00:0a"), None)
    assert (vf.model, vf.managed) == (None, True)


def test_merge_type_change_drops_old_type_fields():
    have = ix.parse(GOLDEN_PASST)
    want = im.merge(im.Interface(type="network", source="default"), have)
    assert (want.backend, want.port_forwards, want.ips, want.mac) == (None, None, None, "52:54:00:98:d8:b7")
    assert im.differences(want, have) == ["type", "source", "backend", "port_forwards", "ips"]


# --------------------------------------------------------------------------
# the public helper for SR-IOV
# --------------------------------------------------------------------------

def test_hostdev_interface_xml(rng):
    xml = ix.hostdev_interface_xml("03:10.2", "52:54:00:6D:90:02", vlan=42, alias="ua-vf0")
    el = etree.fromstring(xml.encode())
    assert rng.validate(el), rng.error_log
    assert el.get("type") == "hostdev" and el.get("managed") == "yes"
    assert el.find("source/address").attrib == {"type": "pci", "domain": "0x0000", "bus": "0x03",
                                                "slot": "0x10", "function": "0x2"}
    assert el.find("mac").get("address") == "52:54:00:6d:90:02"
    assert el.find("vlan/tag").get("id") == "42"
    assert el.find("model") is None
    assert ix.parse(xml) == MODELS["hostdev"]


def test_hostdev_interface_xml_without_vlan(rng):
    el = etree.fromstring(ix.hostdev_interface_xml("0000:81:00.1", "52:54:00:00:00:01", managed=False).encode())
    assert rng.validate(el), rng.error_log
    assert el.find("vlan") is None and el.get("managed") == "no"


@pytest.mark.parametrize("kw, msg", [({"pci_address": "81:00"}, "PCI"), ({"alias": "vf0"}, "ua-")])
def test_hostdev_interface_xml_refuses(kw, msg):
    args = dict({"pci_address": "0000:81:00.1", "mac": "52:54:00:00:00:01"}, **kw)
    with pytest.raises(ValueError, match=msg):
        ix.hostdev_interface_xml(**args)


def test_interfaces_of_a_domain():
    dom = "<domain type='qemu'><name>g</name><devices>%s%s</devices></domain>" % (GOLDEN_DIRECT, GOLDEN_HOSTDEV)
    found = ix.interfaces(dom)
    assert [m.type for m, _el in found] == ["direct", "hostdev"]
    assert found[1][1].get("managed") == "yes"


def test_schema_check_can_fail(rng):
    """The grammar really checks: a direct interface needs a source device."""
    assert not rng.validate(etree.fromstring("<interface type='direct'><mac address='52:54:00:00:00:01'/>"
                                             "</interface>"))
