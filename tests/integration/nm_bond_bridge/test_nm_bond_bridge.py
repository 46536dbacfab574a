"""nm_bond_bridge against the sandbox's real NetworkManager.

The module acts on the host it runs on (nmcli, sysfs, /proc/net/bonding,
ping), so every module process runs inside the sandbox hypervisor's network
and mount namespaces: ``run_module(..., argv_prefix=sandbox.hv_argv([]))``
(nsenter), exactly as Ansible would run it on that host.  nmcli then reaches
the sandbox's NetworkManager on the namespace's own /run/dbus.

The sandbox's lan1 and lan2 both plug into the outside LAN bridge, so a
host bridge over *both* would be a layer-2 loop (that is what a bond is
for): bridges here take one of them.  This kernel has no bonding, so bond
activation fails for real: that failure is how the rollback is proven.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import vnsb

from virtnet_testlib import BUILD, converge, run_module

NAME = "n6p%d" % (os.getpid() % 100000)   # parallel sessions never share (or tear down) it
OUT_ADDR = "198.51.100.1"


@pytest.fixture(scope="module")
def sb(sandbox_factory):
    return sandbox_factory.get(NAME, with_nm=True)


def nm(sb, *args):
    cp = sb.nmcli(*args)
    assert cp.returncode == 0, (args, cp.stderr)
    return cp.stdout


def nm_state(sb) -> dict:
    """Every NM profile (settings without the last-used timestamp) with its
    active state, plus the hypervisor's addresses and links: what a user
    would see change."""
    state = {}
    for line in nm(sb, "-t", "-f", "UUID,NAME,DEVICE,STATE", "connection", "show").splitlines():
        uuid = line.split(":")[0]
        cp = sb.nmcli("-t", "connection", "show", "uuid", uuid)
        if cp.returncode != 0:
            # Deleted between the listing and now (NetworkManager is rolling
            # back right now): take the whole picture again.
            time.sleep(0.2)
            return nm_state(sb)
        state[uuid] = {"row": line, "props": [p for p in cp.stdout.splitlines()
                                              if not p.startswith(("connection.timestamp:", "GENERAL.",
                                                                   "IP4.", "IP6.", "DHCP"))]}
    addrs = sb.run_hv(["ip", "-o", "-4", "addr", "show"]).stdout
    links = sb.run_hv(["ip", "-br", "link", "show"]).stdout
    return {"profiles": state, "addrs": addrs, "links": links}


@pytest.fixture
def clean(sb):
    """Every test starts from no profile but lo, and leaves it so."""
    def wipe():
        for line in nm(sb, "-t", "-f", "UUID,TYPE", "connection", "show").splitlines():
            uuid, ctype = line.split(":")[:2]
            if ctype != "loopback":
                nm(sb, "connection", "delete", "uuid", uuid)
        for dev in ("br0", "bridge0", "bond0"):
            sb.run_hv(["ip", "link", "del", dev])
        sb.run_hv(["ip", "addr", "flush", "dev", "lan1"])
        sb.run_hv(["ip", "addr", "flush", "dev", "lan2"])
    wipe()
    yield sb
    wipe()


def mod(sb, args, **kw):
    return run_module("nm_bond_bridge", args, argv_prefix=sb.hv_argv([]), **kw)


def pings(sb, addr, tries=10) -> bool:
    for _try in range(tries):
        if sb.run_out(["ping", "-c", "1", "-W", "1", addr]).returncode == 0:
            return True
        time.sleep(0.2)
    return False


def ports_of(sb, bridge):
    out = sb.run_hv(["ip", "-j", "link", "show", "master", bridge]).stdout
    return sorted(link["ifname"] for link in json.loads(out or "[]"))


def test_bridge_with_veth_port_becomes_active_and_carries_traffic(clean):
    sb = clean
    args = {"name": "br0", "ports": ["lan1"],
            "ipv4": {"addresses": ["198.51.100.20/24"], "dns": ["198.51.100.1"], "dns_search": ["lab.example"]},
            "ipv6": {"addresses": ["2001:db8:100::20/64"], "gateway": "2001:db8:100::1"},
            "verify_target": OUT_ADDR}
    assert not pings(sb, "198.51.100.20", tries=1)
    check, applied, again = converge("nm_bond_bridge", args, argv_prefix=sb.hv_argv([]))
    assert check["diff"]["before"] == {"present": False}
    assert [a["summary"] for a in applied["actions"]] == [
        "create bridge profile br0", "create port profile br0-port-lan1: lan1 into br0",
        "activate bridge br0 and its ports (profiles changed)"]
    assert applied["bridge"]["active"] == {"br0": True, "lan1": True}
    assert applied["verification"]["bridge"]["ports"] == {"lan1": {"state": "forwarding", "operstate": "up"}}
    assert applied["reachable"] == OUT_ADDR
    assert applied["checkpoint"][-1].endswith("destroyed: the new state is kept")
    # What a user checks (seed: ip link show master br0), and real traffic
    # from the outside namespace through lan1 into the bridge.
    assert ports_of(sb, "br0") == ["lan1"]
    assert pings(sb, "198.51.100.20")
    v6_reached = pings(sb, "2001:db8:100::20")
    assert "198.51.100.20/24" in sb.run_hv(["ip", "-o", "addr", "show", "dev", "br0"]).stdout
    # The info module reads the same model back, with the kernel status.
    info = run_module("nm_bond_bridge_info", {"name": "br0"}, argv_prefix=sb.hv_argv([]))
    view = info["bridges"]["br0"]
    assert {k: view[k] for k in applied["bridge"]} == applied["bridge"]
    assert view["status"]["bridge"]["ports"]["lan1"]["state"] == "forwarding"
    assert view["profiles"] == {"bridge": "br0", "bond": None, "ports": {"lan1": "br0-port-lan1"}}
    # A change of one setting is one modify + reactivation, still converging.
    args["ipv4"]["addresses"] = ["198.51.100.21/24"]
    check, applied, again = converge("nm_bond_bridge", args, argv_prefix=sb.hv_argv([]))
    assert [a["summary"] for a in applied["actions"]] == [
        "modify bridge br0: ipv4", "activate bridge br0 and its ports (profiles changed)"]
    assert pings(sb, "198.51.100.21")
    # Absent removes everything it created.
    converge("nm_bond_bridge", {"name": "br0", "state": "absent"}, argv_prefix=sb.hv_argv([]))
    assert "br0" not in nm(sb, "-t", "-f", "NAME", "connection", "show").split()
    assert sb.run_hv(["ip", "link", "show", "br0"]).returncode != 0
    if vnsb.SHAPES[sb.shape]["firewalld"] and not v6_reached:
        # Measured (rhel9 shape): firewalld's IPv6 reverse-path filter
        # (IPv6_rpfilter=yes, the RHEL default) drops the echo, because the
        # sandbox's lan0 already holds an address in 2001:db8:100::/64 and the
        # route back to the sender prefers lan0 over br0. A host with its
        # address moved to the bridge (seed 15.9, the test below) has no such
        # second interface in the subnet.
        pytest.skip("firewalld's IPv6_rpfilter drops the echo to br0: lan0 holds the same /64 "
                    "(a sandbox topology artifact; everything else in this test was checked)")
    assert v6_reached


def test_without_autoconnect_ports_the_module_brings_the_port_up_itself(clean):
    sb = clean
    args = {"name": "br0", "ports": ["lan1"], "autoconnect_ports": False,
            "ipv4": {"addresses": ["198.51.100.22/24"]}, "stp": True, "verify_timeout": 60,
            "rollback_timeout": 90}
    applied = converge("nm_bond_bridge", args, argv_prefix=sb.hv_argv([]))[1]
    assert applied["bridge"]["active"] == {"br0": True, "lan1": True}
    assert applied["bridge"]["autoconnect_ports"] is False and applied["bridge"]["stp"] is True
    props = nm(sb, "-t", "-f", "connection.autoconnect-slaves,bridge.stp", "connection", "show", "br0")
    assert props.split() == ["connection.autoconnect-slaves:0", "bridge.stp:yes"]
    assert ports_of(sb, "br0") == ["lan1"]
    # A port taken down by hand is noticed and brought back.
    nm(sb, "connection", "down", "id", "br0-port-lan1")
    again = mod(sb, args, check=True)
    assert [a["summary"] for a in again["actions"]] == [
        "activate bridge br0 and its ports (not active: lan1)"]
    converge("nm_bond_bridge", args, argv_prefix=sb.hv_argv([]))
    assert ports_of(sb, "br0") == ["lan1"]


def test_bridge_with_dhcp_and_slaac_from_the_lan(clean):
    sb = clean
    args = {"name": "br0", "ports": ["lan1"], "ipv4": {"method": "auto"}, "ipv6": {"method": "auto"},
            "verify_target": OUT_ADDR}
    check, applied, again = converge("nm_bond_bridge", args, argv_prefix=sb.hv_argv([]))
    assert applied["bridge"]["ipv4"] == {"method": "auto", "addresses": [], "gateway": None, "dns": [],
                                         "dns_search": []}
    # The LAN's dnsmasq leases from 198.51.100.100-150 and advertises 2001:db8:100::/64.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        addrs = sb.run_hv(["ip", "-o", "addr", "show", "dev", "br0"]).stdout
        if "inet 198.51.100.1" in addrs and "inet6 2001:db8:100:" in addrs:
            break
        time.sleep(0.5)
    leased = [w.split("/")[0] for w in addrs.split() if w.startswith("198.51.100.")]
    assert leased and 100 <= int(leased[0].rsplit(".", 1)[1]) <= 150, addrs
    assert "inet6 2001:db8:100:" in addrs, addrs
    assert pings(sb, leased[0])


def test_seed_15_9_host_ip_moves_to_the_bridge_and_back(clean):
    sb = clean
    # The host's address lives on its physical interface (lan1).
    nm(sb, "connection", "add", "type", "ethernet", "con-name", "uplink", "ifname", "lan1",
       "ipv4.method", "manual", "ipv4.addresses", "198.51.100.30/24", "ipv6.method", "disabled")
    nm(sb, "connection", "up", "id", "uplink")
    assert pings(sb, "198.51.100.30")
    args = {"name": "bridge0", "ports": ["lan1"], "move_ip_from": "lan1", "verify_target": OUT_ADDR}
    check, applied, again = converge("nm_bond_bridge", args, argv_prefix=sb.hv_argv([]))
    assert applied["bridge"]["ipv4"]["addresses"] == ["198.51.100.30/24"]
    assert applied["bridge"]["standalone_profiles"] == {
        "uplink": {"ifname": "lan1", "autoconnect": False, "active": False}}
    hv_addr = sb.run_hv(["ip", "-o", "-4", "addr", "show"]).stdout
    assert any(" bridge0 " in ln and "198.51.100.30/24" in ln for ln in hv_addr.splitlines())
    assert not any(" lan1 " in ln for ln in hv_addr.splitlines())
    assert ports_of(sb, "bridge0") == ["lan1"]
    assert pings(sb, "198.51.100.30")
    # Back: the bridge goes, the parked profile returns with its address.
    res = converge("nm_bond_bridge", {"name": "bridge0", "state": "absent", "release_ports": True},
                   argv_prefix=sb.hv_argv([]))[1]
    assert [a["summary"] for a in res["actions"]] == [
        "delete port profile bridge0-port-lan1", "delete bridge profile bridge0",
        "let standalone profile uplink autoconnect again", "activate standalone profile uplink on lan1"]
    assert "198.51.100.30/24" in sb.run_hv(["ip", "-o", "-4", "addr", "show", "dev", "lan1"]).stdout
    assert pings(sb, "198.51.100.30")


def test_failed_bond_activation_rolls_back_profiles_and_connectivity(clean):
    sb = clean
    converge("nm_bond_bridge", {"name": "br0", "ports": ["lan1"], "ipv4": {"addresses": ["198.51.100.20/24"]},
                                "verify_target": OUT_ADDR}, argv_prefix=sb.hv_argv([]))
    before = nm_state(sb)
    assert pings(sb, "198.51.100.20")
    t0 = time.monotonic()
    res = mod(sb, {"name": "br0", "bond": {"name": "bond0", "ports": ["lan1", "lan2"]},
                   "ipv4": {"addresses": ["198.51.100.20/24"]}, "verify_target": OUT_ADDR})
    elapsed = time.monotonic() - t0
    assert res.get("failed"), res
    # The error says why (the kernel cannot make a bond) and what happened.
    assert "Failed to create bond interface" in res["msg"] and "Operation not supported" in res["msg"]
    assert "rolled back to the checkpoint" in res["msg"]
    assert res["rollback"] and set(res["rollback"].values()) == {"ok"}
    assert any("rolled back" in line for line in res["checkpoint"])
    # Profiles (same UUIDs and settings), activation, addresses: as before.
    time.sleep(0.5)
    assert nm_state(sb) == before
    assert pings(sb, "198.51.100.20")
    assert elapsed < 60   # rolled back by us, not by the checkpoint's timeout
    # And the module agrees nothing is left to do for the old declaration.
    again = mod(sb, {"name": "br0", "ports": ["lan1"], "ipv4": {"addresses": ["198.51.100.20/24"]}}, check=True)
    assert again["changed"] is False, again["actions"]


def test_change_that_would_cut_the_controllers_ssh_is_rolled_back(clean):
    """Run as if over SSH (SSH_CONNECTION): the controller's path is part of
    the verification.  lan0 (198.51.100.2) stands for the management address."""
    sb = clean
    args = {"name": "br0", "ports": ["lan1"], "ipv4": {"addresses": ["198.51.100.20/24"]}}
    before = nm_state(sb)
    gone = mod(sb, args, env={"SSH_CONNECTION": "198.51.100.1 50022 198.51.100.99 22"})
    assert gone.get("failed")
    assert gone["msg"].startswith("the address the controller connects to (198.51.100.99) is gone from the host "
                                  "after the change; the SSH connection would be cut; NetworkManager was rolled "
                                  "back"), gone["msg"]
    assert nm_state(sb) == before
    ok = mod(sb, args, env={"SSH_CONNECTION": "198.51.100.1 50022 198.51.100.2 22"})
    assert not ok.get("failed"), ok
    assert ok["controller_reachable"] == "198.51.100.1"


def test_networkmanager_rolls_back_by_itself_when_the_module_dies(clean):
    """The module is killed mid-change (as when the host drops the SSH
    session): nobody destroys the checkpoint, so NetworkManager restores the
    previous state when the rollback timeout expires."""
    sb = clean
    before = nm_state(sb)
    payload = {"ANSIBLE_MODULE_ARGS": {"name": "br0", "ports": ["lan1"], "ipv4": {"addresses": ["198.51.100.20/24"]},
                                       "verify_target": "192.0.2.250", "verify_timeout": 10,
                                       "rollback_timeout": 30}}
    argfile = sb.state_dir / "nm-killed-args.json"
    argfile.write_text(json.dumps(payload))
    proc = subprocess.Popen(sb.hv_argv([sys.executable, "-m",
                                        "ansible_collections.virtnet.networking.plugins.modules.nm_bond_bridge",
                                        str(argfile)]), cwd=BUILD, env=dict(os.environ, PYTHONPATH=BUILD),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.monotonic()
    # Wait until the change is in place (the bridge exists), then kill.
    while sb.run_hv(["ip", "link", "show", "br0"]).returncode != 0 and time.monotonic() - t0 < 10:
        time.sleep(0.1)
    assert proc.poll() is None, "the module ended before it could be killed"
    proc.kill()
    proc.wait()
    assert "br0" in nm(sb, "-t", "-f", "NAME", "connection", "show").split()
    while nm_state(sb) != before and time.monotonic() - t0 < 60:
        time.sleep(1)
    elapsed = time.monotonic() - t0
    assert nm_state(sb) == before
    assert 25 <= elapsed <= 60, elapsed   # NetworkManager's timer (30 s), not us


def _other_bond(sb):
    nm(sb, "connection", "add", "type", "bond", "con-name", "bond9", "ifname", "bond9", "autoconnect", "no",
       "bond.options", "mode=active-backup,miimon=100")
    nm(sb, "connection", "add", "type", "ethernet", "con-name", "bond9-port-lan2", "ifname", "lan2",
       "autoconnect", "no", "master", "bond9", "slave-type", "bond")


def _lan1_profile(sb):
    nm(sb, "connection", "add", "type", "ethernet", "con-name", "lan1", "ifname", "lan1", "autoconnect", "no",
       "ipv4.method", "disabled", "ipv6.method", "disabled")


def _lan2_has_the_hosts_address(sb):
    nm(sb, "connection", "add", "type", "ethernet", "con-name", "uplink2", "ifname", "lan2",
       "ipv4.method", "manual", "ipv4.addresses", "198.51.100.31/24", "ipv6.method", "disabled")
    nm(sb, "connection", "up", "id", "uplink2")


def _existing_bridge(sb):
    converge("nm_bond_bridge", {"name": "br0", "ports": ["lan1"]}, argv_prefix=sb.hv_argv([]))


BOND = {"name": "bond0", "ports": ["lan1", "lan2"]}
BAD = [
    ("mode 0", None, {"name": "br0", "bond": dict(BOND, mode="0")}, "bond.mode='0': with a bridge used by"),
    ("mode 3", None, {"name": "br0", "bond": dict(BOND, mode="broadcast")}, "bond.mode='broadcast': with a"),
    ("mode 5", None, {"name": "br0", "bond": dict(BOND, mode="balance-tlb")}, "bond.mode='balance-tlb': with"),
    ("mode 6", None, {"name": "br0", "bond": dict(BOND, mode="6")}, "modes 0, 3, 5 and 6 are likely"),
    ("arp", None, {"name": "br0", "bond": dict(BOND, options={"arp_interval": "100"})},
     "bond.options.arp_interval='100': ARP monitoring does not work correctly"),
    ("miimon 0", None, {"name": "br0", "bond": dict(BOND, miimon=0)}, "bond.miimon=0: MII monitoring is required"),
    ("unknown port", None, {"name": "br0", "ports": ["lan7"]},
     "ports[0]='lan7': no such network interface on the host (ethernet interfaces: lan0, lan1, lan2)"),
    ("unmanaged port", None, {"name": "br0", "ports": ["lan0"]}, "ports[0]='lan0': is not managed by NetworkManager"),
    ("port in another bond", _other_bond, {"name": "br0", "bond": BOND},
     "bond.ports[1]='lan2': is already a port of bond9 (profile 'bond9-port-lan2')"),
    ("name taken", _lan1_profile, {"name": "lan1", "ports": ["lan2"]}, "name='lan1': a ethernet profile ('lan1')"),
    ("name too long", None, {"name": "br-much-too-long0", "ports": ["lan1"]},
     "name='br-much-too-long0': not a valid interface name"),
    ("no prefix", None, {"name": "br0", "ports": ["lan1"], "ipv4": {"addresses": ["198.51.100.20"]}},
     "ipv4.addresses[0]='198.51.100.20': needs a prefix length"),
    ("bad prefix", None, {"name": "br0", "ports": ["lan1"], "ipv4": {"addresses": ["198.51.100.20/40"]}},
     "ipv4.addresses[0]='198.51.100.20/40': not an address with prefix"),
    ("bad address", None, {"name": "br0", "ports": ["lan1"], "ipv4": {"addresses": ["198.51.100.256/24"]}},
     "ipv4.addresses[0]='198.51.100.256/24'"),
    ("v6 in v4", None, {"name": "br0", "ports": ["lan1"], "ipv4": {"addresses": ["2001:db8::5/64"]}},
     "ipv4.addresses[0]='2001:db8::5/64': not an IPv4 address"),
    ("gateway outside", None, {"name": "br0", "ports": ["lan1"],
                               "ipv4": {"addresses": ["198.51.100.20/24"], "gateway": "203.0.113.1"}},
     "ipv4.gateway='203.0.113.1': is outside the subnets of ipv4.addresses (198.51.100.20/24)"),
    ("v6 gateway outside", None, {"name": "br0", "ports": ["lan1"],
                                  "ipv6": {"addresses": ["2001:db8:100::20/64"], "gateway": "2001:db8:200::1"}},
     "ipv6.gateway='2001:db8:200::1': is outside the subnets"),
    ("bad method", None, {"name": "br0", "ports": ["lan1"], "ipv4": {"method": "dhcp"}},
     "ipv4.method='dhcp': must be one of disabled, auto, manual"),
    ("bad dns", None, {"name": "br0", "ports": ["lan1"], "ipv4": {"method": "auto", "dns": ["198.51.100.999"]}},
     "ipv4.dns[0]='198.51.100.999': not an IP address"),
    ("move from non-port", None, {"name": "br0", "ports": ["lan1"], "move_ip_from": "lan2"},
     "move_ip_from='lan2': must be one of the bridge's ports"),
    ("move without profile", None, {"name": "br0", "ports": ["lan1"], "move_ip_from": "lan1"},
     "move_ip_from='lan1': no NetworkManager profile holds an IP configuration"),
    ("no ports", None, {"name": "br0"}, "ports=[]: a VM bridge needs ports or a bond"),
    ("port twice", None, {"name": "br0", "ports": ["lan1"], "bond": dict(BOND)},
     "bond.ports='lan1': is listed twice (also in ports)"),
    ("bad verify target", None, {"name": "br0", "ports": ["lan1"], "verify_target": "gateway"},
     "verify_target='gateway': not an IP address"),
    ("port carries the host's address", _lan2_has_the_hosts_address, {"name": "br0", "ports": ["lan2"]},
     "ports[0]='lan2': carries the host's IP configuration (active profile 'uplink2': ipv4 198.51.100.31/24)"),
    ("change under existing bridge, bad mode", _existing_bridge,
     {"name": "br0", "bond": dict(BOND, mode="balance-rr")}, "bond.mode='balance-rr'"),
]


@pytest.mark.parametrize("setup,args,message", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_is_refused_and_nothing_changes(clean, setup, args, message):
    sb = clean
    if setup:
        setup(sb)
    before = nm_state(sb)
    res = mod(sb, args)
    assert res.get("failed"), res
    assert message in res["msg"], res["msg"]
    assert nm_state(sb) == before
