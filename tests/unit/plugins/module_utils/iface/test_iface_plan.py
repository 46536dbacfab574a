"""iface.validate / iface.plan: parameters -> model, identity (never the
wrong NIC), and the truth table of live / config / pending / restart."""

import dataclasses

import pytest

from ansible_collections.virtnet.networking.plugins.module_utils.iface import model as im
from ansible_collections.virtnet.networking.plugins.module_utils.iface import plan as ipl
from ansible_collections.virtnet.networking.plugins.module_utils.iface import validate as ival
from ansible_collections.virtnet.networking.plugins.module_utils.errors import ValidationError, VirtnetError

MAC = "52:54:00:00:00:01"
NIC = im.Interface(type="network", source="default", mac=MAC, model="virtio", link="up", alias="ua-web",
                   pci_address="0000:00:03.0")


def desired(**p):
    return ival.desired_from_params(dict({"domain": "vm1", "state": "present", "restart": False,
                                          "restart_timeout": 60}, **p))


def host(**kw):
    base = dict(domain="vm1", exists=True, running=True, persistent=True, config=NIC, live=NIC, config_index=0,
                networks={"default": True, "lab": True, "down": False}, links={"br0": True, "lan2": False},
                host_macs={"52:54:00:99:99:99": "domain other"})
    base.update(kw)
    return im.HostState(**base)


def kinds(plan):
    return [a.kind for a in plan.actions]


# --------------------------------------------------------------------------
# validate
# --------------------------------------------------------------------------

def test_params_normalized():
    d = desired(alias="ua-web", mac="52-54-00-AB-CD-EF", type="user", ips=["192.0.2.1/24", "2001:db8::5"],
                port_forwards=[{"proto": "udp", "ranges": [{"start": 5000, "end": 5020, "to": 6000},
                                                           {"start": 5010, "end": 5015, "exclude": True}]}])
    assert d.iface.mac == "52:54:00:ab:cd:ef" and d.iface.backend == "passt"
    assert d.iface.ips == ("192.0.2.1/24", "2001:db8::5")
    assert d.iface.port_forwards[0].ranges == (im.PortRange(5000, 5020, 6000), im.PortRange(5010, 5015, None, True))


@pytest.mark.parametrize("params, msg", [
    ({"alias": "web"}, "alias='web': libvirt user aliases must start with 'ua-'"),
    ({"mac": "52:54:00:00:00"}, "not a MAC address"),
    ({"mac": "03:00:00:00:00:01"}, "multicast"),
    ({}, "give mac or alias"),
    ({"alias": "ua-x", "type": "network", "source": "bad/name"}, "source='bad/name'"),
    ({"alias": "ua-x", "source": "default"}, "set type too"),
    ({"alias": "ua-x", "type": "hostdev", "source": "0000:03:10.2", "vlan": 0}, "1 to 4094"),
    ({"alias": "ua-x", "type": "network", "source": "d", "boot_order": 0}, "boot order starts at 1"),
    ({"alias": "ua-x", "type": "network", "source": "d", "model": "e1000 x"}, "not a NIC model name"),
    ({"alias": "ua-x", "type": "user", "port_forwards": [{"proto": "tcp", "ranges": []}]}, "at least one range"),
    ({"alias": "ua-x", "type": "user", "port_forwards": [{"proto": "tcp", "dev": "a/b", "ranges": [
        {"start": 1}]}]}, "port_forwards[0].dev='a/b'"),
    ({"alias": "ua-x", "type": "user", "ips": ["2001:db8::1", "2001:db8::2"]}, "at most one IPv4 and one IPv6"),
    ({"alias": "ua-x", "restart_timeout": -1}, "restart_timeout=-1"),
])
def test_params_refused(params, msg):
    with pytest.raises(ValidationError) as err:
        desired(**params)
    assert msg in err.value.msg


def test_absent_needs_only_identity():
    d = desired(alias="ua-web", state="absent")
    assert d.state == "absent" and d.iface == im.Interface(alias="ua-web")


