"""network.plan: each change is made with the least disruptive call, and the
prediction check mode returns is the state the host ends up in."""

import pytest
from lxml import etree

from ansible_collections.virtnet.networking.plugins.module_utils.network import model as netm
from ansible_collections.virtnet.networking.plugins.module_utils.network import validate as nv
from ansible_collections.virtnet.networking.plugins.module_utils.network import plan as npl
from ansible_collections.virtnet.networking.plugins.module_utils.network import xml as nx

BASE = {
    "name": "lab", "forward": {"mode": "nat"}, "bridge": {"name": "vblab", "stp": False},
    "ips": [{"address": "198.51.100.1/24", "dhcp": {
        "ranges": [{"start": "198.51.100.100", "end": "198.51.100.150"}],
        "hosts": [{"mac": "52:54:00:00:00:01", "ip": "198.51.100.10", "name": "a"}]}}],
    "dns": {"hosts": [{"ip": "198.51.100.10", "hostnames": ["a"]}], "txt": [{"name": "t", "value": "1"}]},
}


def host_with(params, *, active=True, autostart=False, live=None):
    """A HostState as libvirt would report it after defining ``params``."""
    model = netm.merge(nv.network_from_params(params).network, None)
    xml = nx.build(model)
    # what libvirt adds by itself
    root = etree.fromstring(xml.encode())
    etree.SubElement(root, "uuid").text = "11111111-2222-3333-4444-555555555555"
    etree.SubElement(root, "mac", address="52:54:00:12:34:56")
    xml = etree.tostring(root, encoding="unicode")
    live_model = nx.parse(xml) if live is None else netm.merge(nv.network_from_params(live).network, None)
    return netm.HostState(name=params["name"], exists=True, active=active, autostart=autostart, persistent=True,
                          config=nx.parse(xml), live=live_model if active else None, config_xml=xml)


def plan_for(params, have):
    return npl.plan(nv.network_from_params(params), have)


def kinds(plan):
    return [a.kind for a in plan.actions]


def deep(params, **changes):
    import copy
    p = copy.deepcopy(params)
    for path, value in changes.items():
        node = p
        keys = path.split("__")
        for k in keys[:-1]:
            node = node[int(k)] if k.isdigit() else node[k]
        last = keys[-1]
        if last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value
    return p


def test_same_network_plans_nothing():
    plan, _predicted = plan_for(BASE, host_with(BASE))
    assert plan.actions == [] and plan.pending == []


def test_values_libvirt_fills_are_not_changes():
    # uuid, bridge MAC, and options the task leaves unset (stp, delay, name)
    have = host_with(BASE)
    plan, _predicted = plan_for({"name": "lab"}, have)
    assert plan.actions == []


# (what changes, expected action kinds on an active network, pending restart?)
TABLE = [
    ("dhcp host added", dict(ips__0__dhcp__hosts=BASE["ips"][0]["dhcp"]["hosts"] + [
        {"mac": "52:54:00:00:00:02", "ip": "198.51.100.11"}]), ["update"], False),
    ("dhcp host ip changed", dict(ips__0__dhcp__hosts=[{"mac": "52:54:00:00:00:01", "ip": "198.51.100.12",
                                                        "name": "a"}]), ["update", "update"], False),
    ("dhcp range widened", dict(ips__0__dhcp__ranges=[{"start": "198.51.100.100", "end": "198.51.100.200"}]),
     ["update", "update"], False),
    ("dns host added", dict(dns__hosts=[{"ip": "198.51.100.10", "hostnames": ["a"]},
                                        {"ip": "198.51.100.11", "hostnames": ["b"]}]), ["update"], False),
    ("txt changed", dict(dns__txt=[{"name": "t", "value": "2"}]), ["update", "update"], False),
    ("srv added", dict(dns__srv=[{"service": "ldap", "protocol": "tcp", "port": 389}]), ["update"], False),
    ("mtu", dict(mtu=1400), ["define"], True),
    ("mode", dict(forward={"mode": "route"}), ["define"], True),
    ("stp", dict(bridge={"name": "vblab", "stp": True}), ["define"], True),
    ("domain", dict(domain={"name": "lab.example"}), ["define"], True),
    ("new ip", dict(ips=BASE["ips"] + [{"address": "2001:db8:9::1/64"}]), ["define"], True),
    ("dhcp host and mtu", dict(mtu=1400, ips__0__dhcp__hosts=[]), ["update", "define"], True),
]


