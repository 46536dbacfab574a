"""virt_iface / virt_iface_info against the sandbox hypervisor: real
libvirtd, dnsmasq, passt and running TCG guests.

Three guests, shared by the whole module to save CPU:
- vif-a: persistent, one NIC (alias ua-nat0) on the NAT network vif-nat;
- vif-b: persistent, one macvtap NIC (alias ua-lan, boot order 1) on lan2;
- vif-c: persistent, no NIC and no ACPI, started only for the passt test.
Every scenario runs check -> apply -> apply again (virtnet_testlib.converge)
and then checks what the guest or the outside sees.  The modules run on the
hypervisor (nsenter into its namespaces), as they do under Ansible.

Lab subnets: vif-nat 203.0.113.129/27, vif-nat2 203.0.113.161/27; the LAN
198.51.100.0/24 (outside DHCP .100-.150) through the host bridge vifbr0
(port lan1) made here with `ip link`, also offered as the bridge-mode
libvirt network vif-lan.
"""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET

import pytest

import vnsb
from virtnet_testlib import Hv as BaseHv

NAT = ("vif-nat", "203.0.113.129", 27, "203.0.113.140", "203.0.113.150")
NAT2 = ("vif-nat2", "203.0.113.161", 27, "203.0.113.170", "203.0.113.180")
BRIDGE = "vifbr0"
MAC_A = "52:54:00:f1:0a:01"
MAC_B = "52:54:00:f1:0b:01"


def in_range(ip, first, last):
    def n(a):
        return tuple(int(x) for x in a.split("."))
    return n(first) <= n(ip) <= n(last)


def lan_ip(ip):
    return in_range(ip, "198.51.100.100", "198.51.100.150")


class Hv(BaseHv):
    """The modules on the sandbox hypervisor, plus what these tests read back."""

    def dom_xml(self, name):
        """What 'domain XML unchanged' compares: live and inactive."""
        return self.virsh("dumpxml", name), self.virsh("dumpxml", "--inactive", name)

    def iface_xml(self, name, mac, inactive=False):
        root = ET.fromstring(self.virsh("dumpxml", *(["--inactive"] if inactive else []), name))
        for el in root.findall("devices/interface"):
            if el.find("mac").get("address") == mac:
                return el
        return None

    def info(self, name):
        res = self.run("virt_iface_info", domain=name)
        assert not res.get("failed"), res
        return res["domains"][0]

    def nic_info(self, name, mac):
        return next(i for i in self.info(name)["interfaces"] if i["mac"] == mac)


def net_xml(spec):
    name, gw, prefix, first, last = spec
    return ("<network xmlns:dnsmasq='http://libvirt.org/schemas/network/dnsmasq/1.0'><name>%s</name>"
            "<forward mode='nat'/><bridge name='vb%s' stp='off'/><ip address='%s' prefix='%d'><dhcp>"
            "<range start='%s' end='%s'/></dhcp></ip><dnsmasq:options><dnsmasq:option value='no-ping'/>"
            "</dnsmasq:options></network>" % (name, name.replace("-", ""), gw, prefix, first, last))


def define_guest(sb, name, nics, *, acpi=True, start=True):
    """A sandbox test guest, with per-NIC user alias and boot order, and
    optionally without ACPI (sandbox.guest_xml has neither knob)."""
    g = sb.guest(name)
    g.dir.mkdir(parents=True, exist_ok=True)
    for f in (g.console_path, g.cmd_socket):
        if f.exists():
            f.unlink()
    root = ET.fromstring(sb.guest_xml(name, nics))
    for el, nic in zip(root.findall("devices/interface"), nics):
        if nic.get("alias"):
            ET.SubElement(el, "alias", name=nic["alias"])
        if nic.get("boot"):
            ET.SubElement(el, "boot", order=str(nic["boot"]))
    if not acpi:
        feats = root.find("features")
        feats.remove(feats.find("acpi"))
    path = g.dir / "domain.xml"
    path.write_text(ET.tostring(root, encoding="unicode"))
    sb.virsh("define", str(path))
    if start:
        sb.virsh("start", name)
    return g


