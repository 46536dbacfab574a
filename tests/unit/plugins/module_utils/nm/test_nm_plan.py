"""nmcli parsing and the planner: exact argv, idempotence on read-back state."""

import dataclasses

import pytest

from ansible_collections.virtnet.networking.plugins.module_utils.nm import plan as nm_plan
from ansible_collections.virtnet.networking.plugins.module_utils.errors import ValidationError
from ansible_collections.virtnet.networking.plugins.module_utils.nm.validate import want_from_params
from ansible_collections.virtnet.networking.plugins.module_utils.nm.model import split_list
from ansible_collections.virtnet.networking.plugins.module_utils.nm.nmcli import (
    Names, Profile, parse_properties, parse_version, split_terse_row)

OLD = Names.for_version((1, 42, 4))
NEW = Names.for_version((1, 46, 0))
DEVICES = {"eth1": {"type": "ethernet", "state": "disconnected", "connection": ""},
           "eth2": {"type": "ethernet", "state": "disconnected", "connection": ""},
           "eth0": {"type": "ethernet", "state": "unmanaged", "connection": ""},
           "lo": {"type": "loopback", "state": "connected (externally)", "connection": "lo"}}


# -- nmcli terse output ----------------------------------------------------

@pytest.mark.parametrize("line,fields", [
    ("br0:7398ccfd:bridge:br0:activated", ["br0", "7398ccfd", "bridge", "br0", "activated"]),
    (r"we\:ird\\x:53ef:bridge::", ["we:ird\\x", "53ef", "bridge", "", ""]),
    ("a::", ["a", "", ""]),
])
def test_terse_rows_are_split_with_escapes_undone(line, fields):
    assert split_terse_row(line) == fields


def test_property_values_are_verbatim_after_the_first_colon():
    props = parse_properties("connection.id:we:ird\\x\nipv4.dns-search:a.example,b:x.example\nipv6.gateway:2001:db8::1\n")
    assert props == {"connection.id": "we:ird\\x", "ipv4.dns-search": "a.example,b:x.example",
                     "ipv6.gateway": "2001:db8::1"}


def test_lists_and_versions():
    assert split_list("192.0.2.1/24, 192.0.2.5/24") == ["192.0.2.1/24", "192.0.2.5/24"]
    assert split_list("") == []
    assert parse_version("nmcli tool, version 1.42.4") == (1, 42, 4)
    assert OLD.controller == "connection.master" and OLD.autoconnect_ports == "connection.autoconnect-slaves"
    assert NEW.controller == "connection.controller" and NEW.port_type == "connection.port-type"


# -- planner ---------------------------------------------------------------

def want(**kw):
    p = {"name": "br0", "stp": False, "autoconnect_ports": True, "ports": [], "bond": None,
         "ipv4": None, "ipv6": None, "move_ip_from": None}
    p.update(kw)
    return want_from_params(p)[0]


def prof(uuid, name, ctype, ifname, state="activated", **props):
    base = {"connection.id": name, "connection.uuid": uuid, "connection.interface-name": ifname,
            "connection.autoconnect": "yes", "connection.master": "", "connection.slave-type": ""}
    base.update({k.replace("__", "."): v for k, v in props.items()})
    return Profile(uuid=uuid, name=name, type=ctype, ifname=ifname, props=base,
                   device=ifname if state else "", state=state)


def bridge_prof(**props):
    base = dict(bridge__stp="no", connection__autoconnect_slaves="1", ipv4__method="disabled",
                ipv6__method="disabled")
    base.update(props)
    props = {k.replace("_", "-").replace("--", "__"): v for k, v in base.items()}
    return prof("u-br", "br0", "bridge", "br0", **props)


def have_of(profiles, w, devices=None):
    return nm_plan.read_have(profiles, devices or DEVICES, OLD, w.name, [i for i, _m in w.ethernet_ports])


def argvs(plan):
    return [a.payload for a in plan.actions]