@pytest.mark.parametrize("what,changes,expected,pending", TABLE, ids=[t[0] for t in TABLE])
def test_least_disruptive_call(what, changes, expected, pending):
    want = deep(BASE, **changes)
    plan, predicted = plan_for(want, host_with(BASE))
    assert kinds(plan) == expected
    assert bool(plan.pending) is pending
    # with restart allowed the pending change becomes a restart, nothing else
    plan2, _predicted = plan_for(dict(want, restart=True), host_with(BASE))
    assert kinds(plan2) == expected + (["restart"] if pending else [])
    assert plan2.pending == []
    # the prediction is what the host reads back once the plan is applied
    assert npl.export_state(predicted) == npl.export_state(host_with(want))


@pytest.mark.parametrize("what,changes,expected,pending", TABLE, ids=[t[0] for t in TABLE])
def test_inactive_network_is_only_redefined_or_config_updated(what, changes, expected, pending):
    plan, _predicted = plan_for(dict(deep(BASE, **changes), state="present"), host_with(BASE, active=False))
    assert plan.pending == []
    assert "restart" not in kinds(plan)
    assert all(a.disruption == "config" for a in plan.actions)


def test_live_update_payloads():
    want = deep(BASE, ips__0__dhcp__hosts=[{"mac": "52:54:00:00:00:01", "ip": "198.51.100.12", "name": "a"}])
    plan, _predicted = plan_for(want, host_with(BASE))
    delete, add = [a.payload for a in plan.actions]
    assert (delete.command, delete.section, delete.parent) == (npl.CMD_DELETE, npl.SECTION_IP_DHCP_HOST, 0)
    assert (add.command, add.section) == (npl.CMD_ADD_LAST, npl.SECTION_IP_DHCP_HOST)
    assert 'ip="198.51.100.10"' in delete.xml and 'ip="198.51.100.12"' in add.xml
    assert all(a.disruption == "none" for a in plan.actions)


def test_pending_restart_is_reported_again_until_restarted():
    # definition already new, live still old (an earlier run without restart)
    want = dict(BASE, mtu=1400)
    have = host_with(want, live=BASE)
    plan, _predicted = plan_for(want, have)
    assert plan.actions == [] and plan.pending == ["mtu"]
    have.guests = ["vm1", "vm2"]
    plan, _predicted = plan_for(dict(want, restart=True), have)
    assert kinds(plan) == ["restart"]
    assert plan.actions[0].summary.endswith("(reconnects running guests: vm1, vm2)")


def test_create_picks_bridge_name_and_predicts_defaults():
    have = netm.HostState(name="new", others=[("default", netm.Network(name="default", bridge="virbr0"))])
    plan, predicted = plan_for({"name": "new", "autostart": True}, have)
    assert kinds(plan) == ["define", "start", "autostart"]
    exported = npl.export_state(predicted)
    assert exported["bridge"] == {"name": "virbr1", "stp": True, "delay": 0}
    assert exported["forward"] == {"mode": "nat"}
    assert exported["active"] and exported["autostart"]


@pytest.mark.parametrize("state,active,expected", [
    ("running", False, ["start"]), ("running", True, []),
    ("stopped", True, ["stop"]), ("stopped", False, []),
    ("present", True, []), ("present", False, []),
    ("absent", True, ["stop", "undefine"]), ("absent", False, ["undefine"]),
])
def test_states(state, active, expected):
    plan, _predicted = plan_for(dict(BASE, state=state), host_with(BASE, active=active))
    assert kinds(plan) == expected


def test_absent_when_missing_is_a_no_op():
    plan, predicted = plan_for({"name": "gone", "state": "absent"}, netm.HostState(name="gone"))
    assert plan.actions == [] and npl.export_state(predicted) == {}


def test_autostart_only_when_asked():
    plan, _predicted = plan_for(dict(BASE, autostart=True), host_with(BASE))
    assert kinds(plan) == ["autostart"]
    plan, _predicted = plan_for(dict(BASE), host_with(BASE, autostart=True))
    assert kinds(plan) == []


def test_redefine_keeps_pxe_owned_elements():
    have = host_with(BASE)
    root = etree.fromstring(have.config_xml.encode())
    etree.SubElement(root.find("ip"), "tftp", root="/srv/tftp")
    etree.SubElement(root.find("ip/dhcp"), "bootp", file="ipxe.efi")
    have.config_xml = etree.tostring(root, encoding="unicode")
    plan, _predicted = plan_for(dict(BASE, mtu=1500), have)
    xml = plan.of_kind("define")[0].payload
    assert "<tftp root=\"/srv/tftp\"/>" in xml and "<bootp file=\"ipxe.efi\"/>" in xml


# --------------------------------------------------------------------------
# a DHCP range pxe_network claims (pxe.claim)
# --------------------------------------------------------------------------