# --------------------------------------------------------------------------
# identity
# --------------------------------------------------------------------------

OTHER = dataclasses.replace(NIC, mac="52:54:00:00:00:02", alias="ua-db", pci_address="0000:00:04.0")
PLAIN = dataclasses.replace(NIC, mac="52:54:00:00:00:03", alias=None, pci_address="0000:00:05.0")


def test_find_by_alias_first_then_mac():
    assert ipl.find([OTHER, NIC], im.Interface(alias="ua-web", mac="52:54:00:00:00:02"), where="config") == (1, NIC)
    assert ipl.find([OTHER, NIC], im.Interface(mac="52:54:00:00:00:02"), where="config") == (0, OTHER)
    assert ipl.find([OTHER, NIC], im.Interface(alias="ua-none"), where="config") == (None, None)


def test_find_adopts_a_nic_without_alias_by_mac():
    assert ipl.find([PLAIN], im.Interface(alias="ua-new", mac=PLAIN.mac), where="config") == (0, PLAIN)


def test_find_never_takes_a_nic_with_another_alias():
    with pytest.raises(ValidationError, match="is the MAC of interface ua-db of the config, not of ua-new"):
        ipl.find([OTHER], im.Interface(alias="ua-new", mac=OTHER.mac), where="config")


def test_stable_mac_is_stable_and_skips_used():
    first = ipl.stable_mac("vm1", "ua-web", set())
    assert first == ipl.stable_mac("vm1", "ua-web", set()) and first.startswith("52:54:00:")
    assert ipl.stable_mac("vm2", "ua-web", set()) != first
    assert ipl.stable_mac("vm1", "ua-web", {first}) not in (first,)


# --------------------------------------------------------------------------
# the planner
# --------------------------------------------------------------------------

def test_no_change_no_actions():
    plan, target = ipl.plan(desired(alias="ua-web", type="network", source="default"), host())
    assert plan.actions == [] and not plan.pending
    assert target.config == NIC


def test_new_nic_on_running_domain_is_hotplugged_then_written():
    have = host(config=None, live=None, config_index=None)
    plan, target = ipl.plan(desired(alias="ua-new", type="network", source="lab"), have)
    assert kinds(plan) == ["attach", "define"]
    assert target.live == target.config
    assert target.config.mac == ipl.stable_mac("vm1", "ua-new", set(have.host_macs))
    assert (target.config.model, target.config.link) == ("virtio", "up")


def test_new_nic_on_shut_off_domain_only_in_config():
    plan, target = ipl.plan(desired(alias="ua-new", type="bridge", source="br0"),
                            host(running=False, config=None, live=None, config_index=None))
    assert kinds(plan) == ["define"] and target.live is None


def test_hotplug_without_acpi_fails_unless_restart():
    have = host(config=None, live=None, config_index=None, acpi=False)
    with pytest.raises(VirtnetError, match="has no ACPI"):
        ipl.plan(desired(alias="ua-new", type="network", source="lab"), have)
    plan, _t = ipl.plan(desired(alias="ua-new", type="network", source="lab", restart=True), have)
    assert kinds(plan) == ["define", "restart"]


@pytest.mark.parametrize("params, hot, renew", [
    ({"link": "down"}, ["link"], []),
    ({"type": "network", "source": "lab"}, ["source"], ["renew"]),
    ({"type": "bridge", "source": "br0"}, ["type", "source"], ["renew"]),
])
def test_live_changes_update_live_and_config(params, hot, renew):
    plan, target = ipl.plan(desired(alias="ua-web", **params), host())
    assert kinds(plan) == ["update", "define"] + renew
    assert "change %s of interface" % ", ".join(hot) in plan.actions[0].summary
    assert not plan.pending
    assert target.live == dataclasses.replace(NIC, **{f: getattr(target.config, f) for f in hot})


