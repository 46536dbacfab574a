"""virt_iface moving a running NIC to another network, against the sandbox
hypervisor (issue 12, item 3): libvirt moves the tap live but the guest
notices nothing and keeps the old network's lease, so virt_iface bounces the
link (renew=link_bounce, the default) and the guest's DHCP client asks the
new network for an address.  renew=none is the control: the same move
without the bounce leaves the guest without an address from the new network,
which proves the bounce is what gets it one.

One TCG guest (vifr-g, booted once) and two NAT networks:
vifr-a 192.0.2.161/27 (DHCP .170-.180), vifr-b 192.0.2.193/27 (DHCP
.200-.210).  The guest runs udhcpc, renews it when its carrier comes back
and logs every lease on its serial console.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

import pytest

from virtnet_testlib import Hv

NET_A = ("vifr-a", "192.0.2.161", "192.0.2.170", "192.0.2.180")
NET_B = ("vifr-b", "192.0.2.193", "192.0.2.200", "192.0.2.210")
MAC = "52:54:00:f1:0e:01"
GUEST = "vifr-g"
# How long the control waits for an address the guest must not get: far
# longer than the bounce path takes to get one (lease in a few seconds).
QUIET = 20


def in_range(ip, first, last):
    def n(a):
        return tuple(int(x) for x in a.split("."))
    return n(first) <= n(ip) <= n(last)


def net_xml(spec):
    name, gw, first, last = spec
    return ("<network xmlns:dnsmasq='http://libvirt.org/schemas/network/dnsmasq/1.0'><name>%s</name>"
            "<forward mode='nat'/><bridge name='vb%s' stp='off'/><ip address='%s' prefix='27'><dhcp>"
            "<range start='%s' end='%s'/></dhcp></ip><dnsmasq:options><dnsmasq:option value='no-ping'/>"
            "</dnsmasq:options></network>" % (name, name.replace("-", ""), gw, first, last))


def _clean(sb):
    sb.virsh("destroy", GUEST, check=False)
    sb.virsh("undefine", GUEST, check=False)
    for spec in (NET_A, NET_B):
        sb.virsh("net-destroy", spec[0], check=False)
        sb.virsh("net-undefine", spec[0], check=False)


@pytest.fixture(scope="module")
def env(sandbox):
    hv = Hv(sandbox)
    _clean(sandbox)
    for spec in (NET_A, NET_B):
        path = sandbox.state_dir / ("%s.xml" % spec[0])
        path.write_text(net_xml(spec))
        sandbox.virsh("net-define", str(path))
        sandbox.virsh("net-start", spec[0])
    hv.guest = sandbox.define_guest(GUEST, [{"source": NET_A[0], "mac": MAC}])
    sandbox.virsh("start", GUEST)
    hv.ip_a = hv.guest.wait_for_lease("eth0", timeout=120)
    assert in_range(hv.ip_a, NET_A[2], NET_A[3])
    yield hv
    _clean(sandbox)


def leases(env, net):
    """MAC -> IP of the leases the network's dnsmasq gave (virsh net-dhcp-leases)."""
    out = {}
    for line in env.virsh("net-dhcp-leases", net).splitlines():
        # expiry date, expiry time, MAC, protocol, IP/prefix, hostname, client id
        cols = line.split()
        macs = [c for c in cols if c.count(":") == 5 and len(c) == 17]
        ips = [c for c in cols if "/" in c]
        if macs and ips:
            out[macs[0].lower()] = ips[0].split("/")[0]
    return out


def info_addresses(env):
    res = env.run("virt_iface_info", domain=GUEST)
    assert not res.get("failed"), res
    nic = next(i for i in res["domains"][0]["interfaces"] if i["mac"] == MAC)
    return nic["source"], [a["address"] for a in nic["addresses"] if a["family"] == "ipv4"]


def live_source(env):
    root = ET.fromstring(env.virsh("dumpxml", GUEST))
    return root.find("devices/interface/source").get("network")


def move(env, net, **kw):
    """check -> apply -> again of the live move; returns (check, applied)."""
    check, applied, again = env.converge("virt_iface", domain=GUEST, mac=MAC, type="network", source=net, **kw)
    assert again["changed"] is False and "renewed" not in again
    assert applied["restart_required"] is False and "restarted" not in applied
    assert live_source(env) == net
    return check, applied


def test_without_renew_the_guest_keeps_the_old_address(env):
    """The control (and the defect before the fix): moved live, not
    renewed, the guest has no address from the new network."""
    mark = len(env.guest.console_log())
    check, applied = move(env, NET_B[0], renew="none")
    assert [a["kind"] for a in applied["actions"]] == ["update", "define"]
    assert check["renewed"] == applied["renewed"] == "none"
    time.sleep(QUIET)
    assert [e for e in env.guest.events("LEASE") if in_range(e[3], NET_B[2], NET_B[3])] == []
    assert "VNSB LEASE" not in env.guest.console_log()[mark:]
    assert MAC not in leases(env, NET_B[0])
    assert env.guest.addresses("eth0") == ["%s/27" % env.ip_a]       # still the old network's
    source, addrs = info_addresses(env)
    assert source == NET_B[0] and not any(in_range(a, NET_B[2], NET_B[3]) for a in addrs)
    # Back to A the same way: the guest's A address is right again.
    move(env, NET_A[0], renew="none")