@pytest.fixture(scope="module")
def env(sandbox):
    hv = Hv(sandbox)
    _clean(sandbox)   # leftovers of an interrupted run on a kept sandbox
    for spec in (NAT, NAT2):
        path = sandbox.state_dir / ("%s.xml" % spec[0])
        path.write_text(net_xml(spec))
        sandbox.virsh("net-define", str(path))
        sandbox.virsh("net-start", spec[0])
    # The host bridge of the "bridge to LAN" scenarios: lan1 is its port
    # (lan1 and lan2 are both on the outside's LAN; never bridge them together).
    sandbox.run_hv(["ip", "link", "add", BRIDGE, "type", "bridge", "stp_state", "0", "forward_delay", "0"])
    sandbox.run_hv(["ip", "link", "set", "lan1", "master", BRIDGE])
    sandbox.run_hv(["ip", "link", "set", BRIDGE, "up"])
    # The same bridge as a libvirt network (seed 15.10.4's bond0-bridge).
    path = sandbox.state_dir / "vif-lan.xml"
    path.write_text("<network><name>vif-lan</name><forward mode='bridge'/><bridge name='%s'/></network>" % BRIDGE)
    sandbox.virsh("net-define", str(path))
    sandbox.virsh("net-start", "vif-lan")
    guests = {
        "a": define_guest(sandbox, "vif-a", [{"source": NAT[0], "mac": MAC_A, "alias": "ua-nat0"}]),
        "b": define_guest(sandbox, "vif-b", [{"type": "direct", "source": "lan2", "mode": "bridge", "mac": MAC_B,
                                              "alias": "ua-lan", "boot": 1}]),
    }
    hv.ip_a = guests["a"].wait_for_lease("eth0", timeout=90)
    hv.ip_b = guests["b"].wait_for_lease("eth0", timeout=90)
    hv.guests = guests
    yield hv
    _clean(sandbox)


def _clean(sandbox):
    for name in ("vif-a", "vif-b", "vif-c"):
        sandbox.virsh("destroy", name, check=False)
        sandbox.virsh("undefine", name, check=False)
    for net in (NAT[0], NAT2[0], "vif-lan"):
        sandbox.virsh("net-destroy", net, check=False)
        sandbox.virsh("net-undefine", net, check=False)
    sandbox.run_hv(["ip", "link", "set", "lan1", "nomaster"], check=False)
    sandbox.run_hv(["ip", "link", "del", BRIDGE], check=False)


# --------------------------------------------------------------------------
# hotplug, plug/unplug, delete (seed 15.6)
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hot(env):
    """A NIC hot-added to running vif-a on vif-nat2 (no MAC given: picked once from domain + alias)."""
    g = env.guests["a"]
    mark = len(g.console_log())
    check, applied, _again = env.converge("virt_iface", domain="vif-a", alias="ua-hot", type="network", source=NAT2[0])
    assert [a["kind"] for a in applied["actions"]] == ["attach", "define"]
    mac = applied["interface"]["live"]["mac"]
    assert mac.startswith("52:54:00:") and check["interface"]["config"]["mac"] == mac
    ifname = g.iface_of(mac, timeout=60)
    ip = g.wait_for_lease(ifname, timeout=90, after=mark)
    return {"mac": mac, "ifname": ifname, "ip": ip}


def test_hot_added_nic_gets_a_lease_and_info_shows_it(env, hot):
    assert in_range(hot["ip"], NAT2[3], NAT2[4])
    # In the config too, in the slot the running NIC got.
    live = env.iface_xml("vif-a", hot["mac"])
    config = env.iface_xml("vif-a", hot["mac"], inactive=True)
    assert config is not None and config.find("alias").get("name") == "ua-hot"
    assert config.find("address").attrib == live.find("address").attrib
    nic = env.nic_info("vif-a", hot["mac"])
    assert (nic["type"], nic["source"], nic["alias"], nic["link"], nic["model"]) == \
        ("network", NAT2[0], "ua-hot", "up", "virtio")
    assert re.fullmatch(r"vnet\d+", nic["host_dev"])
    assert nic["pci_address"] == "0000:00:%s.0" % live.find("address").get("slot")[2:]
    deadline = time.monotonic() + 20
    while hot["ip"] not in [a["address"] for a in nic["addresses"]] and time.monotonic() < deadline:
        time.sleep(1)
        nic = env.nic_info("vif-a", hot["mac"])
    assert {"address": hot["ip"], "prefix": 27, "family": "ipv4", "origin": "lease"} in nic["addresses"]


