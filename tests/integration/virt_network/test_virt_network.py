"""virt_network / virt_network_info against the sandbox hypervisor: real
libvirtd, dnsmasq and TCG guests.

The modules run on the hypervisor itself (nsenter into its namespaces), as
they do under Ansible, so the host checks (routes, bridges) see the
hypervisor's interfaces.  Lab subnets: 203.0.113.128/25 split in /27s
(203.0.113.10 is the sandbox's "world" address) and 2001:db8:3x::/64.
"""

from __future__ import annotations

import importlib.util
import os
import re
import threading
import time

import pytest

from virtnet_testlib import Hv as BaseHv

HERE = os.path.dirname(os.path.abspath(__file__))
WORLD = "203.0.113.10"

NAT = {"address": "203.0.113.129/27", "gw": "203.0.113.129", "range": ("203.0.113.140", "203.0.113.150"), "fixed": "203.0.113.133"}
ROUTED = {"address": "203.0.113.161/27", "gw": "203.0.113.161", "range": ("203.0.113.170", "203.0.113.180"), "fixed": "203.0.113.165"}
ISO = {"address": "203.0.113.193/27", "gw": "203.0.113.193", "range": ("203.0.113.200", "203.0.113.210"), "fixed": "203.0.113.197"}
OPEN = {"address": "203.0.113.225/27", "gw": "203.0.113.225", "range": ("203.0.113.230", "203.0.113.240"), "fixed": "203.0.113.229"}


class Hv(BaseHv):
    """The modules on the sandbox hypervisor, plus removing a network."""

    def remove(self, name):
        self.virsh("net-destroy", name)
        self.virsh("net-undefine", name)


@pytest.fixture(scope="module")
def hv(sandbox):
    h = Hv(sandbox)
    # libvirt refuses IPv6 forwarding while the LAN's router advertisements
    # configure routes the kernel would flush (accept_ra must be 2); the
    # sandbox does not set it, so do it here, inside the sandbox only.
    for ifname in ("lan0", "lan1", "lan2"):
        sandbox.run_hv(["sysctl", "-qw", "net.ipv6.conf.%s.accept_ra=2" % ifname], check=False)
    yield h
    for name in h.virsh("net-list", "--all", "--name").split():
        if name.startswith("vn3"):
            h.remove(name)


def net_args(name, spec, mode="nat", **extra):
    return dict(name=name, forward={"mode": mode}, bridge={"stp": False},
                ips=[{"address": spec["address"],
                      "dhcp": {"ranges": [{"start": spec["range"][0], "end": spec["range"][1]}]}}],
                dnsmasq_options=["no-ping"], **extra)


def ping_ok(guest, addr, tries=1):
    for _attempt in range(tries):
        rc, _out = guest.run("ping -c 1 -W 1 %s" % addr)
        if rc == 0:
            return True
    return False


def out_ping_ok(sb, addr):
    return sb.run_out(["ping", "-c", "1", "-W", "1", addr], check=False).returncode == 0


def in_subnet(ip, spec):
    import netaddr
    return netaddr.IPAddress(ip) in netaddr.IPNetwork(spec["address"])


# --------------------------------------------------------------------------
# every mode: check -> apply -> apply again, then a live change, then absent
# --------------------------------------------------------------------------

# Per mode, some of the other options, so each is written to and read back
# from a real libvirt.
EXTRA = {
    "nat": dict(forward={"mode": "nat", "dev": "lan0", "nat": {"address": {"start": "198.51.100.2"},
                                                               "port": {"start": 1024, "end": 2047}}},
                domain={"name": "nat.example", "local_only": True}),
    "route": dict(forward={"mode": "route", "dev": "lan0"}, mtu=1400,
                  dns={"forwarders": [{"addr": "198.51.100.1"}, {"domain": "corp.example", "addr": "198.51.100.1"}],
                       "hosts": [{"ip": "203.0.113.170", "hostnames": ["a", "b"]}],
                       "txt": [{"name": "info", "value": "lab network"}],
                       "srv": [{"service": "ldap", "protocol": "tcp", "target": "a.example", "port": 389,
                                "priority": 1, "weight": 10}]}),
    "open": dict(dns={"enable": False}, bridge={"name": "vn3open", "stp": True, "delay": 1}),
    "isolated": dict(),
}