def test_live_move_bounces_the_link_and_the_guest_gets_the_new_network(env):
    g = env.guest
    mark = len(g.console_log())
    check, applied = move(env, NET_B[0])
    # Check mode predicted the bounce; the real run did it, after the define.
    assert [a["kind"] for a in applied["actions"]] == ["update", "define", "renew"]
    assert check["renewed"] == applied["renewed"] == "link_bounce"
    assert "down 8s, then up" in applied["actions"][2]["summary"]
    # The guest saw its carrier go and come back, and got a lease from B
    # without a restart (the same boot: no second BOOTED line).
    g.wait_for(r"^VNSB LINK eth0 down", timeout=10, after=mark)
    g.wait_for(r"^VNSB LINK eth0 up", timeout=10, after=mark)
    ip = g.wait_for_lease("eth0", timeout=90, after=mark)
    assert in_range(ip, NET_B[2], NET_B[3]), ip
    assert len(g.events("BOOTED")) == 1
    deadline = time.monotonic() + 30
    while leases(env, NET_B[0]).get(MAC) != ip and time.monotonic() < deadline:
        time.sleep(1)
    assert leases(env, NET_B[0]).get(MAC) == ip            # B's dnsmasq gave it
    source, addrs = info_addresses(env)
    assert source == NET_B[0] and ip in addrs
    assert env.sb.run_hv(["ping", "-c", "2", "-W", "2", ip]).returncode == 0
    assert g.addresses("eth0") == ["%s/27" % ip]


def test_renew_restart_needs_restart_true_and_changes_nothing(env):
    before = env.sb.snapshot()
    for check in (True, False):
        res = env.run("virt_iface", check=check, domain=GUEST, mac=MAC, type="network", source=NET_A[0],
                      renew="restart")
        assert res.get("failed") and "renew='restart': restarting the domain after a live move needs restart=true" \
            in res["msg"], res
    assert env.sb.snapshot() == before


def test_an_alias_or_mac_that_matches_nothing_is_named(env):
    """Item 8: an edit of a NIC that is not there names the alias / MAC and
    the domain, then what creating one needs (was: "type=None: needed to
    create a new interface")."""
    before = env.sb.snapshot()
    cases = [(dict(alias="ua-nosuch", link="down"),
              "alias='ua-nosuch': no interface with this alias exists on domain %s; to create one, set type" % GUEST),
             (dict(mac="52:54:00:f1:0e:77", link="down"),
              "mac='52:54:00:f1:0e:77': no interface with this MAC exists on domain %s; to create one" % GUEST),
             (dict(alias="ua-nosuch", type="network"),
              "source=None: needed to create a new network interface (alias=ua-nosuch: no interface with this alias "
              "exists on domain %s)" % GUEST)]
    for args, msg in cases:
        for check in (True, False):
            res = env.run("virt_iface", check=check, domain=GUEST, **args)
            assert res.get("failed") and msg in res["msg"], (args, res)
    assert env.sb.snapshot() == before


def test_restart_refused_when_the_config_names_a_host_link_as_target(env):
    """Issue 12, item 1 (audit): virt_iface never names a tap / macvtap itself
    (tests/unit/.../test_iface_names.py), but a domain config may, by hand.
    A restart would shut the guest down and then fail to start it (libvirt:
    "The vifrv0 interface already exists"; older libvirt versions also deleted
    the link when cleaning up) - refused before anything, in check mode too,
    the guest keeps running and the host link is left alone."""
    sb = env.sb
    sb.run_hv(["ip", "link", "add", "vifrv0", "type", "veth", "peer", "name", "vifrv1"], check=True)
    original = env.virsh("dumpxml", "--inactive", GUEST)
    try:
        root = ET.fromstring(original)
        nic = root.find("devices/interface")
        ET.SubElement(nic, "target", dev="vifrv0")
        path = sb.state_dir / "vifr-g-target.xml"
        path.write_text(ET.tostring(root, encoding="unicode"))
        sb.virsh("define", str(path))
        before = sb.snapshot()
        for check in (True, False):
            res = env.run("virt_iface", check=check, domain=GUEST, mac=MAC, model="e1000e", restart=True,
                          restart_timeout=3)
            assert res.get("failed"), res
            assert "restart=True: the config of domain %s names host interface vifrv0 as the target of interface %s" \
                % (GUEST, MAC) in res["msg"], res["msg"]
        assert sb.snapshot() == before
        assert env.virsh("domstate", GUEST).strip() == "running"
        assert sb.run_hv(["ip", "-o", "link", "show", "vifrv0"]).returncode == 0
        # Without restart the model change is written and pending, as usual.
        res = env.run("virt_iface", domain=GUEST, mac=MAC, model="e1000e")
        assert not res.get("failed") and res["pending"] == ["model"], res
    finally:
        path = sb.state_dir / "vifr-g-orig.xml"
        path.write_text(original)
        sb.virsh("define", str(path))
        sb.run_hv(["ip", "link", "del", "vifrv0"])