@pytest.mark.parametrize("params, pending", [
    ({"model": "e1000e"}, ["model"]),
    ({"type": "direct", "source": "lan2"}, ["type", "source", "mode"]),
    ({"boot_order": 2}, ["boot_order"]),
])
def test_cold_changes_go_to_config_and_are_pending(params, pending):
    plan, target = ipl.plan(desired(alias="ua-web", **params), host())
    assert kinds(plan) == ["define"] and plan.pending == pending
    assert target.live == NIC
    plan, target = ipl.plan(desired(alias="ua-web", restart=True, **params), host())
    assert kinds(plan) == ["define", "restart"] and plan.pending == []
    assert target.live == target.config


def test_pending_change_already_in_config_is_not_a_change():
    have = host(config=dataclasses.replace(NIC, model="e1000e"))
    plan, _t = ipl.plan(desired(alias="ua-web", model="e1000e"), have)
    assert plan.actions == [] and plan.pending == ["model"]


def test_mac_change_refused_while_running_unless_restart():
    with pytest.raises(ValidationError, match="can only change while domain vm1 is shut off"):
        ipl.plan(desired(alias="ua-web", mac="52:54:00:00:00:0a"), host())
    plan, _t = ipl.plan(desired(alias="ua-web", mac="52:54:00:00:00:0a", restart=True), host())
    assert kinds(plan) == ["define", "restart"]
    plan, target = ipl.plan(desired(alias="ua-web", mac="52:54:00:00:00:0a"), host(running=False, live=None))
    assert kinds(plan) == ["define"] and target.config.pci_address == NIC.pci_address


def test_macvtap_to_bridge_keeps_mac_pci_boot_order():
    direct = im.Interface(type="direct", source="lan2", mode="bridge", mac=MAC, model="virtio", link="up",
                          alias="ua-web", boot_order=1, pci_address="0000:00:03.0")
    plan, target = ipl.plan(desired(alias="ua-web", type="bridge", source="br0"),
                            host(running=False, live=None, config=direct))
    assert kinds(plan) == ["define"]
    assert (target.config.mac, target.config.pci_address, target.config.boot_order, target.config.mode) == \
        (MAC, "0000:00:03.0", 1, None)


def test_absent():
    plan, target = ipl.plan(desired(alias="ua-web", state="absent"), host())
    assert kinds(plan) == ["detach", "undefine"] and target.config is None
    plan, _t = ipl.plan(desired(alias="ua-web", state="absent"), host(config=None, live=None))
    assert plan.actions == []


def test_transient_domain():
    have = host(persistent=False, config=None, config_index=None)
    plan, _t = ipl.plan(desired(alias="ua-web", link="down"), have)
    assert kinds(plan) == ["update"]
    with pytest.raises(ValidationError, match="transient"):
        ipl.plan(desired(alias="ua-web", model="e1000"), have)


@pytest.mark.parametrize("params, kw, msg", [
    ({"alias": "ua-x", "type": "network", "source": "nope"}, {}, "no libvirt network of that name"),
    ({"alias": "ua-x", "type": "network", "source": "down"}, {}, "the network is not active"),
    ({"alias": "ua-x", "type": "bridge", "source": "lan2"}, {}, "is not a bridge"),
    ({"alias": "ua-x", "type": "direct", "source": "eth9"}, {}, "no such interface on the host"),
    ({"alias": "ua-x", "mac": "52:54:00:99:99:99", "type": "network", "source": "lab"}, {},
     "already used by domain other"),
    ({"alias": "ua-x", "type": "network", "source": "lab"}, {"aliases": {"ua-x"}}, "already used by another device"),
    ({"alias": "ua-web", "boot_order": 1}, {"os_boot": ("hd",), "persistent": False, "config": None,
                                            "config_index": None}, "is transient: there is no config"),
    ({"alias": "ua-web", "boot_order": 1}, {"boot_orders": {1: "disk vda"}}, "already given to disk vda"),
    ({"alias": "ua-x"}, {}, "alias='ua-x': no interface with this alias exists on domain vm1; to create one, "
                            "set type (network, bridge, direct, user, hostdev) and source"),
    ({"alias": "ua-x", "link": "down"}, {}, "alias='ua-x': no interface with this alias exists on domain vm1"),
    ({"alias": "ua-x", "mac": "52:54:00:00:00:77", "model": "e1000"}, {},
     "alias='ua-x': no interface with this alias exists on domain vm1 (nor one with mac=52:54:00:00:00:77)"),
    ({"alias": "ua-x", "type": "hostdev"}, {},
     "source=None: needed to create a new hostdev interface (alias=ua-x: no interface with this alias exists on "
     "domain vm1)"),
])
def test_host_rules(params, kw, msg):
    have = host(**kw)
    if params["alias"] == "ua-x":
        have = dataclasses.replace(have, config=None, live=None, config_index=None)
    with pytest.raises(ValidationError) as err:
        ipl.plan(desired(**params), have)
    assert msg in err.value.msg


