"""The sandbox hypervisor itself, against the real thing: what the other
integration tests rely on (a guest on a libvirt NAT network gets a lease and
reaches the outside; a bridged guest gets a LAN address; NetworkManager
answers; `down` leaves the machine as it was)."""
from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import vnsb

VNSB = str(Path(vnsb.__file__).resolve())
DNSMASQ_NS = "http://libvirt.org/schemas/network/dnsmasq/1.0"


def lab_network_xml(name: str, bridge: str, *, mode: str = "nat", address: str = "192.0.2.1",
                    netmask: str = "255.255.255.0", dhcp: tuple[str, str] = ("192.0.2.10", "192.0.2.100")) -> str:
    """A libvirt network the way the tests should write them: stp off (no 2 s
    forward delay) and dnsmasq no-ping (no 3 s probe before the first lease)."""
    ET.register_namespace("dnsmasq", DNSMASQ_NS)
    net = ET.Element("network")
    ET.SubElement(net, "name").text = name
    ET.SubElement(net, "forward", mode=mode)
    ET.SubElement(net, "bridge", name=bridge, stp="off")
    ip = ET.SubElement(net, "ip", address=address, netmask=netmask)
    ET.SubElement(ET.SubElement(ip, "dhcp"), "range", start=dhcp[0], end=dhcp[1])
    opts = ET.SubElement(net, f"{{{DNSMASQ_NS}}}options")
    ET.SubElement(opts, f"{{{DNSMASQ_NS}}}option", value="no-ping")
    return ET.tostring(net, encoding="unicode")


def in_range(ip: str, start: str, end: str) -> bool:
    return ipaddress.ip_address(start) <= ipaddress.ip_address(ip) <= ipaddress.ip_address(end)


@pytest.fixture
def nat_network(sandbox, tmp_path):
    path = tmp_path / "nat.xml"
    path.write_text(lab_network_xml("vnsbnat", "virbr-vnsb"))
    sandbox.virsh("net-create", str(path))
    yield "vnsbnat"
    sandbox.virsh("net-destroy", "vnsbnat", check=False)


def test_nat_guest_gets_lease_and_reaches_outside(sandbox, nat_network):
    mac = "52:54:00:0a:00:01"
    g = sandbox.start_guest("vnsb-nat", nics=[{"type": "network", "source": nat_network, "mac": mac}])
    try:
        ip = g.wait_for_lease("eth0", timeout=90)
        assert in_range(ip, "192.0.2.10", "192.0.2.100")
        # The same lease from the console log and from libvirt's dnsmasq.
        assert f"VNSB LEASE eth0 {mac} {ip}" in g.console_log()
        leases = sandbox.virsh("net-dhcp-leases", nat_network).stdout
        assert re.search(rf"{re.escape(mac)}\s+ipv4\s+{re.escape(ip)}/24", leases), leases
        # The command channel: rc and output of commands run in the guest.
        rc, out = g.run("ping -c1 -W5 203.0.113.10")
        assert rc == 0, out
        assert "1 packets received" in out
        rc, out = g.run("wget -qO- http://203.0.113.10/")
        assert rc == 0 and "VNSB-WORLD" in out, out
        assert g.run("exit 3") == (3, "")
        # The guest's own web page (hostname + MACs), seen from the hypervisor.
        page = sandbox.run_hv(["curl", "-s", "--max-time", "10", f"http://{ip}/"])
        assert "VNSB-HOST vnsb-nat" in page.stdout and f"VNSB-MAC eth0 {mac}" in page.stdout, page
        assert f"VNSB-ADDR eth0 {ip}/24" in page.stdout, page  # rewritten after the lease
    finally:
        g.destroy()


def test_guest_nic_hotplug_and_link_events(sandbox, nat_network):
    """What NIC-level tests rely on: hot-plugged NICs get DHCP, link down/up
    is seen by the guest and renews the lease, unplug is seen."""
    g = sandbox.start_guest("vnsb-hp", nics=[{"type": "network", "source": nat_network}])
    try:
        g.wait_for_lease("eth0", timeout=90)
        nic = {"type": "network", "source": nat_network, "mac": "52:54:00:0a:00:02"}
        g.attach_nic(nic)
        iface = g.iface_of(nic["mac"])
        assert iface == "eth1"
        ip = g.wait_for_lease(iface, timeout=30)
        assert in_range(ip, "192.0.2.10", "192.0.2.100")
        mark = len(g.console_log())
        g.set_link(nic["mac"], "down")
        g.wait_for(rf"^VNSB LINK {iface} down", 15, after=mark)
        g.set_link(nic["mac"], "up")
        g.wait_for(rf"^VNSB LINK {iface} up", 15, after=mark)
        assert g.wait_for_lease(iface, timeout=30, after=mark) == ip
        g.detach_nic(nic)
        g.wait_for(rf"^VNSB NIC-REMOVED {iface}", 30)
        rc, out = g.run("ls /sys/class/net")
        assert rc == 0 and out.split() == ["eth0", "lo"], out
    finally:
        g.destroy()