def test_unplug_and_plug_keep_the_lease(env, hot):
    g = env.guests["a"]
    mark = len(g.console_log())
    _c, applied, _a = env.converge("virt_iface", domain="vif-a", alias="ua-hot", link="down")
    assert [a["kind"] for a in applied["actions"]] == ["update", "define"]
    assert applied["restart_required"] is False
    g.wait_for(r"^VNSB LINK %s down" % hot["ifname"], timeout=30, after=mark)
    assert env.nic_info("vif-a", hot["mac"])["link"] == "down"
    env.converge("virt_iface", domain="vif-a", alias="ua-hot", link="up")
    g.wait_for(r"^VNSB LINK %s up" % hot["ifname"], timeout=30, after=mark)
    assert g.wait_for_lease(hot["ifname"], timeout=60, after=mark) == hot["ip"]


def test_delete_hot_unplugs_and_removes_from_config(env, hot):
    g = env.guests["a"]
    mark = len(g.console_log())
    _c, applied, again = env.converge("virt_iface", domain="vif-a", alias="ua-hot", state="absent")
    assert [a["kind"] for a in applied["actions"]] == ["detach", "undefine"]
    assert again["interface"] == {}
    g.wait_for(r"^VNSB NIC-REMOVED %s" % hot["ifname"], timeout=30, after=mark)
    assert env.iface_xml("vif-a", hot["mac"]) is None
    assert env.iface_xml("vif-a", hot["mac"], inactive=True) is None
    # The guest's first NIC is untouched.
    assert env.iface_xml("vif-a", MAC_A) is not None


# --------------------------------------------------------------------------
# bad inputs: named in the message, domain XML unchanged
# --------------------------------------------------------------------------

FWD = {"proto": "tcp", "ranges": [{"start": 8080}]}
BAD = [
    (dict(domain="vif-nope", alias="ua-x", type="network", source=NAT[0]), "domain='vif-nope': no such domain"),
    (dict(alias="ua-x", type="network", source="nonet"), "source='nonet': no libvirt network of that name"),
    (dict(mac="52:54:00:zz:00:01", type="network", source=NAT[0]), "mac='52:54:00:zz:00:01': not a MAC address"),
    (dict(mac="01:00:5e:00:00:01", type="network", source=NAT[0]), "is a multicast MAC address"),
    (dict(alias="ua-nat0", mac="52:54:00:f1:0a:99"), "can only change while domain vif-a is shut off"),
    (dict(mac=MAC_B, alias="ua-dup", type="network", source=NAT[0]), "already used by domain vif-b"),
    (dict(alias="web", type="network", source=NAT[0]), "alias='web': libvirt user aliases must start with 'ua-'"),
    (dict(alias="ua-a b", type="network", source=NAT[0]), "after 'ua-' only letters"),
    (dict(alias="ua-other", mac=MAC_A), "is the MAC of interface ua-nat0 of the config, not of ua-other"),
    (dict(alias="ua-x"), "alias='ua-x': no interface with this alias exists on domain vif-a; to create one, set type"),
    (dict(mac="52:54:00:f1:0a:77", link="down"), "mac='52:54:00:f1:0a:77': no interface with this MAC exists on "
                                                 "domain vif-a"),
    (dict(alias="ua-x", type="network"), "source=None: needed to create a new network interface (alias=ua-x: no "
                                         "interface with this alias exists on domain vif-a)"),
    (dict(alias="ua-nat0", type="network", source=NAT2[0], renew="restart"),
     "renew='restart': restarting the domain after a live move needs restart=true"),
    (dict(alias="ua-nat0", type="network", source=NAT2[0], renew_down_time=0),
     "renew_down_time=0: must be 1 to 300 seconds"),
    (dict(alias="ua-x", type="network", source=NAT[0], port_forwards=[FWD]),
     "only applies to type=user"),
    (dict(alias="ua-x", type="bridge", source=BRIDGE, mode="vepa"), "only applies to type=direct"),
    (dict(alias="ua-x", type="bridge", source="lan0"), "source='lan0': is not a bridge"),
    (dict(alias="ua-x", type="direct", source="nosuchdev"), "source='nosuchdev': no such interface on the host"),
    (dict(alias="ua-x", type="hostdev", source="zz:00"), "not a PCI address"),
    (dict(alias="ua-x", type="hostdev", source="0000:03:10.2", model="virtio"), "has no emulated model"),
    (dict(alias="ua-nat0", boot_order=0), "boot_order=0: boot order starts at 1"),
    (dict(alias="ua-x", type="hostdev", source="0000:03:10.2", vlan=5000), "vlan=5000: a VLAN tag is 1 to 4094"),
    (dict(alias="ua-x", type="user", ips=["192.0.2.1/24", "192.0.2.2/24"]), "at most one IPv4"),
    (dict(alias="ua-x", type="user", port_forwards=[{"proto": "tcp", "ranges": [{"start": 9000, "end": 8000}]}]),
     "port_forwards[0].ranges[0].end=8000: is below start=9000"),
    (dict(alias="ua-x", type="user", port_forwards=[{"proto": "tcp", "ranges": [{"start": 70000}]}]),
     "port_forwards[0].ranges[0].start=70000: port must be 1 to 65535"),
    (dict(alias="ua-x", type="user", port_forwards=[{"proto": "udp", "ranges": [
        {"start": 5000, "end": 5020}, {"start": 5015, "end": 5030, "exclude": True}]}]),
     "must lie inside a forwarded range"),
    (dict(alias="ua-x", type="user", port_forwards=[{"proto": "udp", "ranges": [
        {"start": 5000, "end": 5020}, {"start": 5010, "to": 80, "exclude": True}]}]), "drop 'to'"),
    (dict(alias="ua-x", type="user", port_forwards=[{"proto": "tcp", "ranges": [
        {"start": 5000, "exclude": True}]}]), "only excluded ranges"),
    (dict(alias="ua-x", type="user", port_forwards=[{"proto": "tcp", "ranges": [
        {"start": 65000, "end": 65100, "to": 65500}]}]), "would end past port 65535"),
    (dict(alias="ua-x", type="user", port_forwards=[{"proto": "tcp", "address": "not-an-ip", "ranges": [
        {"start": 8080}]}]), "port_forwards[0].address='not-an-ip': not an IP address"),
    (dict(type="network", source=NAT[0]), "one of the following is required: mac, alias"),
]