NO_DHCP = dict(BASE, ips=[{"address": "198.51.100.1/24"}])
CLAIM = ("<metadata><p:dhcp-range xmlns:p='https://example.invalid/virtnet/networking/xmlns/pxe_network/1' "
         "address='198.51.100.1/24' start='198.51.100.200' end='198.51.100.210'/></metadata>")


def pxe_made(params, claim=True):
    """The host after virt_network made ``params`` and pxe_network set its
    range (198.51.100.200-210), tftp root and boot file."""
    have = host_with(params)
    root = etree.fromstring(have.config_xml.encode())
    ip = root.find("ip")
    etree.SubElement(ip, "tftp", root="/srv/tftp")
    dhcp = ip.find("dhcp")
    if dhcp is None:
        dhcp = etree.SubElement(ip, "dhcp")
    for r in dhcp.findall("range"):
        dhcp.remove(r)
    dhcp.insert(0, etree.Element("range", start="198.51.100.200", end="198.51.100.210"))
    etree.SubElement(dhcp, "bootp", file="boot.ipxe")
    if claim:
        root.insert(1, etree.fromstring(CLAIM))
    have.config_xml = etree.tostring(root, encoding="unicode")
    have.config = have.live = nx.parse(have.config_xml)
    return have


@pytest.mark.parametrize("params", [NO_DHCP, deep(BASE, ips__0__dhcp__ranges=[])], ids=["no-dhcp", "hosts-only"])
def test_claimed_range_is_left_to_pxe_network(params):
    plan, predicted = plan_for(params, pxe_made(params))
    assert kinds(plan) == [] and not plan.pending, [a.summary for a in plan.actions]
    assert predicted.config.ips[0].ranges == (("198.51.100.200", "198.51.100.210"),)


def test_unclaimed_range_is_virt_networks_to_remove():
    plan, _predicted = plan_for(NO_DHCP, pxe_made(NO_DHCP, claim=False))
    assert kinds(plan) == ["define"] and plan.pending


def test_same_range_in_both_tasks_is_no_conflict():
    params = deep(BASE, ips__0__dhcp__ranges=[{"start": "198.51.100.200", "end": "198.51.100.210"}])
    plan, _predicted = plan_for(params, pxe_made(params))
    assert kinds(plan) == []


def test_other_range_than_the_claimed_one_is_refused_naming_both_options():
    have = pxe_made(BASE)
    with pytest.raises(nv.ValidationError) as exc:
        plan_for(BASE, have)
    assert exc.value.msg == (
        "ips[0].dhcp.ranges=['198.51.100.100-198.51.100.150']: the DHCP range of 198.51.100.1/24 is pxe_network's "
        "(its dhcp_range=198.51.100.200-198.51.100.210); the two tasks would undo each other on every run: set the "
        "range in one of them only (drop ips[0].dhcp.ranges here, or dhcp_range from the pxe_network task and run "
        "it again)")


def test_update_constants_are_libvirts():
    """The virNetworkUpdate commands and sections are libvirt's enum values
    (a wrong section number made every DHCP range update fail: libvirt read
    the <range> as a <portgroup>)."""
    libvirt = pytest.importorskip("libvirt")
    assert (npl.CMD_DELETE, npl.CMD_ADD_LAST) == (libvirt.VIR_NETWORK_UPDATE_COMMAND_DELETE,
                                                  libvirt.VIR_NETWORK_UPDATE_COMMAND_ADD_LAST)
    assert (npl.SECTION_IP_DHCP_HOST, npl.SECTION_IP_DHCP_RANGE, npl.SECTION_DNS_HOST, npl.SECTION_DNS_TXT,
            npl.SECTION_DNS_SRV) == (libvirt.VIR_NETWORK_SECTION_IP_DHCP_HOST, libvirt.VIR_NETWORK_SECTION_IP_DHCP_RANGE,
                                     libvirt.VIR_NETWORK_SECTION_DNS_HOST, libvirt.VIR_NETWORK_SECTION_DNS_TXT,
                                     libvirt.VIR_NETWORK_SECTION_DNS_SRV)


def test_a_range_is_replaced_add_first_so_dhcp_never_runs_empty():
    """libvirt drops a <dhcp> that holds no range and no host, and with it
    pxe_network's <bootp>: a replaced range is added before the old one goes."""
    have = pxe_made(BASE, claim=False)
    plan, _predicted = plan_for(BASE, have)
    assert [a.summary for a in plan.of_kind("update")] == [
        "add DHCP range 198.51.100.100-198.51.100.150 on 198.51.100.1/24 (live, no restart)",
        "remove DHCP range 198.51.100.200-198.51.100.210 on 198.51.100.1/24 (live, no restart)"]