def test_mac_that_matches_nothing_says_so():
    """An edit (link, model...) by a MAC the domain does not have: the MAC
    is what is wrong, not a missing type."""
    have = host(config=None, live=None, config_index=None)
    for params in ({"link": "down"}, {"model": "e1000e"}):
        with pytest.raises(ValidationError) as err:
            ipl.plan(desired(mac="52:54:00:00:00:77", **params), have)
        assert err.value.option == "mac"
        assert err.value.msg.startswith("mac='52:54:00:00:00:77': no interface with this MAC exists on domain vm1; "
                                        "to create one, set type")


def test_unknown_domain():
    with pytest.raises(ValidationError, match="domain='vm1': no such domain"):
        ipl.plan(desired(alias="ua-web"), im.HostState(domain="vm1"))


def test_unchanged_host_checks_do_not_block_other_edits():
    """A NIC on a network that since went away can still be unplugged."""
    have = host(networks={})
    plan, _t = ipl.plan(desired(alias="ua-web", link="down"), have)
    assert kinds(plan) == ["update", "define"]


def test_export_state():
    assert ipl.export_state(host(config=None, live=None)) == {}
    out = ipl.export_state(host(running=False, live=None))
    assert out["live"] is None and out["config"]["alias"] == "ua-web" and "pci_address" not in out["config"]


# --------------------------------------------------------------------------
# renewing the guest's lease after a live move (renew, renew_down_time)
# --------------------------------------------------------------------------

@pytest.mark.parametrize("params, kinds_, renewed", [
    ({}, ["update", "define", "renew"], "link_bounce"),
    ({"renew": "link_bounce", "renew_down_time": 2}, ["update", "define", "renew"], "link_bounce"),
    ({"renew": "none"}, ["update", "define"], "none"),
    ({"renew": "restart", "restart": True}, ["define", "restart"], "restart"),
    ({"link": "down"}, ["update", "define"], "none"),          # unplugged: the guest renews when plugged
])
def test_live_move_renews_the_guest(params, kinds_, renewed):
    plan, target = ipl.plan(desired(alias="ua-web", type="network", source="lab", **params), host())
    assert kinds(plan) == kinds_ and target.renewed == renewed and not plan.pending
    if "renew" in kinds_:
        bounce = plan.actions[-1]
        assert (bounce.payload.source, bounce.payload.mac) == ("lab", MAC)
        assert "down %ds, then up" % params.get("renew_down_time", 8) in bounce.summary
        assert "renews its DHCP lease on network lab" in bounce.summary
    assert target.live.source == "lab"


@pytest.mark.parametrize("params, have", [
    ({"link": "down"}, {}),                                     # no move
    ({"type": "network", "source": "default"}, {}),             # already there
    ({"type": "network", "source": "lab"}, {"running": False, "live": None}),   # shut off: config only
    ({"model": "e1000e", "restart": True}, {}),                  # restart anyway, not a live move
])
def test_no_move_no_renew(params, have):
    plan, target = ipl.plan(desired(alias="ua-web", **params), host(**have))
    assert "renew" not in kinds(plan) and target.renewed is None