def test_bad_inputs_are_refused_by_name_and_change_nothing(env):
    before = env.sb.snapshot()
    for params in BAD:
        args, msg = params
        args = dict({"domain": "vif-a"}, **args)
        xml_before = env.dom_xml("vif-a")
        for check in (True, False):
            res = env.run("virt_iface", check=check, **args)
            assert res.get("failed"), (args, res)
            assert msg in res["msg"], (args, res["msg"])
        assert env.dom_xml("vif-a") == xml_before, args
    assert len(BAD) >= 20
    assert env.sb.snapshot() == before


# --------------------------------------------------------------------------
# bridge to LAN (seed 15.9) and replacing macvtap (15.9.3)
# --------------------------------------------------------------------------

def test_move_running_nic_from_nat_to_host_bridge(env):
    g = env.guests["a"]
    assert in_range(env.ip_a, NAT[3], NAT[4])
    # Identified by MAC here; source moved live, the guest is not restarted:
    # its link is bounced so it renews DHCP (the seed's "adjust the guest's
    # DHCP settings", 15.9), here with a short down time (udhcpc reacts to
    # every carrier change).
    mark = len(g.console_log())
    _c, applied, _a = env.converge("virt_iface", domain="vif-a", mac=MAC_A, type="bridge", source=BRIDGE,
                                   renew_down_time=2)
    assert [a["kind"] for a in applied["actions"]] == ["update", "define", "renew"]
    assert applied["restart_required"] is False and applied["renewed"] == "link_bounce"
    assert env.iface_xml("vif-a", MAC_A).find("source").get("bridge") == BRIDGE
    assert env.iface_xml("vif-a", MAC_A, inactive=True).get("type") == "bridge"
    link = env.sb.run_hv(["ip", "-o", "link", "show", "master", BRIDGE]).stdout
    assert env.nic_info("vif-a", MAC_A)["host_dev"] in link
    ip = g.wait_for_lease("eth0", timeout=90, after=mark)
    assert lan_ip(ip), ip
    assert env.sb.run_out(["ping", "-c", "1", "-W", "2", ip], check=False).returncode == 0
    # And onto the libvirt network in bridge mode over that bridge: live too;
    # the same LAN, so renew=none: the guest keeps its address and stays reachable.
    _c, applied, _a = env.converge("virt_iface", domain="vif-a", mac=MAC_A, type="network", source="vif-lan",
                                   renew="none")
    assert [a["kind"] for a in applied["actions"]] == ["update", "define"] and applied["renewed"] == "none"
    assert applied["interface"]["live"]["source"] == "vif-lan" and not applied["restart_required"]
    nic = env.nic_info("vif-a", MAC_A)
    assert (nic["type"], nic["source"]) == ("network", "vif-lan")
    assert nic["host_dev"] in env.sb.run_hv(["ip", "-o", "link", "show", "master", BRIDGE]).stdout
    assert env.sb.run_out(["ping", "-c", "1", "-W", "2", ip], check=False).returncode == 0
    # Unplug / plug on the network it was moved to (libvirt dumps that NIC
    # as type='bridge' with a network source).
    mark = len(g.console_log())
    env.converge("virt_iface", domain="vif-a", mac=MAC_A, link="down")
    g.wait_for(r"^VNSB LINK eth0 down", timeout=30, after=mark)
    env.converge("virt_iface", domain="vif-a", mac=MAC_A, link="up")
    assert g.wait_for_lease("eth0", timeout=60, after=mark) == ip
    assert env.sb.run_out(["ping", "-c", "3", "-W", "2", ip], check=False).returncode == 0