def test_new_bridge_with_two_ports_exact_argv():
    w = want(ports=["eth2", "eth1"], ipv4={"addresses": ["192.0.2.1/24"], "gateway": "192.0.2.254",
                                           "dns": ["192.0.2.253"], "dns_search": ["example.com"]})
    plan = nm_plan.plan_present(w, have_of([], w), OLD)
    assert argvs(plan) == [
        ["connection", "add", "type", "bridge", "con-name", "br0", "ifname", "br0", "bridge.stp", "no",
         "connection.autoconnect-slaves", "1", "ipv4.method", "manual", "ipv4.addresses", "192.0.2.1/24",
         "ipv4.gateway", "192.0.2.254", "ipv4.dns", "192.0.2.253", "ipv4.dns-search", "example.com",
         "ipv6.method", "disabled", "ipv6.addresses", "", "ipv6.gateway", "", "ipv6.dns", "",
         "ipv6.dns-search", ""],
        ["connection", "add", "type", "ethernet", "con-name", "br0-port-eth1", "ifname", "eth1",
         "connection.master", "br0", "connection.slave-type", "bridge"],
        ["connection", "add", "type", "ethernet", "con-name", "br0-port-eth2", "ifname", "eth2",
         "connection.master", "br0", "connection.slave-type", "bridge"],
        {"bridge": ["id", "br0"], "bond": None, "new": [["id", "br0"]], "ports": ["br0-port-eth1", "br0-port-eth2"]},
    ]
    assert [a.kind for a in plan.actions] == ["nmcli", "nmcli", "nmcli", "activate"]


def test_seed_15_10_bond_under_bridge_with_new_nm_names():
    w = want(bond={"name": "bond0", "mode": "1", "miimon": 100, "options": {}, "ports": ["eth1", "eth2"]})
    plan = nm_plan.plan_present(w, nm_plan.read_have([], DEVICES, NEW, "br0", ["eth1", "eth2"]), NEW)
    assert argvs(plan)[1] == ["connection", "add", "type", "bond", "con-name", "bond0", "ifname", "bond0",
                              "bond.options", "mode=active-backup,miimon=100", "connection.controller", "br0",
                              "connection.port-type", "bridge", "connection.autoconnect-ports", "1"]
    assert argvs(plan)[2] == ["connection", "add", "type", "ethernet", "con-name", "bond0-port-eth1", "ifname",
                              "eth1", "connection.controller", "bond0", "connection.port-type", "bond"]
    # both masters are new: NetworkManager may already be bringing them up
    assert argvs(plan)[-1]["new"] == [["id", "br0"], ["id", "bond0"]]


def converged_profiles():
    return [bridge_prof(),
            prof("u-p1", "br0-port-eth1", "ethernet", "eth1", connection__master="br0",
                 connection__slave_type="bridge"),
            prof("u-p2", "br0-port-eth2", "ethernet", "eth2", connection__master="u-br",
                 connection__slave_type="bridge")]


def fix(profiles):
    for p in profiles:
        p.props = {k.replace("slave_type", "slave-type"): v for k, v in p.props.items()}
    return profiles


def test_converged_state_plans_nothing_even_when_master_is_named_by_uuid():
    w = want(ports=["eth1", "eth2"])
    have = have_of(fix(converged_profiles()), w)
    assert have.topology == dataclasses.replace(w, zone="")   # no connection.zone: the default zone
    assert nm_plan.plan_present(w, have, OLD).actions == []
    assert nm_plan.export_have(have, ["eth1", "eth2"]) == nm_plan.predict_present(w, have)