def test_snapshot_sees_libvirt_changes(sandbox, tmp_path):
    before = sandbox.snapshot()
    assert sandbox.snapshot() == before  # stable when nothing changes
    path = tmp_path / "iso.xml"
    net = ET.Element("network")
    ET.SubElement(net, "name").text = "vnsbsnap"
    ET.SubElement(net, "bridge", name="virbr-snap", stp="off")
    path.write_text(ET.tostring(net, encoding="unicode"))
    sandbox.virsh("net-define", str(path))
    try:
        after = sandbox.snapshot()
        assert "vnsbsnap" in after["networks_inactive"] and "vnsbsnap" not in before["networks_inactive"]
        assert after != before
    finally:
        sandbox.virsh("net-undefine", "vnsbsnap", check=False)
    assert sandbox.snapshot() == before


def test_bridged_guest_gets_lan_address(sandbox):
    """A guest bridged onto the LAN (hv bridge with port lan1) is served by the
    outside's DHCP server, as a guest on a physical LAN would be."""
    br = "vnsbbr0"
    for argv in (["ip", "link", "add", br, "type", "bridge", "stp_state", "0", "forward_delay", "0"],
                 ["ip", "link", "set", "lan1", "master", br],
                 ["ip", "link", "set", br, "up"]):
        cp = sandbox.run_hv(argv)
        assert cp.returncode == 0, cp.stderr
    g = sandbox.start_guest("vnsb-br", nics=[{"type": "bridge", "source": br}])
    try:
        ip = g.wait_for_lease("eth0", timeout=90)
        assert in_range(ip, *vnsb.LAN_DHCP)
        leases = (Path(sandbox.state_dir) / "out" / "dnsmasq.leases").read_text()
        assert ip in leases
        rc, out = g.run(f"ping -c1 -W5 {vnsb.LAN_GW}")
        assert rc == 0, out
        # IPv6 SLAAC from the LAN's router advertisements
        addr6 = g.wait_for_addr("eth0", family=6, timeout=30)
        assert ipaddress.ip_interface(addr6).network == ipaddress.ip_network("2001:db8:100::/64"), addr6
        rc, out = g.run(f"ping -c1 -W5 {vnsb.LAN_GW6}")
        assert rc == 0, out
    finally:
        g.destroy()
        sandbox.run_hv(["ip", "link", "set", "lan1", "nomaster"])
        sandbox.run_hv(["ip", "link", "del", br])


def test_routed_guest_reachable_from_outside(sandbox, tmp_path):
    """add_out_route: the outside reaches a guest on a routed libvirt network."""
    (tmp_path / "rt.xml").write_text(lab_network_xml(
        "vnsbrt", "virbr-vnsbrt", mode="route", address="203.0.113.129", netmask="255.255.255.128",
        dhcp=("203.0.113.140", "203.0.113.150")))
    sandbox.virsh("net-create", str(tmp_path / "rt.xml"))
    g = sandbox.start_guest("vnsb-rt", nics=[{"type": "network", "source": "vnsbrt"}])
    try:
        gip = g.wait_for_lease("eth0", timeout=90)
        assert in_range(gip, "203.0.113.140", "203.0.113.150")
        sandbox.add_out_route("203.0.113.128/25")
        page = sandbox.run_out(["curl", "-s", "--max-time", "10", f"http://{gip}/"])
        assert "VNSB-HOST vnsb-rt" in page.stdout, page
    finally:
        g.destroy()
        sandbox.run_out(["ip", "route", "del", "203.0.113.128/25"])
        sandbox.virsh("net-destroy", "vnsbrt", check=False)


def test_macvtap_guest_gets_lan_address(sandbox):
    """type='direct' (macvtap) on the spare NIC lan2 puts the guest on the LAN."""
    g = sandbox.start_guest("vnsb-mv", nics=[{"type": "direct", "source": "lan2", "mode": "bridge"}])
    try:
        assert in_range(g.wait_for_lease("eth0", timeout=90), *vnsb.LAN_DHCP)
        rc, out = g.run("wget -qO- http://203.0.113.10/")
        assert rc == 0 and "VNSB-WORLD" in out, out
    finally:
        g.destroy()