def test_mac_change_refused_while_running_then_done_shut_off(env):
    g = env.guests["b"]
    new = "52:54:00:f1:0b:02"
    before = env.dom_xml("vif-b")
    res = env.run("virt_iface", domain="vif-b", alias="ua-lan", mac=new)
    assert res.get("failed") and "mac='%s': the MAC of interface ua-lan" % new in res["msg"], res
    assert "can only change while domain vif-b is shut off (or set restart=true)" in res["msg"]
    assert env.dom_xml("vif-b") == before
    pci = env.iface_xml("vif-b", MAC_B, inactive=True).find("address").attrib
    env.sb.virsh("destroy", "vif-b")
    _c, applied, again = env.converge("virt_iface", domain="vif-b", alias="ua-lan", mac=new)
    assert [a["kind"] for a in applied["actions"]] == ["define"]
    assert again["interface"]["running"] is False and again["interface"]["live"] is None
    nic = env.iface_xml("vif-b", new, inactive=True)
    assert nic is not None and nic.find("address").attrib == pci
    assert env.iface_xml("vif-b", MAC_B, inactive=True) is None
    # And back, so the next test finds the guest as it was.
    env.converge("virt_iface", domain="vif-b", alias="ua-lan", mac=MAC_B)
    env.sb.virsh("start", "vif-b")
    g.wait_for(r"^VNSB NIC eth0 %s" % MAC_B, timeout=60)


def test_macvtap_replaced_by_bridge_keeps_mac_pci_and_boot_order(env):
    g = env.guests["b"]
    before = env.nic_info("vif-b", MAC_B)
    assert (before["type"], before["source"], before["boot_order"]) == ("direct", "lan2", 1)
    assert re.fullmatch(r"macvtap\d+", before["host_dev"])
    g.wait_for_lease("eth0", timeout=90)
    # macvtap -> bridge cannot change live: with restart=true the module
    # restarts the guest (destroyed after the timeout: it ignores ACPI shutdown).
    check, applied, again = env.converge("virt_iface", domain="vif-b", alias="ua-lan", type="bridge", source=BRIDGE,
                                         restart=True, restart_timeout=3)
    assert [a["kind"] for a in applied["actions"]] == ["define", "restart"]
    assert "restarted" in applied and "restarted" not in check
    after = env.nic_info("vif-b", MAC_B)
    assert (after["type"], after["source"], after["mac"]) == ("bridge", BRIDGE, MAC_B)
    assert (after["pci_address"], after["boot_order"], after["alias"]) == (before["pci_address"], 1, "ua-lan")
    assert re.fullmatch(r"vnet\d+", after["host_dev"])
    ip = g.wait_for_lease("eth0", timeout=90)
    assert lan_ip(ip)
    assert env.sb.run_out(["ping", "-c", "1", "-W", "2", ip], check=False).returncode == 0


