"""libvirt.host: the hypervisor's routes and links from an injectable root,
and whether libvirt is local."""

import netaddr

from ansible_collections.virtnet.networking.plugins.module_utils.fsroot import FsRoot
from ansible_collections.virtnet.networking.plugins.module_utils.libvirt import host as lh
from ansible_collections.virtnet.networking.plugins.module_utils.network import bridge as nh


ROUTE = """Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
lan0\t00000000\t016433C6\t0003\t0\t0\t0\t00000000\t0\t0\t0
lan0\t006433C6\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
virbr1\t807100CB\t00000000\t0001\t0\t0\t0\tE0FFFFFF\t0\t0\t0
"""


ROUTE6 = (
    "20010db8010000000000000000000000 40 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 00000100 00000001 00000000 00000001     lan0\n"
    "fe800000000000000000000000000000 40 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 00000100 00000001 00000000 00000001     lan0\n"
    "00000000000000000000000000000001 80 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 00000000 00000001 00000000 00200001       lo\n"
)


def fake_root(tmp_path):
    (tmp_path / "proc/net").mkdir(parents=True)
    (tmp_path / "proc/net/route").write_text(ROUTE)
    (tmp_path / "proc/net/ipv6_route").write_text(ROUTE6)
    for name, bridge in (("lan0", False), ("br0", True), ("virbr1", True)):
        d = tmp_path / "sys/class/net" / name
        d.mkdir(parents=True)
        if bridge:
            (d / "bridge").mkdir()
    return FsRoot(str(tmp_path))


def test_read_routes(tmp_path):
    routes = lh.read_routes(fake_root(tmp_path))
    assert routes == [
        (netaddr.IPNetwork("0.0.0.0/0"), "lan0"),
        (netaddr.IPNetwork("198.51.100.0/24"), "lan0"),
        (netaddr.IPNetwork("203.0.113.128/27"), "virbr1"),
        (netaddr.IPNetwork("2001:db8:100::/64"), "lan0"),
    ]


def test_read_links(tmp_path):
    assert lh.read_links(fake_root(tmp_path)) == {"br0": True, "lan0": False, "virbr1": True}
    assert lh.read_links(FsRoot(str(tmp_path / "nothing"))) is None


def test_a_host_with_bonding_loaded_lists_its_interfaces_only(tmp_path):
    """bonding.ko puts a plain file, bonding_masters, in /sys/class/net; it
    is no interface (reading it as one failed every virt_network run on a
    Debian host with the module loaded: 'Not a directory: .../bonding_masters/brif')."""
    fs = fake_root(tmp_path)
    (tmp_path / "sys/class/net/bonding_masters").write_text("bond0\n")
    assert lh.read_links(fs) == {"br0": True, "lan0": False, "virbr1": True}
    assert fs.listdir("/sys/class/net/bonding_masters/brif") == []
    assert nh.read_link(fs, "bonding_masters") is None
    assert nh.read_link(fs, "br0").kind == "bridge"


def test_is_local():
    assert lh.is_local("qemu:///system")
    assert lh.is_local("qemu:///system?socket=/run/x/libvirt-sock")
    assert not lh.is_local("qemu+ssh://root@hv1/system")
