"""network_xml: XML built by lxml is valid for libvirt's own RelaxNG schema,
parse(build(m)) == m, libvirt's own dumps parse to the expected model, and
a rebuild over the host's XML keeps everything the module does not manage."""

import os

import pytest
from lxml import etree

from ansible_collections.virtnet.networking.plugins.module_utils.network import model as netm
from ansible_collections.virtnet.networking.plugins.module_utils.network import validate as nv
from ansible_collections.virtnet.networking.plugins.module_utils.network import xml as nx

SCHEMA = "/usr/share/libvirt/schemas/network.rng"


@pytest.fixture(scope="module")
def rng():
    if not os.path.exists(SCHEMA):
        pytest.skip("libvirt's RelaxNG schemas are not installed")
    return etree.RelaxNG(etree.parse(SCHEMA))


def desired(**p):
    return netm.merge(nv.network_from_params(dict({"name": "lab"}, **p)).network, None)


FULL_V4 = {"address": "198.51.100.1/24", "dhcp": {
    "ranges": [{"start": "198.51.100.100", "end": "198.51.100.150"},
               {"start": "198.51.100.20", "end": "198.51.100.30"}],
    "hosts": [{"mac": "52:54:00:AA:00:01", "ip": "198.51.100.10", "name": "web"},
              {"mac": "52:54:00:aa:00:02", "ip": "198.51.100.11"}]}}
V6 = {"address": "2001:db8:5::1/64", "dhcp": {
    "ranges": [{"start": "2001:db8:5::100", "end": "2001:db8:5::1ff"}],
    "hosts": [{"name": "web", "ip": "2001:db8:5::10"}]}}

MODELS = {
    "nat-full": dict(forward={"mode": "nat", "dev": "eth1",
                              "nat": {"address": {"start": "203.0.113.5", "end": "203.0.113.9"},
                                      "port": {"start": 2000, "end": 3000}}},
                     bridge={"name": "virbr7", "stp": False, "delay": 2}, mtu=9000,
                     domain={"name": "lab.example", "local_only": True}, ips=[FULL_V4, V6],
                     dns={"enable": True,
                          "forwarders": [{"addr": "192.0.2.53"}, {"domain": "corp.example", "addr": "192.0.2.54"}],
                          "hosts": [{"ip": "198.51.100.10", "hostnames": ["www", "web"]}],
                          "txt": [{"name": "info", "value": "hello world"}],
                          "srv": [{"service": "ldap", "protocol": "tcp", "domain": "lab.example",
                                   "target": "web.lab.example", "port": 389, "priority": 10, "weight": 5}]},
                     dnsmasq_options=["no-ping", "log-dhcp"]),
    "route": dict(forward={"mode": "route", "dev": "eth0"}, ips=[{"address": "198.51.100.1/24"}]),
    "open": dict(forward={"mode": "open"}, bridge={"name": "vbopen"}, ips=[{"address": "198.51.100.1/25"}]),
    "isolated": dict(forward={"mode": "isolated"}, ips=[V6]),
    "bridge": dict(forward={"mode": "bridge"}, bridge={"name": "br0"}),
    "nat-default": dict(),
    "dns-off": dict(dns={"enable": False}, ips=[{"address": "198.51.100.1/24"}]),
}


@pytest.mark.parametrize("case", sorted(MODELS))
def test_build_is_valid_for_libvirt_schema(case, rng):
    xml = nx.build(desired(**MODELS[case]))
    doc = etree.fromstring(xml.encode())
    assert rng.validate(doc), (case, rng.error_log, xml)


@pytest.mark.parametrize("case", sorted(MODELS))
def test_round_trip(case):
    model = desired(**MODELS[case])
    assert nx.parse(nx.build(model)) == model


def test_normalizes_mac_case_and_sorts_hosts():
    model = desired(**MODELS["nat-full"])
    ip = model.ips[0]
    assert [h.mac for h in ip.hosts] == ["52:54:00:aa:00:01", "52:54:00:aa:00:02"]
    assert ip.ranges == (("198.51.100.20", "198.51.100.30"), ("198.51.100.100", "198.51.100.150"))


# libvirt 11.3's `net-dumpxml --inactive` of a network pxe_network and a user shaped.
GOLDEN_PXE = """<network>
  <name>pxe</name>
  <uuid>684cc873-0d33-475a-bac4-aff3eb2794e6</uuid>
  <forward dev='lan0' mode='route'>
    <interface dev='lan0'/>
  </forward>
  <bridge name='vbpxe' stp='off' delay='0'/>
  <mtu size='1400'/>
  <mac address='52:54:00:a5:24:e7'/>
  <domain name='pxe.example' localOnly='yes'/>
  <ip address='203.0.113.161' netmask='255.255.255.224'>
    <tftp root='/srv/tftp'/>
    <dhcp>
      <range start='203.0.113.170' end='203.0.113.180'/>
      <host mac='52:54:00:AA:BB:CC' name='boot1' ip='203.0.113.165'/>
      <bootp file='pxelinux.0'/>
    </dhcp>
  </ip>
  <ip family='ipv6' address='2001:db8:7::1' prefix='64'>
  </ip>
  <portgroup name='pg1' default='yes'>
  </portgroup>
</network>
"""

