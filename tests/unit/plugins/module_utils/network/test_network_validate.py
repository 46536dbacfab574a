"""network.model: every bad input is refused before anything is touched,
with a message naming the option and the value; good input is normalized."""

import netaddr
import pytest

from ansible_collections.virtnet.networking.plugins.module_utils.network import model as netm
from ansible_collections.virtnet.networking.plugins.module_utils.network import validate as nv
from ansible_collections.virtnet.networking.plugins.module_utils.errors import ValidationError

V4 = {"address": "198.51.100.1/24"}


def ip(**dhcp):
    return dict(V4, dhcp={"ranges": dhcp.get("ranges", []), "hosts": dhcp.get("hosts", [])})


def rng(s, e):
    return {"start": s, "end": e}


def host(ip_, mac=None, name=None):
    return {"ip": ip_, "mac": mac, "name": name}


# (params, option named in the message, value shown in the message)
BAD = [
    ({"name": "bad/name"}, "name", "bad/name"),
    ({"name": "-lead"}, "name", "-lead"),
    ({"forward": {"mode": "tunnel"}}, "forward.mode", "tunnel"),
    ({"forward": {"mode": "open", "dev": "eth0"}}, "forward.dev", "eth0"),
    ({"forward": {"mode": "nat", "dev": "way-too-long-ifname"}}, "forward.dev", "way-too-long-ifname"),
    ({"forward": {"mode": "route", "nat": {"port": {"start": 1, "end": 2}}}}, "forward.nat", "set"),
    ({"forward": {"mode": "nat", "nat": {"port": {"start": 3000, "end": 2000}}}}, "forward.nat.port.end", "2000"),
    ({"forward": {"mode": "nat", "nat": {"port": {"start": 0, "end": 2000}}}}, "forward.nat.port.start", "0"),
    ({"forward": {"mode": "nat", "nat": {"address": {"start": "203.0.113.9", "end": "203.0.113.1"}}}},
     "forward.nat.address.end", "203.0.113.1"),
    ({"forward": {"mode": "nat", "nat": {"address": {"start": "2001:db8::1"}}}},
     "forward.nat.address.start", "2001:db8::1"),
    ({"forward": {"mode": "bridge"}}, "bridge.name", "None"),
    ({"forward": {"mode": "bridge"}, "bridge": {"name": "br0", "stp": True}}, "bridge.stp", "True"),
    ({"forward": {"mode": "bridge"}, "bridge": {"name": "br0"}, "ips": [V4]}, "ips", "198.51.100.1/24"),
    ({"forward": {"mode": "bridge"}, "bridge": {"name": "br0"}, "dns": {"enable": True}}, "dns", "set"),
    ({"forward": {"mode": "bridge"}, "bridge": {"name": "br0"}, "domain": {"name": "x.example"}},
     "domain.name", "x.example"),
    ({"bridge": {"name": "br 0"}}, "bridge.name", "br 0"),
    ({"bridge": {"name": "abcdefghijklmnop"}}, "bridge.name", "abcdefghijklmnop"),
    ({"bridge": {"delay": 999}}, "bridge.delay", "999"),
    ({"mtu": 20}, "mtu", "20"),
    ({"domain": {"name": "bad_domain!"}}, "domain.name", "bad_domain!"),
    ({"ips": [{"address": "198.51.100.1"}]}, "ips[0].address", "198.51.100.1"),
    ({"ips": [{"address": "198.51.100.300/24"}]}, "ips[0].address", "198.51.100.300/24"),
    ({"ips": [{"address": "198.51.100.0/24"}]}, "ips[0].address", "198.51.100.0/24"),
    ({"ips": [{"address": "198.51.100.255/24"}]}, "ips[0].address", "198.51.100.255/24"),
    ({"ips": [V4, {"address": "198.51.100.129/25"}]}, "ips[1].address", "198.51.100.129/25"),
    ({"ips": [ip(ranges=[rng("198.51.101.10", "198.51.101.20")])]}, "ips[0].dhcp.ranges[0].start", "198.51.101.10"),
    ({"ips": [ip(ranges=[rng("198.51.100.20", "198.51.100.10")])]}, "ips[0].dhcp.ranges[0].end", "198.51.100.10"),
    ({"ips": [ip(ranges=[rng("198.51.100.1", "198.51.100.10")])]}, "ips[0].dhcp.ranges[0]",
     "198.51.100.1-198.51.100.10"),
    ({"ips": [ip(ranges=[rng("198.51.100.10", "198.51.100.20"), rng("198.51.100.15", "198.51.100.30")])]},
     "ips[0].dhcp.ranges[1]", "198.51.100.15-198.51.100.30"),
    ({"ips": [ip(ranges=[rng("198.51.100.200", "198.51.100.255")])]}, "ips[0].dhcp.ranges[0]",
     "198.51.100.200-198.51.100.255"),
    ({"ips": [ip(hosts=[host("198.51.100.10", mac="52:54:00:zz:00:01")])]}, "ips[0].dhcp.hosts[0].mac",
     "52:54:00:zz:00:01"),
    ({"ips": [ip(hosts=[host("198.51.100.10", mac="01:00:5e:00:00:01")])]}, "ips[0].dhcp.hosts[0].mac",
     "01:00:5e:00:00:01"),
    ({"ips": [ip(hosts=[host("198.51.100.10", mac="52:54:00:00:00:01"),
                        host("198.51.100.11", mac="52:54:00:00:00:01")])]}, "ips[0].dhcp.hosts[1].mac",
     "52:54:00:00:00:01"),
    ({"ips": [ip(hosts=[host("198.51.100.10", mac="52:54:00:00:00:01"),
                        host("198.51.100.10", mac="52:54:00:00:00:02")])]}, "ips[0].dhcp.hosts[1].ip",
     "198.51.100.10"),
    ({"ips": [ip(hosts=[host("198.51.100.10", mac="52:54:00:00:00:01", name="a"),
                        host("198.51.100.11", mac="52:54:00:00:00:02", name="a")])]}, "ips[0].dhcp.hosts[1].name",
     "a"),
    ({"ips": [ip(hosts=[host("198.51.100.1", mac="52:54:00:00:00:01")])]}, "ips[0].dhcp.hosts[0].ip",
     "198.51.100.1"),
    ({"ips": [ip(hosts=[host("192.0.2.10", mac="52:54:00:00:00:01")])]}, "ips[0].dhcp.hosts[0].ip", "192.0.2.10"),
    ({"ips": [ip(hosts=[host("198.51.100.10")])]}, "ips[0].dhcp.hosts[0]", "198.51.100.10"),
    ({"ips": [{"address": "2001:db8:1::1/64", "dhcp": {"ranges": [], "hosts": [
        host("2001:db8:1::10", mac="52:54:00:00:00:01")]}}]}, "ips[0].dhcp.hosts[0].mac", "52:54:00:00:00:01"),
    ({"ips": [ip(ranges=[rng("198.51.100.10", "198.51.100.20")]),
              {"address": "198.51.101.1/24", "dhcp": {"ranges": [rng("198.51.101.10", "198.51.101.20")], "hosts": []}}]},
     "ips[1].dhcp", "set"),
    ({"dns": {"hosts": [{"ip": "198.51.100.x", "hostnames": ["a"]}]}}, "dns.hosts[0].ip", "198.51.100.x"),
    ({"dns": {"hosts": [{"ip": "198.51.100.5", "hostnames": []}]}}, "dns.hosts[0].hostnames", "[]"),
    ({"dns": {"hosts": [{"ip": "198.51.100.5", "hostnames": ["a"]}, {"ip": "198.51.100.5", "hostnames": ["b"]}]}},
     "dns.hosts[1].ip", "198.51.100.5"),
    ({"dns": {"forwarders": [{"addr": "not-an-ip"}]}}, "dns.forwarders[0].addr", "not-an-ip"),
    ({"dns": {"txt": [{"name": "a", "value": "1"}, {"name": "a", "value": "2"}]}}, "dns.txt", "a"),
    ({"dns": {"srv": [{"service": "ldap", "protocol": "tcp", "port": 70000}]}}, "dns.srv[0].port", "70000"),
    ({"dnsmasq_options": ["no-ping", "a\nb"]}, "dnsmasq_options[1]", "a\\nb"),
]


