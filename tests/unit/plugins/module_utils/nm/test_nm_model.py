"""The VM-bridge model: validation rules of the seed, and normalization."""

import pytest

from ansible_collections.virtnet.networking.plugins.module_utils.errors import ValidationError
from ansible_collections.virtnet.networking.plugins.module_utils.nm.model import (
    Bond, bond_options_from_text, bond_options_text, ip_from_props)
from ansible_collections.virtnet.networking.plugins.module_utils.nm.validate import want_from_params


def params(**kw):
    base = {"name": "br0", "stp": False, "autoconnect_ports": True, "ports": ["eth1"], "bond": None,
            "ipv4": None, "ipv6": None, "move_ip_from": None}
    base.update(kw)
    return base


def bond(**kw):
    b = {"name": "bond0", "mode": "active-backup", "miimon": 100, "options": {}, "ports": ["eth1", "eth2"],
         "allow_unsafe_mode": False}
    b.update(kw)
    return b


@pytest.mark.parametrize("mode,name", [("1", "active-backup"), ("active-backup", "active-backup"),
                                       ("2", "balance-xor"), ("balance-xor", "balance-xor"),
                                       ("4", "802.3ad"), ("802.3AD", "802.3ad")])
def test_safe_bond_modes_accepted_by_number_or_name(mode, name):
    topo, warnings = want_from_params(params(ports=[], bond=bond(mode=mode)))
    assert topo.bond.mode == name
    assert warnings == []


@pytest.mark.parametrize("mode", ["0", "balance-rr", "3", "broadcast", "5", "balance-tlb", "6", "balance-alb"])
def test_unsafe_bond_modes_refused_with_the_seeds_reason(mode):
    with pytest.raises(ValidationError) as e:
        want_from_params(params(ports=[], bond=bond(mode=mode)))
    assert e.value.option == "bond.mode"
    assert e.value.msg.startswith("bond.mode=%r:" % mode)
    assert "only bonding modes 1 (active-backup), 2 (balance-xor) and 4 (802.3ad)" in e.value.msg
    assert "allow_unsafe_mode" in e.value.msg


def test_unsafe_mode_with_override_is_a_warning():
    topo, warnings = want_from_params(params(ports=[], bond=bond(mode="balance-alb", allow_unsafe_mode=True)))
    assert topo.bond.mode == "balance-alb"
    assert len(warnings) == 1 and "balance-alb" in warnings[0] and "likely to make" in warnings[0]


BAD = [
    # (params, option, value shown, words in the reason)
    (params(ports=[], bond=bond(mode="7")), "bond.mode", "'7'", "must be one of"),
    (params(ports=[], bond=bond(miimon=0)), "bond.miimon", "0", "MII monitoring is required"),
    (params(ports=[], bond=bond(miimon="fast")), "bond.miimon", "'fast'", "not a number"),
    (params(ports=[], bond=bond(options={"arp_interval": 100})), "bond.options.arp_interval", "100",
     "ARP monitoring does not work"),
    (params(ports=[], bond=bond(options={"arp_ip_target": "192.0.2.1"})), "bond.options.arp_ip_target",
     "'192.0.2.1'", "ARP monitoring"),
    (params(ports=[], bond=bond(options={"mode": "1"})), "bond.options.mode", "'1'", "set it with bond.mode"),
    (params(ports=[], bond=bond(options={"primary": "eth1,eth2"})), "bond.options.primary", "'eth1,eth2'",
     "may not contain"),
    (params(ports=[], bond=bond(ports=[])), "bond.ports", "[]", "at least one ethernet port"),
    (params(ports=[], bond=bond(name="br0")), "bond.name", "'br0'", "different names"),
    (params(ports=["eth1"], bond=bond(ports=["eth1", "eth2"])), "bond.ports", "'eth1'", "listed twice"),
    (params(ports=["br0"]), "ports", "'br0'", "cannot be the bridge"),
    (params(name="averyveryverylongbridge"), "name", "'averyveryverylongbridge'", "not a valid interface name"),
    (params(ports=["eth 1"]), "ports[0]", "'eth 1'", "not a valid interface name"),
    (params(ipv4={"addresses": ["192.0.2.10"]}), "ipv4.addresses[0]", "'192.0.2.10'", "needs a prefix length"),
    (params(ipv4={"addresses": ["192.0.2.10/33"]}), "ipv4.addresses[0]", "'192.0.2.10/33'", "not an address"),
    (params(ipv4={"addresses": ["192.0.2.300/24"]}), "ipv4.addresses[0]", "'192.0.2.300/24'", "not an address"),
    (params(ipv4={"addresses": ["192.0.2.0/24"]}), "ipv4.addresses[0]", "'192.0.2.0/24'", "network or broadcast"),
    (params(ipv4={"addresses": ["192.0.2.255/24"]}), "ipv4.addresses[0]", "'192.0.2.255/24'", "broadcast"),
    (params(ipv4={"addresses": ["2001:db8::1/64"]}), "ipv4.addresses[0]", "'2001:db8::1/64'", "not an IPv4"),
    (params(ipv4={"addresses": ["192.0.2.10/24"], "gateway": "198.51.100.1"}), "ipv4.gateway",
     "'198.51.100.1'", "outside the subnets"),
    (params(ipv6={"addresses": ["2001:db8:1::1/64"], "gateway": "2001:db8:2::1"}), "ipv6.gateway",
     "'2001:db8:2::1'", "outside the subnets"),
    (params(ipv4={"addresses": ["192.0.2.10/24"], "gateway": "not-an-ip"}), "ipv4.gateway", "'not-an-ip'",
     "not an IP address"),
    (params(ipv4={"method": "static"}), "ipv4.method", "'static'", "must be one of"),
    (params(ipv4={"method": "manual"}), "ipv4.addresses", "[]", "needs at least one address"),
    (params(ipv4={"method": "auto", "gateway": "192.0.2.1"}), "ipv4.gateway", "'192.0.2.1'", "only valid with"),
    (params(ipv4={"method": "disabled", "dns": ["192.0.2.53"]}), "ipv4.dns", "['192.0.2.53']",
     "need an IP method"),
    (params(ipv4={"method": "auto", "dns": ["192.0.2.999"]}), "ipv4.dns[0]", "'192.0.2.999'", "not an IP address"),
    (params(ipv4={"method": "auto", "dns_search": ["a b"]}), "ipv4.dns_search[0]", "'a b'", "not a DNS domain"),
    (params(move_ip_from="eth9"), "move_ip_from", "'eth9'", "must be one of the bridge's ports"),
    (params(move_ip_from="eth1", ipv4={"method": "auto"}), "move_ip_from", "'eth1'", "cannot be combined"),
]