def test_changed_ip_is_one_modify_by_uuid_then_reactivation():
    w = want(ports=["eth1", "eth2"], ipv4={"method": "auto"})
    plan = nm_plan.plan_present(w, have_of(fix(converged_profiles()), w), OLD)
    assert argvs(plan)[0][:4] == ["connection", "modify", "uuid", "u-br"]
    assert argvs(plan)[0][8:10] == ["ipv4.method", "auto"]
    assert plan.actions[0].summary == "modify bridge br0: ipv4"
    assert plan.actions[-1].kind == "activate"
    assert argvs(plan)[-1]["bridge"] == ["uuid", "u-br"] and argvs(plan)[-1]["new"] == []
    assert len(plan.actions) == 2


def test_removed_port_is_deleted_and_inactive_port_reactivated():
    profiles = fix(converged_profiles())
    profiles[1].state = ""
    w = want(ports=["eth1"])
    plan = nm_plan.plan_present(w, have_of(profiles, w), OLD)
    assert argvs(plan)[0] == ["connection", "delete", "uuid", "u-p2"]
    assert plan.actions[-1].kind == "activate"


def test_standalone_profile_of_a_port_is_parked_not_deleted():
    profiles = [prof("u-s", "Wired eth1", "ethernet", "eth1", ipv4__method="manual",
                     ipv4__addresses="192.0.2.7/24")]
    w = want(ports=["eth1"])
    have = have_of(profiles, w)
    plan = nm_plan.plan_present(w, have, OLD)
    assert ["connection", "modify", "uuid", "u-s", "connection.autoconnect", "no"] in argvs(plan)
    assert not any(a[:2] == ["connection", "delete"] for a in argvs(plan) if isinstance(a, list))
    assert nm_plan.predict_present(w, have)["standalone_profiles"] == {
        "Wired eth1": {"ifname": "eth1", "autoconnect": False, "active": False}}


def test_bridge_port_becoming_bond_port_is_recreated():
    w = want(bond={"name": "bond0", "mode": "1", "miimon": 100, "options": {}, "ports": ["eth1", "eth2"]})
    plan = nm_plan.plan_present(w, have_of(fix(converged_profiles()), w), OLD)
    assert ["connection", "delete", "uuid", "u-p1"] in argvs(plan)
    assert ["connection", "add", "type", "ethernet", "con-name", "bond0-port-eth1", "ifname", "eth1",
            "connection.master", "bond0", "connection.slave-type", "bond"] in argvs(plan)
    assert argvs(plan)[-1]["ports"] == ["bond0-port-eth1", "bond0-port-eth2"]


def test_absent_deletes_ports_then_bridge_and_releases_ports():
    profiles = fix(converged_profiles()) + [prof("u-s", "eth1", "ethernet", "eth1", state="",
                                                 connection__autoconnect="no")]
    have = nm_plan.read_have(profiles, DEVICES, OLD, "br0", ["eth1", "eth2"])
    plan = nm_plan.plan_absent(have, True, OLD)
    assert argvs(plan) == [
        ["connection", "delete", "uuid", "u-p1"], ["connection", "delete", "uuid", "u-p2"],
        ["connection", "delete", "uuid", "u-br"],
        ["connection", "modify", "uuid", "u-s", "connection.autoconnect", "yes"],
        ["connection", "up", "uuid", "u-s"],
        ["connection", "add", "type", "ethernet", "con-name", "eth2", "ifname", "eth2", "ipv4.method", "auto",
         "ipv6.method", "auto"]]
    assert nm_plan.plan_absent(nm_plan.read_have([], DEVICES, OLD, "br0", []), True, OLD).actions == []


@pytest.mark.parametrize("ports,option,value,reason", [
    (["eth9"], "ports[0]", "'eth9'", "no such network interface on the host (ethernet interfaces: eth0, eth1, eth2)"),
    (["eth0"], "ports[0]", "'eth0'", "not managed by NetworkManager"),
    (["lo"], "ports[0]", "'lo'", "is a loopback device"),
])
def test_unknown_unmanaged_or_wrong_type_port_refused(ports, option, value, reason):
    w = want(ports=ports)
    with pytest.raises(ValidationError) as e:
        nm_plan.check_ports(w, have_of([], w), OLD)
    assert e.value.msg.startswith("%s=%s: " % (option, value)) and reason in e.value.msg


