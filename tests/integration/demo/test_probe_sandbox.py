"""The demo's reachability table measured on a real sandbox (instance `n8`):
the five connection types of seed 15.5 measured with real packets agree with
the seed's Table 15.1, and the table follows the host's firewall when it is
broken or tightened (proof that the cells are measured, not constants)."""
from __future__ import annotations

import os
import sys
import xml.etree.ElementTree as ET

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "playbooks", "demo"))

import probe  # noqa: E402
import vnsb  # noqa: E402

DNSMASQ_NS = "http://libvirt.org/schemas/network/dnsmasq/1.0"
# mode -> (forward mode, bridge, gateway) on /26 slices of 192.0.2.0/24
LAB = {
    "nat": ("nat", "virbr-nat", "192.0.2.1"),
    "routed": ("route", "virbr-routed", "192.0.2.65"),
    "isolated": (None, "virbr-iso", "192.0.2.129"),
    "open": ("open", "virbr-open", "192.0.2.193"),
}


def _network_xml(name: str, mode: str) -> str:
    """The probe's subject, defined straight through libvirt so that this test
    depends on the sandbox only (the playbooks have their own tests)."""
    ET.register_namespace("dnsmasq", DNSMASQ_NS)
    net = ET.Element("network")
    ET.SubElement(net, "name").text = name
    if mode == "bridged":
        ET.SubElement(net, "forward", mode="bridge")
        ET.SubElement(net, "bridge", name="br-lan")
    else:
        fwd, bridge, gw = LAB[mode]
        if fwd:
            ET.SubElement(net, "forward", mode=fwd)
        ET.SubElement(net, "bridge", name=bridge, stp="off", delay="0")
        ip = ET.SubElement(net, "ip", address=gw, prefix="26")
        base = int(gw.rsplit(".", 1)[1])
        dhcp = ET.SubElement(ip, "dhcp")
        ET.SubElement(dhcp, "range", start=f"192.0.2.{base + 9}", end=f"192.0.2.{base + 39}")
        opts = ET.SubElement(net, f"{{{DNSMASQ_NS}}}options")
        ET.SubElement(opts, f"{{{DNSMASQ_NS}}}option", value="no-ping")
    return ET.tostring(net, encoding="unicode")


@pytest.fixture(scope="module")
def lab(sandbox_factory, tmp_path_factory):
    sb = sandbox_factory.get("n8")
    tmp = tmp_path_factory.mktemp("lab")
    sb.run_hv(["ip", "link", "add", "br-lan", "type", "bridge", "stp_state", "0", "forward_delay", "0"],
              check=True)
    sb.run_hv(["ip", "link", "set", "lan1", "master", "br-lan"], check=True)
    sb.run_hv(["ip", "link", "set", "br-lan", "up"], check=True)
    for mode in probe.MODES:
        name = probe.DEFAULT_NETWORKS[mode]
        (tmp / f"{name}.xml").write_text(_network_xml(name, mode))
        sb.virsh("net-create", str(tmp / f"{name}.xml"))
    nets = probe.read_lab(sb)
    probe.lan_routes(sb, nets)
    guests = probe.start_guests(sb, nets)
    yield sb, nets, guests
    probe.stop_guests(sb)


def test_measured_table_agrees_with_seed_table_15_1(lab):
    sb, nets, guests = lab
    res = probe.measure(sb, nets, guests)
    assert probe.differences(res) == [], probe.format_table(res)
    if vnsb.SHAPES[sb.live_shape]["firewalld"]:
        # firewalld (RHEL 9 shape): libvirt zones no open bridge, so it is in
        # firewalld's default zone (public). Measured: the guests' DHCP to the
        # host is refused, ping to the host and between guests works, nothing
        # is forwarded to or from the LAN.
        assert res["table"]["open"] == {"host": True, "guests": True, "outside": False, "visible": False}
        assert res["no_dhcp_lease"] == ["open"]
    else:
        # No host firewall of its own in the sandbox: open mode lets everything through.
        assert res["table"]["open"] == {"host": True, "guests": True, "outside": True, "visible": True}
        assert res["no_dhcp_lease"] == []
    # The addresses the probes used are the guests' real leases in each subnet.
    assert res["addresses"]["nat"]["guest_a"].startswith("192.0.2.")
    assert res["addresses"]["bridged"]["guest_a"].startswith("198.51.100.")


