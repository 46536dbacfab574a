"""virt_network and the host's own links (issue 12, items 1, 7, 8).

libvirt creates the bridge of a nat/route/isolated/open network itself; when
a link of that name already exists the start fails and libvirt's cleanup
deletes that link (a host NIC vanished in the report).  These tests run on
the real sandbox hypervisor and compare its snapshot (links, addresses,
routes, firewall, libvirt XML) before and after every refused or rolled-back
run.  Lab subnets: 192.0.2.0/24 and 2001:db8:5::/48.
"""

from __future__ import annotations

import re

import pytest

from virtnet_testlib import Hv

SUBNET = "192.0.2.1/24"


@pytest.fixture(scope="module")
def hv(sandbox):
    h = Hv(sandbox)
    yield h
    _clean(h)


def _clean(h):
    for name in h.virsh("net-list", "--all", "--name").split():
        if name.startswith("vnb"):
            h.virsh("net-destroy", name)
            h.virsh("net-undefine", name)
    for link in ("vnbx0", "vnbstale0", "vnbp0", "vnbq0"):
        h.sb.run_hv(["ip", "link", "delete", link], check=False)


@pytest.fixture()
def clean(hv):
    _clean(hv)
    yield hv
    _clean(hv)


def snap(sb):
    s = sb.snapshot()
    s["hv_nft"] = re.sub(r"counter packets \d+ bytes \d+", "counter", s["hv_nft"])
    return s


def links(sb) -> set:
    return {l.split(":")[1].strip().split("@")[0] for l in sb.run_hv(["ip", "-o", "link", "show"]).stdout.splitlines()}


def refused(hv, option, value, reason, **args):
    """Check mode and the real run both refuse, naming option and value, and
    the host is exactly as before."""
    before = snap(hv.sb)
    for check in (True, False):
        res = hv.run("virt_network", check=check, **args)
        assert res.get("failed"), res
        assert res["msg"].startswith("%s=%r:" % (option, value)), res["msg"]
        assert reason in res["msg"], res["msg"]
        assert "rolled_back" not in res, res
    assert snap(hv.sb) == before
    return res


# --------------------------------------------------------------------------
# item 1: a bridge name that is already a host link
# --------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["nat", "route", "isolated", "open"])
def test_host_nic_as_bridge_name_is_refused_and_survives(clean, mode):
    hv = clean
    res = refused(hv, "bridge.name", "lan1", "delete the existing interface",
                  name="vnb-nic", forward={"mode": mode}, bridge={"name": "lan1"}, ips=[{"address": SUBNET}])
    assert "veth" in res["msg"] or "interface of the host" in res["msg"]
    assert "lan1" in links(hv.sb)


def test_foreign_bridge_with_port_is_refused(clean):
    hv = clean
    # a bridge someone else made (NetworkManager, by hand), with a port
    hv.sb.run_hv(["ip", "link", "add", "vnbx0", "type", "bridge"])
    hv.sb.run_hv(["ip", "link", "add", "vnbp0", "type", "veth", "peer", "name", "vnbq0"])
    hv.sb.run_hv(["ip", "link", "set", "vnbp0", "master", "vnbx0"])
    refused(hv, "bridge.name", "vnbx0", "an existing bridge on the host",
            name="vnb-br", bridge={"name": "vnbx0"}, ips=[{"address": SUBNET}])
    # and a port of a bridge
    refused(hv, "bridge.name", "vnbp0", "a port of vnbx0",
            name="vnb-br", bridge={"name": "vnbp0"}, ips=[{"address": SUBNET}])


@pytest.mark.parametrize("other_state", ["running", "defined", "pending"])
def test_bridge_of_another_network_is_refused(clean, other_state):
    hv = clean
    res = hv.run("virt_network", name="vnb-other", bridge={"name": "vnbo0", "stp": False},
                 ips=[{"address": "203.0.113.241/28"}], state="stopped" if other_state == "defined" else "running")
    assert not res.get("failed"), res
    taken = "vnbo0"
    if other_state == "pending":
        # running on vnbo0, but its definition (next start) names vnbo1
        res = hv.run("virt_network", name="vnb-other", bridge={"name": "vnbo1"})
        assert not res.get("failed") and res["restart_required"], res
        taken = "vnbo1"
    refused(hv, "bridge.name", taken, "is the bridge of libvirt network 'vnb-other'",
            name="vnb-mine", bridge={"name": taken}, ips=[{"address": SUBNET}])


def test_running_network_cannot_move_onto_a_host_nic(clean):
    hv = clean
    res = hv.run("virt_network", name="vnb-move", bridge={"name": "vnbm0", "stp": False},
                 ips=[{"address": SUBNET}])
    assert not res.get("failed"), res
    refused(hv, "bridge.name", "lan1", "delete the existing interface",
            name="vnb-move", bridge={"name": "lan1"}, restart=True)
    # its own running bridge is of course fine
    again = hv.run("virt_network", name="vnb-move", bridge={"name": "vnbm0", "stp": False}, ips=[{"address": SUBNET}])
    assert again["changed"] is False, again