READBACK = {
    "nat": {"forward": {"mode": "nat", "dev": "lan0", "nat": {"address": {"start": "198.51.100.2",
                                                                          "end": "198.51.100.2"},
                                                              "port": {"start": 1024, "end": 2047}}},
            "domain": {"name": "nat.example", "local_only": True}},
    "route": {"forward": {"mode": "route", "dev": "lan0"}, "mtu": 1400,
              "dns": {"enable": None,
                      "forwarders": [{"addr": "198.51.100.1"}, {"addr": "198.51.100.1", "domain": "corp.example"}],
                      "hosts": [{"ip": "203.0.113.170", "hostnames": ["a", "b"]}],
                      "txt": [{"name": "info", "value": "lab network"}],
                      "srv": [{"service": "ldap", "protocol": "tcp", "target": "a.example", "port": 389,
                               "priority": 1, "weight": 10}]}},
    "open": {"forward": {"mode": "open"},
             "dns": {"enable": False, "forwarders": [], "hosts": [], "srv": [], "txt": []}},
    "isolated": {"forward": {"mode": "isolated"}},
}


@pytest.mark.parametrize("mode,spec", [("nat", NAT), ("route", ROUTED), ("open", OPEN), ("isolated", ISO)])
def test_every_mode_converges(hv, mode, spec):
    name = "vn3-" + mode
    hv.remove(name)
    args = dict(net_args(name, spec, mode, autostart=True), **EXTRA[mode])
    v6 = "2001:db8:3%d::" % len(mode)
    args["ips"].append({"address": v6 + "1/64", "dhcp": {"ranges": [{"start": v6 + "100", "end": v6 + "1ff"}],
                                                         "hosts": [{"name": "six", "ip": v6 + "10"}]}})
    # Check mode says what it would do and touches nothing.
    before = hv.sb.snapshot()
    predicted = hv.run("virt_network", check=True, diff=True, **args)
    assert predicted["changed"] and predicted["diff"]["before"] == {}
    assert hv.sb.snapshot() == before
    _check, applied, _again = hv.converge("virt_network", **args)
    assert [a["kind"] for a in applied["actions"]] == ["define", "start", "autostart"]
    net = applied["network"]
    assert net["forward"]["mode"] == mode and net["active"] and net["autostart"]
    bridge = net["bridge"]["name"]
    assert re.match(r"virbr\d+$", bridge) or bridge == args["bridge"].get("name")
    # What libvirt stored, read back and normalized, is what was declared.
    assert net["forward"] == READBACK[mode]["forward"]
    assert {k: net[k] for k in ("domain", "mtu")} == {k: READBACK[mode].get(k) for k in ("domain", "mtu")}
    if "dns" in READBACK[mode]:
        assert net["dns"] == READBACK[mode]["dns"]
    assert net["ips"][1]["dhcp"]["hosts"] == [{"name": "six", "ip": v6 + "10"}]
    # libvirt really runs it: the bridge carries the address.
    assert spec["gw"] in hv.sb.run_hv(["ip", "-o", "addr", "show", "dev", bridge]).stdout
    # A static host is a live update, no define, no restart.
    args["ips"][0]["dhcp"]["hosts"] = [{"mac": "52:54:00:03:00:01", "ip": spec["fixed"], "name": "fixed"}]
    _check, applied, _again = hv.converge("virt_network", **args)
    assert [a["kind"] for a in applied["actions"]] == ["update"]
    assert "52:54:00:03:00:01" in hv.virsh("net-dumpxml", name)
    assert "52:54:00:03:00:01" in hv.virsh("net-dumpxml", "--inactive", name)
    _check, applied, _again = hv.converge("virt_network", name=name, state="absent")
    assert [a["kind"] for a in applied["actions"]] == ["stop", "undefine"]
    assert name not in hv.virsh("net-list", "--all", "--name").split()