def test_non_live_change_is_reported_as_restart_required(env):
    _c, applied, again = env.converge("virt_iface", domain="vif-b", alias="ua-lan", model="e1000")
    assert [a["kind"] for a in applied["actions"]] == ["define"]
    assert applied["restart_required"] is True and applied["pending"] == ["model"]
    assert again["restart_required"] is True and again["changed"] is False
    assert applied["interface"]["config"]["model"] == "e1000"
    assert applied["interface"]["live"]["model"] == "virtio"
    env.converge("virt_iface", domain="vif-b", alias="ua-lan", model="virtio")


# --------------------------------------------------------------------------
# passt (seed 15.11) and a guest without ACPI
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def guest_c(env):
    return define_guest(env.sb, "vif-c", [], acpi=False, start=False)


def test_passt_port_forward_reaches_the_guest(env, guest_c):
    daemon = re.search(r"Running against daemon: (\d+)\.", env.virsh("version", "--daemon"))
    if daemon and int(daemon.group(1)) < 10:
        pytest.skip("passt needs libvirt >= 10 (bookworm-backports): Debian built bookworm's libvirt 9.0 "
                    "without the passt backend")
    if not env.sb.run_hv(["sh", "-c", "command -v passt"], check=False).stdout.strip():
        pytest.skip("passt is not installed on the sandbox hypervisor")
    _c, applied, _a = env.converge("virt_iface", domain="vif-c", alias="ua-passt", type="user", port_forwards=[
        {"proto": "tcp", "ranges": [{"start": 18080, "to": 80}]}])
    assert [a["kind"] for a in applied["actions"]] == ["define"]   # shut off: config only
    off = env.info("vif-c")
    assert off["running"] is False and off["interfaces"][0]["host_dev"] is None
    assert off["interfaces"][0]["alias"] == "ua-passt" and off["interfaces"][0]["addresses"] == []
    started = env.sb.virsh("start", "vif-c", check=False)
    if "passt" in started.stderr and "Invalid value" in started.stderr:
        pytest.skip("this libvirt has no passt backend: %s" % started.stderr.strip())
    assert started.returncode == 0, started.stderr
    guest_c.wait_for_lease("eth0", timeout=90)
    firewalld = vnsb.SHAPES[env.sb.live_shape]["firewalld"]
    if firewalld:
        # RHEL 9 shape: passt listens on the host, and firewalld's public zone
        # (the uplink's) admits no such port: closed until the admin opens it.
        time.sleep(3)
        shut = env.sb.run_out(["curl", "-sS", "-m", "5", "http://198.51.100.2:18080/"], check=False)
        assert "VNSB-HOST vif-c" not in shut.stdout
        env.sb.run_hv(["firewall-cmd", "--add-port=18080/tcp"], check=True)
    try:
        page = ""
        deadline = time.monotonic() + 30
        while "VNSB-HOST vif-c" not in page and time.monotonic() < deadline:
            page = env.sb.run_out(["curl", "-sS", "-m", "5", "http://198.51.100.2:18080/"], check=False).stdout
    finally:
        if firewalld:
            env.sb.run_hv(["firewall-cmd", "--remove-port=18080/tcp"], check=True)
    assert "VNSB-HOST vif-c" in page
    nic = env.nic_info("vif-c", applied["interface"]["config"]["mac"])
    assert nic["backend"] == "passt" and nic["port_forwards"] == [{"proto": "tcp", "ranges": [
        {"start": 18080, "to": 80}]}]


def test_hotplug_without_acpi_is_refused(env, guest_c):
    if env.virsh("domstate", "vif-c").strip() != "running":
        env.sb.virsh("start", "vif-c")
    before = env.dom_xml("vif-c")
    res = env.run("virt_iface", domain="vif-c", alias="ua-late", type="network", source=NAT[0])
    assert res.get("failed")
    assert "cannot hot-plug interface ua-late" in res["msg"] and "has no ACPI" in res["msg"], res["msg"]
    assert env.dom_xml("vif-c") == before