def test_port_already_in_another_bond_refused():
    other = [prof("u-b9", "bond9", "bond", "bond9", state=""),
             prof("u-x", "bond9-port-eth2", "ethernet", "eth2", state="", connection__master="bond9")]
    w = want(bond={"name": "bond0", "mode": "1", "miimon": 100, "options": {}, "ports": ["eth1", "eth2"]})
    with pytest.raises(ValidationError) as e:
        nm_plan.check_ports(w, have_of(other, w), OLD)
    assert e.value.msg == ("bond.ports[1]='eth2': is already a port of bond9 (profile 'bond9-port-eth2'); "
                           "remove it there first")


def test_bridge_name_taken_by_another_kind_of_profile_refused():
    w = want(name="eth1", ports=["eth2"])
    with pytest.raises(ValidationError) as e:
        nm_plan.check_ports(w, have_of([prof("u", "eth1", "ethernet", "eth1")], w), OLD)
    assert e.value.msg.startswith("name='eth1': a ethernet profile")


def test_port_carrying_the_hosts_address_is_refused_unless_it_moves():
    mgmt = [prof("u-m", "mgmt", "ethernet", "", ipv4__method="manual", ipv4__addresses="192.0.2.2/25")]
    mgmt[0].device = "eth2"
    w = want(bond={"name": "bond0", "mode": "1", "miimon": 100, "options": {}, "ports": ["eth1", "eth2"]})
    with pytest.raises(ValidationError) as e:
        nm_plan.check_ports(w, have_of(mgmt, w), OLD)
    assert e.value.msg.startswith("bond.ports[1]='eth2': carries the host's IP configuration (active profile "
                                  "'mgmt': ipv4 192.0.2.2/25)")
    nm_plan.check_ports(w, have_of(mgmt, w), OLD, move_ip_from="eth2")   # moving it is the way
    mgmt[0].state = ""
    nm_plan.check_ports(w, have_of(mgmt, w), OLD)                        # an inactive profile carries nothing


def test_zone_is_managed_when_given_and_kept_when_left_out():
    w, _warn = want_from_params(dict(name="br0", ports=["eth1"], zone="internal", ipv4=None, ipv6=None))
    assert w.zone == "internal"
    have = nm_plan.read_have(
        [prof("u-br", "br0", "bridge", "br0", **{"bridge.stp": "no", "connection.zone": "public"}),
         prof("u-p1", "br0-eth1", "ethernet", "eth1", **{"connection.master": "br0",
                                                         "connection.slave-type": "bridge"})],
        {}, OLD, "br0", ["eth1"])
    assert have.topology.zone == "public"
    plan = nm_plan.plan_present(w, have, OLD)
    assert "zone" in plan.actions[0].summary
    argv = plan.actions[0].payload
    assert argv[argv.index("connection.zone") + 1] == "internal"
    # left out: the bridge keeps its zone; nothing to modify for it
    w2, _warn = want_from_params(dict(name="br0", ports=["eth1"], ipv4=None, ipv6=None))
    w2 = dataclasses.replace(w2, ipv4=have.topology.ipv4, ipv6=have.topology.ipv6, stp=False,
                             autoconnect_ports=have.topology.autoconnect_ports)
    assert all("zone" not in a.summary for a in nm_plan.plan_present(w2, have, OLD).actions)
    assert nm_plan.predict_present(w2, have)["zone"] == "public"


@pytest.mark.parametrize("zone", ["a b", "x" * 18, "in/ternal"])
def test_a_zone_that_firewalld_cannot_have_is_refused(zone):
    with pytest.raises(ValidationError) as exc:
        want_from_params(dict(name="br0", ports=["eth1"], zone=zone))
    assert exc.value.option == "zone"