def test_bridge_mode_on_existing_host_bridge(hv):
    hv.sb.run_hv(["ip", "link", "add", "vn3br0", "type", "bridge"], check=True)
    try:
        applied = hv.converge("virt_network", name="vn3-bridge", forward={"mode": "bridge"},
                              bridge={"name": "vn3br0"})[1]
        assert applied["network"]["bridge"] == {"name": "vn3br0"}
        assert applied["network"]["active"]
        hv.converge("virt_network", name="vn3-bridge", state="absent")
    finally:
        hv.sb.run_hv(["ip", "link", "del", "vn3br0"], check=False)


def test_unmanaged_pxe_elements_survive_a_redefine(hv):
    xml = ("<network><name>vn3-pxe</name><forward mode='nat'/><bridge name='vn3pxe' stp='off'/>"
           "<ip address='203.0.113.225' prefix='27'><tftp root='/var/lib/tftp'/>"
           "<dhcp><range start='203.0.113.230' end='203.0.113.240'/><bootp file='undionly.kpxe'/></dhcp></ip>"
           "<portgroup name='lab'/></network>")
    hv.remove("vn3-pxe")
    path = hv.sb.state_dir / "vn3-pxe.xml"
    path.write_text(xml)
    hv.virsh("net-define", str(path))
    before = hv.virsh("net-dumpxml", "--inactive", "vn3-pxe")
    # Redefine (mtu) and live-updatable change (range) together; inactive network.
    ips = [{"address": "203.0.113.225/27", "dhcp": {"ranges": [{"start": "203.0.113.230", "end": "203.0.113.250"}]}}]
    applied = hv.converge("virt_network", name="vn3-pxe", state="present", mtu=1400, ips=ips)[1]
    assert [a["kind"] for a in applied["actions"]] == ["define"]
    after = hv.virsh("net-dumpxml", "--inactive", "vn3-pxe")
    for kept in ("<tftp root='/var/lib/tftp'/>", "<bootp file='undionly.kpxe'/>", "<portgroup name='lab'",
                 re.search(r"<uuid>.*</uuid>", before).group(0), re.search(r"<mac address=.*/>", before).group(0)):
        assert kept in after
    assert "<mtu size='1400'/>" in after and "end='203.0.113.250'" in after
    hv.converge("virt_network", name="vn3-pxe", state="absent")


# --------------------------------------------------------------------------
# bad input: refused, named, host byte-identical
# --------------------------------------------------------------------------