@pytest.mark.parametrize("params,option,value", BAD, ids=[b[1] + ":" + str(i) for i, b in enumerate(BAD)])
def test_bad_input_names_option_and_value(params, option, value):
    with pytest.raises(ValidationError) as exc:
        nv.network_from_params(dict({"name": "lab"}, **params))
    assert exc.value.option == option
    assert exc.value.msg.startswith(option + "=")
    assert value in exc.value.msg


def test_enough_bad_cases():
    assert len(BAD) >= 30


def test_empty_dhcp_is_no_dhcp():
    # libvirt reads an empty <dhcp/> back as nothing: never a perpetual change
    d = nv.network_from_params({"name": "lab", "ips": [ip(), {"address": "198.51.101.1/24",
                                                              "dhcp": {"ranges": [], "hosts": []}}]})
    assert [i.dhcp for i in d.network.ips] == [False, False]


def test_good_input_is_normalized():
    nat = {"port": {"start": 1024, "end": 65535}}
    d = nv.network_from_params({"name": "lab", "forward": {"mode": "nat", "nat": nat},
                                "ips": [ip(hosts=[host("198.51.100.10", mac="52-54-00-AB-CD-EF", name="Web")])]})
    assert d.network.nat_port is None  # libvirt's own default is not a setting
    assert d.network.ips[0].hosts[0] == netm.Host(ip="198.51.100.10", mac="52:54:00:ab:cd:ef", name="web")
    assert d.state == "running" and d.restart is False