# The live XML of a running NAT network: libvirt adds the port range and
# the connection count.
GOLDEN_LIVE_NAT = """<network xmlns:dnsmasq='http://libvirt.org/schemas/network/dnsmasq/1.0' connections='1'>
  <name>t1</name>
  <uuid>70b39785-121e-4451-9293-d6c8d2034131</uuid>
  <forward mode='nat'>
    <nat>
      <port start='1024' end='65535'/>
    </nat>
  </forward>
  <bridge name='vbt1' stp='off' delay='0'/>
  <mac address='52:54:00:27:2a:eb'/>
  <ip address='192.0.2.1' prefix='24'>
    <dhcp>
      <range start='192.0.2.100' end='192.0.2.150'/>
    </dhcp>
  </ip>
  <dnsmasq:options>
    <dnsmasq:option value='no-ping'/>
  </dnsmasq:options>
</network>
"""

# libvirt's stock default network definition (as packaged).
GOLDEN_DEFAULT = """<network>
  <name>default</name>
  <bridge name='virbr0'/>
  <forward/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254'/>
    </dhcp>
  </ip>
</network>
"""


def test_golden_pxe_parses_to_normalized_model():
    m = nx.parse(GOLDEN_PXE)
    assert m.mode == "route" and m.dev == "lan0"
    assert (m.bridge, m.stp, m.delay, m.mtu) == ("vbpxe", False, 0, 1400)
    assert (m.domain, m.domain_local_only) == ("pxe.example", True)
    assert [ip.address for ip in m.ips] == ["203.0.113.161/27", "2001:db8:7::1/64"]
    assert m.ips[0].hosts == (netm.Host(ip="203.0.113.165", mac="52:54:00:aa:bb:cc", name="boot1"),)
    assert m.ips[1].dhcp is False


def test_golden_live_nat_default_ports_are_not_a_setting():
    m = nx.parse(GOLDEN_LIVE_NAT)
    assert m.nat_port is None and m.mode == "nat"
    assert m.dnsmasq_options == ("no-ping",)


def test_golden_default_network():
    m = nx.parse(GOLDEN_DEFAULT)
    assert (m.mode, m.bridge, m.stp) == ("nat", "virbr0", None)
    assert m.ips[0].address == "192.168.122.1/24"
    assert m.ips[0].ranges == (("192.168.122.2", "192.168.122.254"),)


def test_rebuild_keeps_what_others_own(rng):
    have = nx.parse(GOLDEN_PXE)
    params = {"name": "pxe", "mtu": 9000, "ips": [
        {"address": "203.0.113.161/27", "dhcp": {"ranges": [{"start": "203.0.113.170", "end": "203.0.113.185"}],
                                                 "hosts": [{"mac": "52:54:00:aa:bb:cc", "ip": "203.0.113.165",
                                                            "name": "boot1"}]}}]}
    want = netm.merge(nv.network_from_params(params).network, have)
    xml = nx.build(want, base=GOLDEN_PXE)
    root = etree.fromstring(xml.encode())
    assert rng.validate(root), rng.error_log
    # Not ours: kept.
    assert root.findtext("uuid") == "684cc873-0d33-475a-bac4-aff3eb2794e6"
    assert root.find("mac").get("address") == "52:54:00:a5:24:e7"
    assert root.find("ip/tftp").get("root") == "/srv/tftp"
    assert root.find("ip/dhcp/bootp").get("file") == "pxelinux.0"
    assert root.find("portgroup").get("name") == "pg1"
    # bootp stays the last child of <dhcp>, as the schema wants.
    assert [c.tag for c in root.find("ip/dhcp")] == ["range", "host", "bootp"]
    # Ours: changed.
    assert root.find("mtu").get("size") == "9000"
    assert root.find("ip/dhcp/range").get("end") == "203.0.113.185"
    # The IPv6 address was not in the list any more.
    assert len(root.findall("ip")) == 1
    assert nx.parse(xml) == want


def test_changing_dev_drops_the_stale_interface():
    have = nx.parse(GOLDEN_PXE)
    want = netm.merge(nv.network_from_params({"name": "pxe", "forward": {"mode": "route", "dev": "lan1"}}).network,
                      have)
    root = etree.fromstring(nx.build(want, base=GOLDEN_PXE).encode())
    assert root.find("forward").get("dev") == "lan1"
    assert root.findall("forward/interface") == []


def test_dnsmasq_namespace_added_to_existing_root(rng):
    have = nx.parse(GOLDEN_PXE)
    want = netm.merge(nv.network_from_params({"name": "pxe", "dnsmasq_options": ["no-ping"]}).network, have)
    xml = nx.build(want, base=GOLDEN_PXE)
    assert rng.validate(etree.fromstring(xml.encode())), rng.error_log
    assert nx.parse(xml).dnsmasq_options == ("no-ping",)
    assert "tftp" in xml


def test_switch_to_isolated_removes_forward():
    have = nx.parse(GOLDEN_LIVE_NAT)
    want = netm.merge(nv.network_from_params({"name": "t1", "forward": {"mode": "isolated"}}).network, have)
    root = etree.fromstring(nx.build(want, base=GOLDEN_LIVE_NAT).encode())
    assert root.find("forward") is None
    assert nx.parse(etree.tostring(root)).mode == "isolated"


def test_nat_attributes_not_ours_are_kept(rng):
    base = GOLDEN_LIVE_NAT.replace("<nat>", "<nat ipv6='yes'>")
    want = netm.merge(nv.network_from_params({"name": "t1", "forward": {
        "mode": "nat", "nat": {"address": {"start": "198.51.100.2"}}}}).network, nx.parse(base))
    root = etree.fromstring(nx.build(want, base=base).encode())
    assert rng.validate(root), rng.error_log
    nat = root.find("forward/nat")
    assert nat.get("ipv6") == "yes"
    assert nat.find("address").get("start") == "198.51.100.2" and nat.find("port") is None