def test_host_firewall_closes_the_open_network(lab):
    """Seed: open mode 'depends on the host's firewall rules'. A host rule that
    rejects forwarding into the open bridge makes the guest invisible."""
    sb, nets, guests = lab
    if vnsb.SHAPES[sb.live_shape]["firewalld"]:
        # Closed already (see above); the firewall opens it: the open bridge
        # in the zone libvirt gives routed networks (libvirt-routed, whose
        # policies forward both ways) makes the guest visible from the LAN.
        assert probe.measure(sb, nets, guests)["table"]["open"]["visible"] is False
        sb.run_hv(["firewall-cmd", "--zone=libvirt-routed", "--add-interface=virbr-open"], check=True)
        try:
            res = probe.measure(sb, nets, guests)
        finally:
            sb.run_hv(["firewall-cmd", "--zone=libvirt-routed", "--remove-interface=virbr-open"], check=True)
        assert res["table"]["open"]["visible"] is True, probe.format_table(res)
        assert probe.differences(res) == []
        assert probe.measure(sb, nets, guests)["table"]["open"]["visible"] is False
        return
    rule = ["FORWARD", "-o", "virbr-open", "-j", "REJECT"]
    sb.run_hv(["iptables", "-I", *rule], check=True)
    try:
        res = probe.measure(sb, nets, guests)
    finally:
        sb.run_hv(["iptables", "-D", *rule], check=True)
    assert res["table"]["open"]["visible"] is False
    assert res["table"]["open"]["host"] is True
    assert probe.differences(res) == []
    assert probe.measure(sb, nets, guests)["table"]["open"]["visible"] is True


def _masquerade_rules(sb: vnsb.Sandbox, subnet: str) -> list[list[str]]:
    """libvirt's MASQUERADE rules for `subnet` (iptables backend), as argv to delete them."""
    out = sb.run_hv(["iptables", "-t", "nat", "-S"], check=True).stdout
    return [["iptables", "-t", "nat", "-D", *line.split()[1:]] for line in out.splitlines()
            if line.startswith("-A ") and "MASQUERADE" in line and f"-s {subnet}" in line]


def _nft_masquerade_handles(sb: vnsb.Sandbox) -> list[list[str]]:
    out = sb.run_hv(["nft", "-a", "list", "table", "ip", "libvirt_network"]).stdout
    cmds, chain = [], None
    for line in out.splitlines():
        s = line.split()
        if s[:1] == ["chain"]:
            chain = s[1]
        elif "masquerade" in s and "handle" in s:
            cmds.append(["nft", "delete", "rule", "ip", "libvirt_network", chain,
                         "handle", s[s.index("handle") + 1]])
    return cmds


def test_deleting_the_masquerade_rule_cuts_nat_guests_off(lab):
    """Seed 15.3.1: NAT is IP masquerading done by firewall rules. Delete the
    rules in the hypervisor and the NAT row's 'to outside' turns to no, while
    every other cell stays as it was. (Runs last: the rules are restored by
    restarting nothing; the fixture's guests are thrown away afterwards.)"""
    sb, nets, guests = lab
    before = probe.measure(sb, nets, guests)
    assert before["table"]["nat"]["outside"] is True
    cmds = _masquerade_rules(sb, nets["nat"].subnet) + _nft_masquerade_handles(sb)
    assert cmds, "no masquerade rule found for the NAT network"
    for argv in cmds:
        sb.run_hv(argv, check=True)
    sb.run_hv(["conntrack", "-F"])  # forget NAT mappings of earlier probes, if the tool is there
    after = probe.measure(sb, nets, guests)
    assert after["table"]["nat"]["outside"] is False
    assert probe.differences(after) == ["nat / to outside: measured no, RHEL says YES"]
    changed = {(m, c) for m in probe.MODES for c, _title in probe.COLUMNS
               if before["table"][m][c] != after["table"][m][c]}
    assert changed == {("nat", "outside")}