def test_passt_guest_reaches_outside(sandbox):
    """passt (user-mode networking without root inside qemu): libvirt 11.3
    only; bookworm's 9.0 rejects <backend type='passt'/>."""
    version = sandbox.virsh("version", "--daemon").stdout
    m = re.search(r"Running against daemon: (\d+)\.", version) or re.search(r"libvirtd (\d+)\.", version)
    if m and int(m.group(1)) < 10:
        pytest.skip("passt needs libvirt from bookworm-backports: " + version.strip())
    g = sandbox.start_guest("vnsb-passt", nics=[{"type": "user", "backend": "passt"}])
    try:
        # passt hands the guest the hypervisor's own uplink address.
        assert g.wait_for_lease("eth0", timeout=90) == vnsb.LAN_HV
        rc, out = g.run("ping -c1 -W5 203.0.113.10 && wget -qO- http://203.0.113.10/")
        assert rc == 0 and "VNSB-WORLD" in out, out
    finally:
        g.destroy()


def test_cli_status_env_exec(sandbox):
    st = json.loads(subprocess.run([sys.executable, VNSB, "status", "--name", sandbox.name],
                                   capture_output=True, text=True, check=True).stdout)
    assert st["running"] and st["uri"] == sandbox.uri
    env = subprocess.run([sys.executable, VNSB, "env", "--name", sandbox.name],
                         capture_output=True, text=True, check=True).stdout
    assert f"export VIRTNET_URI='{sandbox.uri}'" in env
    # The libvirt socket is reachable from the root namespace.
    assert subprocess.run(["virsh", "-c", sandbox.uri, "list"], capture_output=True, check=False).returncode == 0
    links = subprocess.run([sys.executable, VNSB, "exec", "--name", sandbox.name, "--", "ip", "-br", "addr"],
                           capture_output=True, text=True, check=True).stdout
    assert re.search(r"^lan0\S*\s+UP\s+198\.51\.100\.2/24", links, re.M), links
    out = subprocess.run([sys.executable, VNSB, "exec", "--name", sandbox.name, "--outside", "--",
                          "ip", "-br", "addr", "show", "lo"], capture_output=True, text=True, check=True).stdout
    assert "203.0.113.10/32" in out


def _root_view(name: str) -> dict:
    """What the machine looks like from the root namespace. Other engineers'
    sandboxes come and go concurrently, so netns and mount lines of *other*
    instances are left out; links and firewall of the root namespace are
    compared whole (no sandbox ever touches them)."""
    def sh(*argv: str) -> str:
        return subprocess.run(argv, capture_output=True, text=True, check=False).stdout

    other_ns = re.compile(r"/run/netns/(?!%s-)" % re.escape(name))
    mounts = [ln for ln in Path("/proc/mounts").read_text().splitlines() if not other_ns.search(ln)]
    netns = [ln for ln in sh("ip", "netns", "list").splitlines() if ln.split()[0].startswith(name + "-")]
    links = sorted(re.sub(r"^\d+: ", "", ln) for ln in sh("ip", "-o", "link", "show").splitlines())
    return {"netns": netns, "mounts": sorted(mounts), "links": links,
            "iptables": [ln for ln in sh("iptables-save").splitlines() if not ln.startswith("#")],
            "ip6tables": [ln for ln in sh("ip6tables-save").splitlines() if not ln.startswith("#")],
            "nft": sh("nft", "list", "ruleset"),
            "hostname": Path("/proc/sys/kernel/hostname").read_text(),
            "ip_forward": Path("/proc/sys/net/ipv4/ip_forward").read_text(),
            "state_dir": (vnsb.STATE_ROOT / name).exists()}


def test_down_leaves_no_trace(tmp_path):
    reason = vnsb.missing_requirements()
    if reason:
        pytest.skip(reason)
    name = "t%dd%s" % (os.getpid(), os.environ.get("PYTEST_XDIST_WORKER", ""))
    before = _root_view(name)
    sb = vnsb.Sandbox(name)
    sb.up()
    try:
        # Give it everything that leaves traces: a NAT network (firewall
        # rules, dnsmasq, bridge) and a running guest (qemu, tap).
        (tmp_path / "n.xml").write_text(lab_network_xml("tracenet", "virbr-trace"))
        sb.virsh("net-create", str(tmp_path / "n.xml"))
        g = sb.start_guest("trace", nics=[{"type": "network", "source": "tracenet"}])
        g.wait_for("^VNSB NIC eth0", timeout=90)
        pids = set()
        for ns in (sb.hv_ns, sb.out_ns):
            listed = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, check=False)
            pids |= {int(p) for p in listed.stdout.split()}
        comms = {Path(f"/proc/{p}/comm").read_text().strip() for p in pids}
        assert {"libvirtd", "dnsmasq", "qemu-system-x86", "sleep"} <= comms, comms
        assert _root_view(name)["netns"], "namespaces should exist while up"
    finally:
        sb.down()
    after = _root_view(name)
    survivors = [p for p in pids if Path(f"/proc/{p}").exists()]
    assert survivors == [], survivors
    for key in before:
        assert after[key] == before[key], key