def _unit_bad_cases():
    spec = importlib.util.spec_from_file_location(
        "unit_network_validate", os.path.join(HERE, "../../unit/plugins/module_utils/network/test_network_validate.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.BAD


HOST_BAD = [
    # overlaps the network created below
    (dict(name="vn3-other", ips=[{"address": "203.0.113.230/28"}]), "ips[0].address", "vn3-keep"),
    # overlaps the hypervisor's LAN route (lan0 198.51.100.0/24)
    (dict(name="vn3-other", ips=[{"address": "198.51.100.129/25"}]), "ips[0].address", "dev lan0"),
    (dict(name="vn3-other", forward={"mode": "bridge"}, bridge={"name": "nobr0"}), "bridge.name", "nobr0"),
    (dict(name="vn3-other", forward={"mode": "bridge"}, bridge={"name": "lan1"}), "bridge.name", "lan1"),
    (dict(name="vn3-other", forward={"mode": "route", "dev": "eth9"}), "forward.dev", "eth9"),
    # changes to an existing network
    (dict(name="vn3-keep", forward={"mode": "bridge"}), "bridge.name", "None"),
    # options that do not fit the mode the network already has
    (dict(name="vn3-keep", forward={"mode": "route", "nat": {"port": {"start": 2000, "end": 3000}}}),
     "forward.nat", "set"),
    (dict(name="vn3-keep", ips=[{"address": "203.0.113.225/27", "dhcp": {
        "ranges": [{"start": "203.0.113.220", "end": "203.0.113.240"}]}}]), "ips[0].dhcp.ranges[0].start",
     "203.0.113.220"),
]


def names(option, msg):
    """The message names the option: our own say ``ips[0].dhcp.ranges[1]=``;
    Ansible's argument spec says ``mode ... found in forward``."""
    if option + "=" in msg:
        return True
    parts = [p for p in re.split(r"[.\[\]]+", option) if p and not p.isdigit()]
    return all(p in msg for p in parts)


def test_bad_inputs_leave_the_host_unchanged(hv):
    keep_bridge = hv.converge("virt_network", **net_args("vn3-keep", OPEN, "nat"))[1]["network"]["bridge"]["name"]
    cases = [(dict({"name": "vn3-bad"}, **p), o, v) for p, o, v in _unit_bad_cases()] + HOST_BAD + [
        # another network's bridge (libvirt would refuse only at define)
        (dict(name="vn3-other", bridge={"name": keep_bridge}), "bridge.name", keep_bridge),
    ]
    assert len(cases) >= 30
    before = hv.sb.snapshot()
    for params, option, value in cases:
        for check in (True, False):
            result = hv.run("virt_network", check=check, **params)
            assert result.get("failed"), (params, result)
            assert names(option, result["msg"]) and value in result["msg"], (option, value, result["msg"])
        assert hv.sb.snapshot() == before, params
    hv.converge("virt_network", name="vn3-keep", state="absent")


# --------------------------------------------------------------------------
# guests: the default NAT network, live update, restart, routed, isolated
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def nat_guest(hv):
    """The default network as the seed describes it (NAT, autostart, DHCP)
    with one guest on it."""
    args = net_args("default", NAT, "nat", autostart=True)
    hv.converge("virt_network", **args)
    guest = hv.sb.start_guest("vn3-g-nat", nics=[{"source": "default"}])
    ip = guest.wait_for_lease(timeout=90)
    yield guest, ip, args
    guest.destroy()
    hv.converge("virt_network", name="default", state="absent")


def test_default_network_nat_guest(hv, nat_guest):
    guest, ip, _args = nat_guest
    assert in_subnet(ip, NAT)
    info = hv.run("virt_network_info", name="default")["networks"]
    assert len(info) == 1 and info[0]["autostart"] and info[0]["active"]
    assert any(lease["ip"] == ip for lease in info[0]["leases"])
    assert [g["guest"] for g in info[0]["guests"]] == ["vn3-g-nat"]
    assert [p["owner"] for p in info[0]["ports"]] == ["vn3-g-nat"]
    assert hv.run("virt_network_info", name="no-such-net")["networks"] == []
    assert "default" in [n["name"] for n in hv.run("virt_network_info")["networks"]]
    # NAT: the guest reaches the outside ...
    assert ping_ok(guest, WORLD, tries=3)
    # ... and the outside cannot reach the guest, even with a route to it.
    hv.sb.add_out_route("203.0.113.128/27")
    try:
        assert not out_ping_ok(hv.sb, ip)
    finally:
        hv.sb.run_out(["ip", "route", "del", "203.0.113.128/27"], check=False)


def test_live_dhcp_host_loses_no_packets_and_applies_on_renewal(hv, nat_guest):
    guest, ip, args = nat_guest
    mac = re.search(r"VNSB LEASE eth0 (\S+)", guest.console_log()).group(1)
    fixed = "203.0.113.133"
    pinger = {}

    def ping():
        pinger["out"] = guest.run("ping -c 40 -i 0.1 -W 1 %s" % NAT["gw"], timeout=30)

    t = threading.Thread(target=ping)
    t.start()
    time.sleep(0.5)
    # (kept in the fixture's args: later tests declare the network as it is now)
    args.update(ips=[dict(args["ips"][0], dhcp=dict(args["ips"][0]["dhcp"], hosts=[
        {"mac": mac, "ip": fixed, "name": "natguest"}]))])
    _check, applied, _again = hv.converge("virt_network", **args)
    t.join()
    assert [a["kind"] for a in applied["actions"]] == ["update"]
    assert applied["actions"][0]["disruption"] == "none"
    rc, out = pinger["out"]
    assert "40 packets transmitted, 40 packets received, 0% packet loss" in out, out
    # The guest with that MAC gets the fixed address on renewal.
    mark = len(guest.console_log())
    guest.run("kill -USR1 $(cat /run/udhcpc.eth0)")
    assert guest.wait_for_lease(timeout=30, after=mark) == fixed


def test_live_dns_records_answer_without_restart(hv, nat_guest):
    guest, _ip, args = nat_guest
    args.update(dns={"hosts": [{"ip": "203.0.113.135", "hostnames": ["files.lab.example"]}]})
    applied = hv.converge("virt_network", **args)[1]
    assert [a["kind"] for a in applied["actions"]] == ["update"]
    rc, out = guest.run("nslookup files.lab.example %s" % NAT["gw"])
    assert rc == 0 and "203.0.113.135" in out, out


def test_restart_reconnects_running_guest(hv, nat_guest):
    guest, _ip, args = nat_guest
    boots = len(guest.events("BOOTED"))
    args = dict(args, mtu=1400)
    _check, applied, _again = hv.converge("virt_network", **args)
    assert [a["kind"] for a in applied["actions"]] == ["define"]
    assert applied["restart_required"] is True and applied["pending"] == ["mtu"]
    assert ping_ok(guest, NAT["gw"], tries=3)  # nothing restarted yet
    info = hv.run("virt_network_info", name="default")["networks"][0]
    assert info["restart_pending"] and info["mtu"] == 1400 and info["live"]["mtu"] is None
    check, applied, again = hv.converge("virt_network", restart=True, **args)
    assert [a["kind"] for a in applied["actions"]] == ["restart"]
    assert applied["reconnected"] == ["vn3-g-nat"]
    assert "reconnects running guests: vn3-g-nat" in check["actions"][0]["summary"]  # check mode says so
    assert applied["restart_required"] is False and again["restart_required"] is False
    assert "1400" in hv.sb.run_hv(["ip", "-o", "link", "show", applied["network"]["bridge"]["name"]]).stdout
    assert ping_ok(guest, NAT["gw"], tries=5)
    assert ping_ok(guest, WORLD, tries=3)
    assert len(guest.events("BOOTED")) == boots  # the guest was not restarted


def test_routed_guest_is_reachable_from_outside(hv):
    hv.converge("virt_network", **net_args("vn3-routed", ROUTED, "route"))
    guest = hv.sb.start_guest("vn3-g-rt", nics=[{"source": "vn3-routed"}])
    try:
        ip = guest.wait_for_lease(timeout=90)
        assert in_subnet(ip, ROUTED)
        assert not out_ping_ok(hv.sb, ip)  # no route outside yet
        hv.sb.add_out_route("203.0.113.160/27")
        assert out_ping_ok(hv.sb, ip)
        assert ping_ok(guest, WORLD, tries=3)
    finally:
        hv.sb.run_out(["ip", "route", "del", "203.0.113.160/27"], check=False)
        guest.destroy()
        hv.converge("virt_network", name="vn3-routed", state="absent")


def test_isolated_guests_reach_host_and_each_other_only(hv):
    hv.converge("virt_network", **net_args("vn3-iso", ISO, "isolated"))
    a = hv.sb.start_guest("vn3-g-iso1", nics=[{"source": "vn3-iso"}])
    b = hv.sb.start_guest("vn3-g-iso2", nics=[{"source": "vn3-iso"}])
    try:
        ip_a = a.wait_for_lease(timeout=90)
        ip_b = b.wait_for_lease(timeout=90)
        assert ping_ok(a, ISO["gw"], tries=3)
        assert ping_ok(a, ip_b, tries=3)
        assert not ping_ok(b, WORLD)
        assert not ping_ok(b, "198.51.100.1")  # the LAN either
        hv.sb.add_out_route("203.0.113.192/27")
        assert not out_ping_ok(hv.sb, ip_a)
    finally:
        hv.sb.run_out(["ip", "route", "del", "203.0.113.192/27"], check=False)
        a.destroy()
        b.destroy()
        hv.converge("virt_network", name="vn3-iso", state="absent")


# --------------------------------------------------------------------------
# nothing half-done: a failure after the define is rolled back
# --------------------------------------------------------------------------

@pytest.fixture
def ipv6_forwarding_refused(hv):
    """libvirt refuses to start an IPv6 network while an uplink takes router
    advertisements without accept_ra=2: a real start failure to provoke."""
    hv.sb.run_hv(["sysctl", "-qw", "net.ipv6.conf.lan2.accept_ra=1"], check=True)
    # accept_ra=1 takes adverts only on an interface that does not forward, and
    # an earlier IPv6 network turned forwarding on everywhere (libvirt 9.0
    # then never saw the advert, the fixture failed): turn it off on lan2 only.
    fwd = hv.sb.run_hv(["sysctl", "-n", "net.ipv6.conf.lan2.forwarding"], check=True).stdout.strip()
    hv.sb.run_hv(["sysctl", "-qw", "net.ipv6.conf.lan2.forwarding=0"], check=True)
    # libvirt refuses only once lan2 holds a route from a router advert: ask
    # for one (a link bounce sends a router solicitation) instead of waiting
    # for the LAN's next periodic advert, which made these tests skip.
    hv.sb.run_hv(["ip", "link", "set", "lan2", "down"], check=True)
    hv.sb.run_hv(["ip", "link", "set", "lan2", "up"], check=True)
    deadline = time.monotonic() + 30
    while not hv.sb.run_hv(["ip", "-6", "route", "show", "dev", "lan2", "proto", "ra"]).stdout.strip():
        assert time.monotonic() < deadline, "no router advert reached lan2 in 30 s"
        time.sleep(0.3)
    yield
    hv.sb.run_hv(["sysctl", "-qw", "net.ipv6.conf.lan2.accept_ra=2"], check=True)
    hv.sb.run_hv(["sysctl", "-qw", "net.ipv6.conf.lan2.forwarding=" + fwd], check=True)


def test_failed_start_of_a_new_network_leaves_nothing(hv, ipv6_forwarding_refused):
    # libvirt sets up its own (empty) LIBVIRT_* firewall chains the first time
    # any network starts and keeps them: have that happen before the baseline,
    # as on any host that ever ran a network, so only what the run left counts.
    hv.converge("virt_network", **net_args("vn3-warm", OPEN, "isolated"))
    hv.remove("vn3-warm")
    before = hv.sb.snapshot()
    args = net_args("vn3-v6", OPEN, "nat")
    args["ips"].append({"address": "2001:db8:3f::1/64"})
    result = hv.run("virt_network", **args)
    if not result.get("failed"):
        hv.remove("vn3-v6")  # else its subnet blocks the next test
    assert result.get("failed"), "the fixture did not provoke the start failure: %s" % result
    assert "starting network 'vn3-v6'" in result["msg"] and result["libvirt_code"]
    assert result["rolled_back"] == "the new network was undefined again"
    assert hv.sb.snapshot() == before


def test_failed_restart_restores_the_previous_definition(hv, ipv6_forwarding_refused):
    args = net_args("vn3-rb", OPEN, "nat")
    hv.converge("virt_network", **args)
    inactive = hv.virsh("net-dumpxml", "--inactive", "vn3-rb")
    bad = dict(args, restart=True, ips=args["ips"] + [{"address": "2001:db8:3e::1/64"}])
    result = hv.run("virt_network", **bad)
    try:
        assert result.get("failed"), "the fixture did not provoke the start failure: %s" % result
        assert result["rolled_back"] == "the previous definition was restored"
        assert hv.virsh("net-dumpxml", "--inactive", "vn3-rb") == inactive
        assert "vn3-rb" in hv.virsh("net-list", "--name").split()  # running again, old definition
    finally:
        hv.remove("vn3-rb")


def test_mode_change_with_restart_moves_running_guest_to_host_bridge(hv):
    """nat -> bridge on a host bridge with the LAN behind it: after the
    restart the running guest is a port of the host bridge and gets a LAN
    lease from the outside's DHCP server."""
    for argv in (["ip", "link", "add", "vn3br1", "type", "bridge", "stp_state", "0", "forward_delay", "0"],
                 ["ip", "link", "set", "lan1", "master", "vn3br1"],
                 ["ip", "link", "set", "lan1", "up"], ["ip", "link", "set", "vn3br1", "up"]):
        hv.sb.run_hv(argv, check=True)
    hv.remove("vn3-mv")
    guest = None
    try:
        hv.converge("virt_network", **net_args("vn3-mv", ISO, "nat"))
        guest = hv.sb.start_guest("vn3-g-mv", nics=[{"source": "vn3-mv"}])
        assert in_subnet(guest.wait_for_lease(timeout=90), ISO)
        boots = len(guest.events("BOOTED"))
        _check, applied, _again = hv.converge("virt_network", name="vn3-mv", forward={"mode": "bridge"},
                                              bridge={"name": "vn3br1"}, restart=True)
        assert [a["kind"] for a in applied["actions"]] == ["define", "restart"]
        assert applied["reconnected"] == ["vn3-g-mv"]
        assert applied["network"]["ips"] == []
        tap = re.search(r"<target dev='([^']+)'", hv.virsh("dumpxml", "vn3-g-mv")).group(1)
        assert "master vn3br1" in hv.sb.run_hv(["ip", "-o", "link", "show", tap]).stdout
        mark = len(guest.console_log())
        guest.run("kill -USR1 $(cat /run/udhcpc.eth0)")
        lease = guest.wait_for_lease(timeout=30, after=mark)
        assert lease.startswith("198.51.100.")
        assert len(guest.events("BOOTED")) == boots
    finally:
        if guest is not None:
            guest.destroy()
        hv.remove("vn3-mv")
        hv.sb.run_hv(["ip", "link", "set", "lan1", "nomaster"], check=False)
        hv.sb.run_hv(["ip", "link", "del", "vn3br1"], check=False)


def test_guest_moved_live_onto_a_network_is_seen_and_reconnected(hv):
    """virt_iface moves a running guest's NIC onto another network live; libvirt
    then shows that NIC with its actual type ('bridge') in the running XML.
    virt_network_info must still list the guest on the network (the seed's
    domiflist check), and a restart must reconnect it, not strand it."""
    a = {"address": "203.0.113.201/29", "range": ("203.0.113.202", "203.0.113.204")}
    b = {"address": "203.0.113.209/29", "range": ("203.0.113.210", "203.0.113.212")}
    hv.converge("virt_network", **net_args("vn3-from", a))
    hv.converge("virt_network", **net_args("vn3-to", b))
    mac = "52:54:00:3e:0f:01"
    guest = hv.sb.start_guest("vn3-g-moved", nics=[{"source": "vn3-from", "mac": mac}])
    try:
        guest.wait_for_lease(timeout=90)
        moved = hv.run("virt_iface", domain="vn3-g-moved", mac=mac, type="network", source="vn3-to")
        assert moved["changed"] and not moved.get("failed") and not moved["restart_required"], moved
        mark = len(guest.console_log())
        guest.run("kill -USR1 $(cat /run/udhcpc.eth0)")
        assert guest.wait_for_lease(timeout=60, after=mark).startswith("203.0.113.21")
        guests = hv.run("virt_network_info", name="vn3-to")["networks"][0]["guests"]
        assert [(g["guest"], g["mac"]) for g in guests] == [("vn3-g-moved", mac)]
        assert hv.run("virt_network_info", name="vn3-from")["networks"][0]["guests"] == []
        applied = hv.run("virt_network", restart=True, mtu=1400, **net_args("vn3-to", b))
        assert applied["reconnected"] == ["vn3-g-moved"], applied
        assert ping_ok(guest, "203.0.113.209", tries=5)
    finally:
        guest.destroy()
        hv.remove("vn3-from")
        hv.remove("vn3-to")