def net(*addrs, name="other", bridge="virbr9"):
    return (name, netm.Network(name=name, bridge=bridge, ips=tuple(netm.Ip(address=a) for a in addrs)))


def test_overlap_with_another_libvirt_network():
    mine = nv.network_from_params({"name": "lab", "ips": [{"address": "198.51.100.1/24"}]}).network
    with pytest.raises(ValidationError) as exc:
        nv.check_against_host(mine, others=[net("198.51.100.129/25")], routes=[])
    assert exc.value.option == "ips[0].address" and "'other'" in exc.value.msg
    nv.check_against_host(mine, others=[net("198.51.101.1/24")], routes=[])  # disjoint: fine
    nv.check_against_host(mine, others=[net("198.51.100.1/24", name="lab")], routes=[])  # itself: fine


def test_overlap_with_a_host_route():
    mine = nv.network_from_params({"name": "lab", "bridge": {"name": "vblab"},
                                   "ips": [{"address": "198.51.100.1/24"}]}).network
    mine = netm.merge(mine, None)
    routes = [(netaddr.IPNetwork("0.0.0.0/0"), "eth0"), (netaddr.IPNetwork("198.51.100.0/24"), "vblab")]
    nv.check_against_host(mine, others=[], routes=routes)  # default route and its own bridge route are fine
    with pytest.raises(ValidationError) as exc:
        nv.check_against_host(mine, others=[], routes=routes + [(netaddr.IPNetwork("198.51.100.64/26"), "eth1")])
    assert "host route 198.51.100.64/26 dev eth1" in exc.value.msg


@pytest.mark.parametrize("params,option,value", [
    ({"forward": {"mode": "bridge"}, "bridge": {"name": "br9"}}, "bridge.name", "br9"),
    ({"forward": {"mode": "bridge"}, "bridge": {"name": "lan0"}}, "bridge.name", "lan0"),
    ({"forward": {"mode": "route", "dev": "eth7"}}, "forward.dev", "eth7"),
])
def test_host_interfaces_must_exist(params, option, value):
    mine = netm.merge(nv.network_from_params(dict({"name": "lab"}, **params)).network, None)
    links = {"lan0": False, "br0": True}
    with pytest.raises(ValidationError) as exc:
        nv.check_against_host(mine, others=[], routes=[], links=links)
    assert exc.value.option == option and value in exc.value.msg
    nv.check_against_host(mine, others=[], routes=[], links=None)  # host not visible (remote uri): not checked


def existing(mode, **kw):
    params = dict({"name": "lab", "forward": {"mode": mode}, "bridge": {"name": "br0"}}, **kw)
    return netm.merge(nv.network_from_params(params).network, None)


@pytest.mark.parametrize("have_mode,params,option,value", [
    ("route", {"forward": {"nat": {"port": {"start": 2000, "end": 3000}}}}, "forward.nat", "set"),
    ("open", {"forward": {"dev": "eth0"}}, "forward.dev", "eth0"),
    ("bridge", {"ips": [{"address": "198.51.100.1/24"}]}, "ips", "198.51.100.1/24"),
    ("bridge", {"dns": {"hosts": [{"ip": "198.51.100.5", "hostnames": ["a"]}]}}, "dns", "set"),
    ("bridge", {"domain": {"name": "lab.example"}}, "domain.name", "lab.example"),
])
def test_options_must_fit_the_mode_the_network_already_has(have_mode, params, option, value):
    """The task leaves forward.mode unset: the check runs on the merge."""
    want = nv.network_from_params(dict({"name": "lab"}, **params)).network
    merged = netm.merge(want, existing(have_mode))
    with pytest.raises(ValidationError) as exc:
        nv.check_against_host(merged, others=[], routes=[])
    assert exc.value.option == option and value in exc.value.msg


def test_bridge_name_of_another_network():
    mine = existing("nat")
    with pytest.raises(ValidationError) as exc:
        nv.check_against_host(mine, others=[("other", netm.Network(name="other", bridge="br0"))], routes=[])
    assert exc.value.option == "bridge.name" and "'other'" in exc.value.msg