def test_networkmanager(sandbox_nm):
    sb = sandbox_nm
    cp = sb.nmcli("general", "status")
    assert cp.returncode == 0, cp.stderr
    # NM sees the spare NICs (managed, no connection) and leaves lan0 alone.
    devs = dict(ln.split(":", 1) for ln in sb.nmcli("-t", "-f", "DEVICE,STATE", "device").stdout.splitlines())
    assert devs.get("lan1") == "disconnected" and devs.get("lan2") == "disconnected", devs
    assert devs.get("lan0") == "unmanaged", devs
    # A module in the root namespace reaches NM through the exposed D-Bus socket.
    st = sb.status()
    assert st["dbus_socket"] and Path(st["dbus_socket"]).is_socket()
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS="unix:path=" + st["dbus_socket"], LC_ALL="C")
    cp = subprocess.run(["nmcli", "-t", "-f", "DEVICE", "device"], env=env, capture_output=True, text=True,
                        check=False)
    assert "lan2" in cp.stdout.split(), cp
    # An NM bridge with lan2 as port gets a LAN lease from the outside's DHCP.
    try:
        for argv in (["con", "add", "type", "bridge", "con-name", "vnsb-br", "ifname", "vnsbnm0",
                      "bridge.stp", "no", "ipv6.method", "disabled"],
                     ["con", "add", "type", "ethernet", "con-name", "vnsb-port", "ifname", "lan2",
                      "master", "vnsbnm0", "slave-type", "bridge"],
                     ["--wait", "30", "con", "up", "vnsb-br"]):
            cp = sb.nmcli(*argv)
            assert cp.returncode == 0, (argv, cp.stdout, cp.stderr)
        # `con up` may return at "master waiting for slaves", before DHCP.
        deadline = time.monotonic() + 30
        while True:
            addr = sb.run_hv(["ip", "-4", "-o", "addr", "show", "dev", "vnsbnm0"]).stdout
            m = re.search(r"inet (\S+)/24", addr)
            if m or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert m and in_range(m.group(1), *vnsb.LAN_DHCP), (addr, sb.nmcli("-t", "device").stdout)
    finally:
        sb.nmcli("con", "del", "vnsb-port")
        sb.nmcli("con", "del", "vnsb-br")


@pytest.mark.parametrize("crash", ["processes-killed", "state-dir-removed"])
def test_up_after_unclean_crash(crash):
    """A crashed run leaves namespaces and/or a state dir behind; `up` of the
    same name must clean them and come up working, and `down` still clean all."""
    reason = vnsb.missing_requirements()
    if reason:
        pytest.skip(reason)
    name = "t%dc%s" % (os.getpid(), os.environ.get("PYTEST_XDIST_WORKER", ""))
    before = _root_view(name)
    sb = vnsb.Sandbox(name)
    sb.up()
    try:
        # PID -> start time, so a reused PID is not mistaken for a survivor
        old = {int(p): vnsb._proc_start(int(p)) for ns in (sb.hv_ns, sb.out_ns)
               for p in subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True,
                                       check=False).stdout.split()}
        assert len(old) >= 4, old  # holder, libvirtd, dnsmasq, httpd
        if crash == "processes-killed":
            for p in old:
                os.kill(p, 9)
        else:
            # the daemons keep running, but nothing on disk remembers them
            shutil.rmtree(sb.state_dir)
        again = vnsb.Sandbox(name)
        again.up()
        assert again.virsh("list").returncode == 0
        # A killed daemon that was reparented to the machine's init (rhel9:
        # polkitd, which the hv's D-Bus starts for firewalld) stays a zombie
        # until init reaps it; it is dead, so _alive (not the start time alone).
        survivors = [p for p, start in old.items() if vnsb._alive(p, start)]
        assert survivors == [], survivors
    finally:
        vnsb.Sandbox(name).down()
    after = _root_view(name)
    for key in before:
        assert after[key] == before[key], key