# --------------------------------------------------------------------------
# item 1: every roll back path leaves the host's links, addresses, routes
# --------------------------------------------------------------------------

def _host_part(s: dict, skip: str) -> dict:
    """The snapshot's links/addresses/routes without the lines of ``skip``
    (the network's own bridge, recreated by a restart with a new ifindex)."""
    def keep(text):
        return "\n".join(l for l in text.splitlines() if skip not in l)
    return {k: keep(s[k]) for k in ("hv_links", "hv_addrs", "hv_routes")}


def test_rollback_of_a_failed_first_start_keeps_the_host(clean):
    hv = clean
    before = snap(hv.sb)
    # passes every check, and dnsmasq refuses it at start
    res = hv.run("virt_network", name="vnb-fail", bridge={"name": "vnbf0"}, ips=[{"address": SUBNET}],
                 dnsmasq_options=["no-such-dnsmasq-option"])
    assert res.get("failed") and res["rolled_back"] == "the new network was undefined again", res
    assert snap(hv.sb) == before


def test_rollback_of_a_failed_restart_keeps_the_host(clean):
    hv = clean
    ok = hv.run("virt_network", name="vnb-rs", bridge={"name": "vnbr0", "stp": False}, ips=[{"address": SUBNET}])
    assert not ok.get("failed"), ok
    before = snap(hv.sb)
    res = hv.run("virt_network", name="vnb-rs", restart=True, dnsmasq_options=["no-such-dnsmasq-option"])
    assert res.get("failed") and res["rolled_back"] == "the previous definition was restored", res
    after = snap(hv.sb)
    assert _host_part(after, "vnbr0") == _host_part(before, "vnbr0")
    assert after["networks_inactive"] == before["networks_inactive"]
    assert "vnbr0" in links(hv.sb) and re.search(r"Active:\s+yes", hv.virsh("net-info", "vnb-rs"))


# --------------------------------------------------------------------------
# item 7: what only the real run used to find
# --------------------------------------------------------------------------

def test_dhcpv6_on_a_48_is_refused_in_check_mode(clean):
    refused(clean, "ips[0].address", "2001:db8:5::1/48", "prefix of 64 or longer",
            name="vnb-v6", ips=[{"address": "2001:db8:5::1/48",
                                 "dhcp": {"ranges": [{"start": "2001:db8:5::10", "end": "2001:db8:5::20"}]}}])


# --------------------------------------------------------------------------
# item 8: a stale bridge of our own network (libvirtd killed mid start)
# --------------------------------------------------------------------------

def _stale(hv, extra=None):
    res = hv.run("virt_network", name="vnb-stale", bridge={"name": "vnbstale0", "stp": False},
                 ips=[{"address": SUBNET}], state="stopped")
    assert not res.get("failed"), res
    hv.sb.run_hv(["ip", "link", "add", "vnbstale0", "type", "bridge"])
    hv.sb.run_hv(["ip", "addr", "add", SUBNET, "dev", "vnbstale0"])
    for argv in extra or ():
        hv.sb.run_hv(argv)


def test_stale_bridge_of_our_network_is_removed_and_it_starts(clean):
    hv = clean
    _stale(hv)
    args = dict(name="vnb-stale", bridge={"name": "vnbstale0", "stp": False}, ips=[{"address": SUBNET}])
    check = hv.run("virt_network", check=True, **args)
    assert [a["kind"] for a in check["actions"]] == ["remove_bridge", "start"], check
    res = hv.run("virt_network", **args)
    assert not res.get("failed"), res
    assert [a["kind"] for a in res["actions"]] == ["remove_bridge", "start"]
    assert re.search(r"Active:\s+yes", hv.virsh("net-info", "vnb-stale"))
    again = hv.run("virt_network", **args)
    assert again["changed"] is False, again


@pytest.mark.parametrize("what,extra,reason", [
    ("port", [["ip", "link", "add", "vnbp0", "type", "veth", "peer", "name", "vnbq0"],
              ["ip", "link", "set", "vnbp0", "master", "vnbstale0"]], "it has ports (vnbp0)"),
    ("address", [["ip", "addr", "add", "198.51.100.77/24", "dev", "vnbstale0"]], "198.51.100.77/24"),
])
def test_stale_bridge_in_use_is_refused_untouched(clean, what, extra, reason):
    hv = clean
    _stale(hv, extra)
    refused(hv, "bridge.name", "vnbstale0", reason,
            name="vnb-stale", bridge={"name": "vnbstale0", "stp": False}, ips=[{"address": SUBNET}])
    assert "vnbstale0" in links(hv.sb)