@pytest.mark.parametrize("p,option,shown,reason", BAD, ids=[b[1] + ":" + b[2] for b in BAD])
def test_bad_input_names_option_and_value(p, option, shown, reason):
    with pytest.raises(ValidationError) as e:
        want_from_params(p)
    assert e.value.option == option
    assert e.value.msg.startswith("%s=%s: " % (option, shown)), e.value.msg
    assert reason in e.value.msg


def test_addresses_normalized_and_sorted_dns_order_kept():
    p = params(ipv4={"addresses": ["192.0.2.20/24", "192.0.2.3/24"], "gateway": "192.0.2.254",
                     "dns": ["192.0.2.53", "192.0.2.2"], "dns_search": ["b.example", "a.example"]},
               ipv6={"addresses": ["2001:DB8:1::1/64"]})
    topo = want_from_params(p)[0]
    assert topo.ipv4.method == "manual"
    assert topo.ipv4.addresses == ["192.0.2.20/24", "192.0.2.3/24"]
    assert topo.ipv4.dns == ["192.0.2.53", "192.0.2.2"]
    assert topo.ipv4.dns_search == ["b.example", "a.example"]
    assert topo.ipv6.addresses == ["2001:db8:1::1/64"]
    assert topo.ipv6.method == "manual"


def test_defaults_are_the_seeds_bridge_without_ip_and_miimon_100():
    topo = want_from_params(params(ports=[], bond={"name": "bond0", "ports": ["b", "a"]}))[0]
    assert (topo.ipv4.method, topo.ipv6.method) == ("disabled", "disabled")
    assert topo.bond == Bond(name="bond0", mode="active-backup", miimon=100, options={}, ports=["a", "b"])
    assert topo.ethernet_ports == [("a", "bond0"), ("b", "bond0")]


def test_ip_read_back_from_nmcli_properties_equals_the_declared_one():
    p = params(ipv4={"addresses": ["192.0.2.1/24", "192.0.2.5/24"], "gateway": "192.0.2.254",
                     "dns": ["192.0.2.53"], "dns_search": ["example.com"]})
    declared = want_from_params(p)[0]
    props = {"ipv4.method": "manual", "ipv4.addresses": "192.0.2.1/24, 192.0.2.5/24",
             "ipv4.gateway": "192.0.2.254", "ipv4.dns": "192.0.2.53", "ipv4.dns-search": "example.com"}
    assert ip_from_props(props, 4) == declared.ipv4


@pytest.mark.parametrize("text,parsed", [
    ("mode=active-backup,miimon=100", ("active-backup", 100, {})),
    ("mode=1,miimon=200,primary=eth1", ("active-backup", 200, {"primary": "eth1"})),
    ("", ("balance-rr", 0, {})),
    ("mode=802.3ad,miimon=100,xmit_hash_policy=layer3+4", ("802.3ad", 100, {"xmit_hash_policy": "layer3+4"})),
])
def test_bond_options_parsed(text, parsed):
    assert bond_options_from_text(text) == parsed


def test_bond_options_text_round_trip():
    b = Bond(name="bond0", mode="balance-xor", miimon=150, options={"xmit_hash_policy": "layer2", "downdelay": "0"})
    assert bond_options_text(b) == "mode=balance-xor,miimon=150,downdelay=0,xmit_hash_policy=layer2"
    assert bond_options_from_text(bond_options_text(b)) == (b.mode, b.miimon, b.options)