def test_live_move_with_a_cold_change_and_restart_is_renewed_by_the_restart():
    plan, target = ipl.plan(desired(alias="ua-web", type="network", source="lab", model="e1000e", restart=True),
                            host())
    assert kinds(plan) == ["define", "restart"] and target.renewed == "restart"
    plan, target = ipl.plan(desired(alias="ua-web", type="network", source="lab", model="e1000e", restart=True,
                                    renew="none"), host())
    assert kinds(plan) == ["define", "restart"] and target.renewed == "restart"   # what happens, whatever renew says


def test_live_move_with_a_cold_change_still_bounces():
    plan, target = ipl.plan(desired(alias="ua-web", type="network", source="lab", model="e1000e"), host())
    assert kinds(plan) == ["update", "define", "renew"] and plan.pending == ["model"]


@pytest.mark.parametrize("params, msg", [
    ({"renew": "restart"}, "renew='restart': restarting the domain after a live move needs restart=true"),
    ({"renew": "reboot"}, "renew='reboot': must be one of link_bounce, restart, none"),
    ({"renew_down_time": 0}, "renew_down_time=0: must be 1 to 300 seconds"),
    ({"renew_down_time": 301}, "renew_down_time=301"),
])
def test_renew_params_refused(params, msg):
    with pytest.raises(ValidationError) as err:
        desired(alias="ua-web", type="network", source="lab", **params)
    assert msg in err.value.msg


# --------------------------------------------------------------------------
# a restart never lets libvirt create (and on failure delete) a host link
# --------------------------------------------------------------------------

@pytest.mark.parametrize("targets, own, params, refused", [
    ([("interface %s" % MAC, "lan2", True)], set(), {"model": "e1000e"}, True),         # our NIC names a host NIC
    ([("interface 52:54:00:00:00:02", "br0", False)], set(), {"model": "e1000e"}, True),  # another NIC does
    ([("interface %s" % MAC, "lan2", True)], set(), {"type": "direct", "source": "lan2"}, False),  # type change drops it
    ([("interface %s" % MAC, "lan2", True)], set(), {"type": "bridge", "source": "br0", "mode": None}, False),
    ([("interface %s" % MAC, "vnet3", True)], set(), {"model": "e1000e"}, False),        # libvirt's own names
    ([("interface %s" % MAC, "mytap0", True)], {"mytap0"}, {"model": "e1000e"}, False),   # the domain holds it
    ([("interface %s" % MAC, "mytap0", True)], set(), {"model": "e1000e"}, False),        # not on the host
])
def test_restart_refuses_a_config_target_that_is_a_host_link(targets, own, params, refused):
    params = {k: v for k, v in params.items() if v is not None}
    have = host(config_targets=targets, own_links=own, links={"br0": True, "lan2": False, "mytap1": False})
    if params.get("type") == "bridge":
        # a type change on a running domain is cold only from direct; start from a macvtap NIC
        direct = dataclasses.replace(NIC, type="direct", source="lan2", mode="bridge")
        have = dataclasses.replace(have, config=direct, live=direct)
    if refused:
        with pytest.raises(ValidationError) as err:
            ipl.plan(desired(alias="ua-web", restart=True, **params), have)
        assert err.value.option == "restart" and "names host interface" in err.value.msg
        assert "remove the target from the domain's config first" in err.value.msg
        # without restart nothing starts the domain: written and pending, as before
        plan, _t = ipl.plan(desired(alias="ua-web", **params), have)
        assert "restart" not in kinds(plan)
    else:
        plan, _t = ipl.plan(desired(alias="ua-web", restart=True, **params), have)
        assert kinds(plan)[-1] == "restart"
    # without the host's links (a remote URI) there is nothing to check against
    if not params.get("type"):
        plan, _t = ipl.plan(desired(alias="ua-web", restart=True, **params), dataclasses.replace(have, links=None))
        assert kinds(plan)[-1] == "restart"
