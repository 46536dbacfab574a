"""libvirt.restart: the interface XML sent to reconnect running guests, and
the hold network used while a network restarts."""

import os

from lxml import etree

from ansible_collections.virtnet.networking.plugins.module_utils.libvirt import restart as nr


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
