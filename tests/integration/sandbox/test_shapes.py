"""The sandbox's RHEL-shaped hypervisors (issue 16) are what they claim to be:
rhel10 runs the network driver in a daemon of its own behind the modular
sockets and writes nftables rules; rhel9 runs firewalld, which puts libvirt's
bridges into its ``libvirt`` zone. Each test starts its own instance with an
explicit shape, whatever VIRTNET_SANDBOX_SHAPE says."""
from __future__ import annotations

import os

import pytest

import vnsb

from test_sandbox import lab_network_xml


def _up(shape: str, suffix: str) -> vnsb.Sandbox:
    reason = vnsb.missing_requirements(shape=shape)
    if reason:
        pytest.skip(reason)
    sb = vnsb.Sandbox("t%d%s%s" % (os.getpid(), suffix, os.environ.get("PYTEST_XDIST_WORKER", "")),
                      shape=shape)
    sb.up()
    return sb


@pytest.fixture
def rhel10():
    sb = _up("rhel10", "r10")
    yield sb
    sb.down(quiet=True)


@pytest.fixture
def rhel9():
    sb = _up("rhel9", "r9")
    yield sb
    sb.down(quiet=True)


def test_rhel10_network_driver_is_its_own_daemon_and_writes_nftables(rhel10, tmp_path):
    sb = rhel10
    assert sb.uri.endswith("/run/libvirt/virtqemud-sock")
    (tmp_path / "n.xml").write_text(lab_network_xml("shapenat", "virbr-shape"))
    sb.virsh("net-create", str(tmp_path / "n.xml"))
    # libvirt's own nftables table carries the network; no iptables chain of libvirt
    nft = sb.run_hv(["nft", "list", "table", "ip", "libvirt_network"], check=True).stdout
    assert "virbr-shape" in nft and "masquerade" in nft
    assert "LIBVIRT_" not in sb.run_hv(["iptables-save"]).stdout
    # A guest on the network: the qemu daemon asks virtnetworkd for the port.
    g = sb.start_guest("shapeg", [{"type": "network", "source": "shapenat"}])
    assert g.wait_for_lease("eth0", timeout=120).startswith("192.0.2.")
    # Networks live in virtnetworkd only: with it gone, network calls through
    # qemu:///system fail while domain calls still work; back, they work again.
    net_pid = sb.meta["pids"]["virtnetworkd"]["pid"]
    assert net_pid != sb.meta["pids"]["virtqemud"]["pid"]
    vnsb._kill_pids([net_pid])
    assert sb.virsh("net-list", check=False, timeout=20).returncode != 0
    assert "shapeg" in sb.virsh("list", "--name").stdout
    sb.restart_libvirtd()
    assert "shapenat" in sb.virsh("net-list", "--name").stdout


def test_rhel9_firewalld_puts_libvirt_bridges_in_the_libvirt_zone(rhel9, tmp_path):
    sb = rhel9
    assert sb.run_hv(["firewall-cmd", "--state"]).stdout.strip() == "running"
    (tmp_path / "n.xml").write_text(lab_network_xml("shapefw", "virbr-fw"))
    sb.virsh("net-create", str(tmp_path / "n.xml"))
    zone = sb.run_hv(["firewall-cmd", "--get-zone-of-interface=virbr-fw"]).stdout.strip()
    assert zone == "libvirt"
    # the uplink is in firewalld's default zone, as on a fresh RHEL 9 host
    assert sb.run_hv(["firewall-cmd", "--get-default-zone"]).stdout.strip() == "public"
    g = sb.start_guest("shapefwg", [{"type": "network", "source": "shapefw"}])
    assert g.wait_for_lease("eth0", timeout=120).startswith("192.0.2.")
