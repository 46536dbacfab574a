"""pxe_network against the sandbox hypervisor: a real libvirt network whose
real dnsmasq serves the TFTP root the module prepared, and a TCG guest with
no kernel of its own that boots from it through iPXE (seed 15.8.1-15.8.2).

The modules run on the hypervisor itself (nsenter into its namespaces), as
they do under Ansible: the TFTP root is written where the module runs and
the TFTP verification talks to the network's address from there.  Lab
subnet: 203.0.113.128/27 (and .160/27 for the second network).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest
from lxml import etree

from virtnet_testlib import ANSIBLE_BIN, Hv

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "sandbox"))
import vnsb  # noqa: E402

NET = "vn5pxe"
NET2 = "vn5both"
ADDR = "203.0.113.129/27"
RANGE = ("203.0.113.140", "203.0.113.150")
ADDR2 = "203.0.113.161/27"
RANGE2 = ("203.0.113.170", "203.0.113.180")


def net_args(name=NET, address=ADDR, rng=RANGE, **extra):
    return dict(name=name, forward={"mode": "nat"}, bridge={"stp": False},
                ips=[{"address": address, "dhcp": {"ranges": [{"start": rng[0], "end": rng[1]}]}}],
                dnsmasq_options=["no-ping"], **extra)


def listing(path):
    """Every entry below ``path`` with mode, owner and size: what a "nothing
    changed on disk" assertion compares."""
    out = {}
    if not os.path.lexists(path):
        return None
    for dirpath, dirs, files in os.walk(path):
        for n in sorted(dirs + files):
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            out[os.path.relpath(p, path)] = (st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns)
    st = os.lstat(path)
    out["."] = (st.st_mode, st.st_uid, st.st_gid)
    return out


def pxe_guest(hv, name, *, iface_type="network", source, boot_via="xml"):
    """A persistent guest with no kernel of its own whose only NIC has boot
    order 1 (seed 15.8.2 / 15.8.3), started: SeaBIOS -> the NIC's iPXE ROM
    -> DHCP -> the boot file.  ``boot_via="xml"`` writes the boot order into
    the domain XML; ``"virt_iface"`` defines the guest without any boot
    element (libvirt adds <os><boot dev='hd'/>, as for any VM created without
    boot settings) and lets virt_iface set it, converting that boot list."""
    sb = hv.sb
    mac = vnsb.random_mac(name)
    nic = {"type": iface_type, "source": source, "mac": mac, "boot_order": 1 if boot_via == "xml" else None}
    g = sb.define_guest(name, [nic], netboot=True)
    if boot_via == "virt_iface":
        dom = etree.fromstring(hv.virsh("dumpxml", "--inactive", name).encode())
        assert [b.get("dev") for b in dom.findall("os/boot")] == ["hd"]
        _c, applied, _a = hv.converge("virt_iface", domain=name, mac=mac, boot_order=1)
        assert [a["kind"] for a in applied["actions"]] == ["define"]
        assert "converted the os boot list (<boot dev='hd'/>)" in applied["actions"][0]["summary"]
    dom = etree.fromstring(hv.virsh("dumpxml", "--inactive", name).encode())
    assert dom.find("os/kernel") is None and dom.find("os/boot") is None
    assert dom.find("devices/interface/boot").get("order") == "1"
    sb.virsh("start", name)
    return g


@pytest.fixture(scope="module")
def hv(sandbox):
    h = Hv(sandbox)
    yield h
    for name in h.virsh("list", "--all", "--name").split():
        if name.startswith("vn5"):
            sandbox.virsh("destroy", name, check=False)
            sandbox.virsh("undefine", name, check=False)
    for name in h.virsh("net-list", "--all", "--name").split():
        if name.startswith("vn5"):
            h.virsh("net-destroy", name)
            h.virsh("net-undefine", name)


@pytest.fixture(scope="module")
def tftp_dir(sandbox):
    base = sandbox.state_dir / "pxe-test"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir()
    os.chmod(base, 0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def pxe_net(hv):
    r = hv.run("virt_network", **net_args())
    assert not r.get("failed"), r
    return NET


def boot_args(tftp_dir, name="vn5g1", **extra):
    img = vnsb.guest_image()
    return dict(name=NET, tftp_root=str(tftp_dir / "root"),
                boot_files=[{"name": "boot.ipxe", "content": vnsb.ipxe_script(name)},
                            {"name": "vmlinuz", "src": str(img.kernel)},
                            {"name": "initrd.gz", "src": str(img.initrd)}],
                bootp_file="boot.ipxe", restart=True, **extra)


# --------------------------------------------------------------------------
# check -> apply -> again, served over TFTP, and a guest boots from it
# --------------------------------------------------------------------------

def test_converge_verify_and_network_boot(hv, pxe_net, tftp_dir):
    args = boot_args(tftp_dir, verify=True)
    check, applied, again = hv.converge("pxe_network", **args)
    kinds = [a["kind"] for a in applied["actions"]]
    assert kinds == ["mkdir", "copy", "copy", "copy", "define", "restart"], kinds
    assert applied["selinux"].startswith("skipped: SELinux is not enabled")
    pxe = applied["pxe"]
    assert pxe["tftp_root"] == str(tftp_dir / "root")
    assert pxe["bootp"] == {"file": "boot.ipxe", "server": None}
    assert pxe["root"]["mode"] == "0755" and pxe["root"]["owner"] == "nobody"
    assert all(f["mode"] == "0644" and f["owner"] == "nobody" for f in pxe["files"])
    # On disk, as dnsmasq (user nobody) needs it; nothing world-writable.
    st = os.stat(tftp_dir / "root")
    assert oct(st.st_mode & 0o777) == "0o755"
    assert oct(os.stat(tftp_dir / "root" / "vmlinuz").st_mode & 0o777) == "0o644"
    # libvirt's definition and the running dnsmasq's config carry it.
    xml = etree.fromstring(hv.virsh("net-dumpxml", NET).encode())
    assert xml.find("ip/tftp").get("root") == str(tftp_dir / "root")
    assert xml.find("ip/dhcp/bootp").get("file") == "boot.ipxe"
    # The proof: every file fetched over TFTP from 203.0.113.129 matches.
    for res in (applied, again):
        assert [(v["name"], v["served"], v["match"]) for v in res["verified"]] == [
            ("boot.ipxe", True, True), ("vmlinuz", True, True), ("initrd.gz", True, True)]
    img = vnsb.guest_image()
    assert applied["verified"][1]["size"] == os.path.getsize(img.kernel)

    # A guest with no kernel of its own, given boot order 1 on its NIC by
    # virt_iface (which converts libvirt's default <os><boot dev='hd'/>).
    g = pxe_guest(hv, "vn5g1", source=NET, boot_via="virt_iface")
    t0 = time.monotonic()
    try:
        ip = g.wait_for_lease("eth0", timeout=120)
        took = time.monotonic() - t0
        print("PXE boot to lease: %.1f s" % took)
        assert ip.startswith("203.0.113.1") and RANGE[0] <= ip <= RANGE[1], ip
        assert g.events("BOOTED") and g.events("BOOTED")[0][1] == "vn5g1"
    finally:
        g.destroy()


def test_restart_not_allowed_reports_pending_and_verify_names_the_stale_file(hv, pxe_net, tftp_dir):
    """A new TFTP root without restart: the definition changes, dnsmasq still
    serves the old root, and verification says so (a different boot.ipxe is
    served); allowing the restart fixes it."""
    args = boot_args(tftp_dir, name="vn5g2")
    args.update(tftp_root=str(tftp_dir / "root2"), restart=False)
    r = hv.run("pxe_network", **args)
    assert not r.get("failed"), r
    assert r["changed"] and r["restart_required"] is True and r["pending"] == ["tftp root"]
    again = hv.run("pxe_network", **args)
    assert again["changed"] is False and again["restart_required"] is True
    bad = hv.run("pxe_network", verify=True, **args)
    assert bad.get("failed"), bad
    assert "does not serve the boot files as configured" in bad["msg"]
    assert re.search(r"boot\.ipxe: served \d+ bytes sha256 \w+, expected \d+ bytes", bad["msg"]), bad["msg"]
    assert "restart pending: tftp root" in bad["msg"]
    boot = {v["name"]: v for v in bad["verified"]}
    assert boot["boot.ipxe"]["served"] and not boot["boot.ipxe"]["match"]
    assert boot["vmlinuz"]["match"]  # same kernel in both roots
    # pxe_network_info sees the same: definition ahead of dnsmasq, stale file served.
    info = hv.run("pxe_network_info", name=NET, fetch=True)
    assert not info.get("failed") and info["changed"] is False, info
    (entry,) = info["pxe_networks"]
    assert entry["restart_pending"] is True and entry["tftp_root"] == str(tftp_dir / "root2")
    assert entry["file"]["exists"] and entry["served"]["served"] and entry["served"]["match"] is False
    args["restart"] = True
    ok = hv.run("pxe_network", verify=True, **args)
    assert not ok.get("failed"), ok
    assert [a["kind"] for a in ok["actions"]] == ["restart"]
    assert all(v["match"] for v in ok["verified"])
    assert ok["restart_required"] is False
    (entry,) = hv.run("pxe_network_info", name=NET, fetch=True)["pxe_networks"]
    assert entry["restart_pending"] is False and entry["bootp"] == {"file": "boot.ipxe", "server": None}
    assert entry["served"] == {"server": "203.0.113.129", "served": True, "size": entry["file"]["size"],
                               "sha256": entry["file"]["sha256"], "match": True}
    assert hv.run("pxe_network_info", name="vn5nope")["pxe_networks"] == []


# --------------------------------------------------------------------------
# virt_network and pxe_network on one network: no flapping
# --------------------------------------------------------------------------

def test_both_modules_share_a_network_without_flapping(hv, tftp_dir):
    net = net_args(NET2, ADDR2, RANGE2)
    pxe = dict(name=NET2, tftp_root=str(tftp_dir / "both"), boot_files=[{"name": "a.ipxe", "content": "#!ipxe\n"}],
               bootp_file="a.ipxe", restart=True)
    # virt_network first, then pxe_network, then each again.
    assert hv.run("virt_network", **net)["changed"] is True
    assert hv.run("pxe_network", **pxe)["changed"] is True
    for _round in range(2):
        r = hv.run("virt_network", **net)
        assert r["changed"] is False and r["restart_required"] is False, r
        r = hv.run("pxe_network", **pxe)
        assert r["changed"] is False and r["restart_required"] is False, r
    # virt_network changes the network (a redefine + restart): the PXE part stays.
    net["mtu"] = 1400
    net["restart"] = True
    r = hv.run("virt_network", **net)
    assert r["changed"] and "restart" in [a["kind"] for a in r["actions"]], r
    assert hv.run("pxe_network", **pxe)["changed"] is False
    xml = etree.fromstring(hv.virsh("net-dumpxml", "--inactive", NET2).encode())
    assert xml.find("ip/dhcp/bootp").get("file") == "a.ipxe"
    assert xml.find("mtu").get("size") == "1400"
    # pxe_network changes its part (then virt_network runs): the rest stays.
    pxe["bootp_file"] = "b.ipxe"
    pxe["boot_files"].append({"name": "b.ipxe", "content": "#!ipxe\n"})
    r = hv.run("pxe_network", **pxe)
    assert r["changed"] and [a["kind"] for a in r["actions"]] == ["copy", "define", "restart"], r
    for _round in range(2):
        assert hv.run("virt_network", **net)["changed"] is False
        assert hv.run("pxe_network", **pxe)["changed"] is False
    live = etree.fromstring(hv.virsh("net-dumpxml", NET2).encode())
    assert live.find("ip/dhcp/bootp").get("file") == "b.ipxe"
    assert live.find("mtu").get("size") == "1400"
    # state=absent removes only what pxe_network owns.
    r = hv.run("pxe_network", name=NET2, state="absent", restart=True)
    assert r["changed"] and r["pxe"]["tftp_root"] is None and r["pxe"]["bootp"] is None
    assert hv.run("virt_network", **net)["changed"] is False
    assert (tftp_dir / "both" / "b.ipxe").exists()  # files are left on disk


# --------------------------------------------------------------------------
# every combination of the two modules' DHCP settings, as a playbook runs
# them: tasks in sequence, both orders, repeated; no restart once settled
# --------------------------------------------------------------------------

MIX = "vn5mix"
MIX_ADDR = "203.0.113.193/27"
MIX_VIRT_RANGE = {"start": "203.0.113.200", "end": "203.0.113.210"}
MIX_PXE_RANGE = {"start": "203.0.113.215", "end": "203.0.113.220"}


def mix_tasks(tftp_dir, virt_dhcp, pxe_range):
    ip = {"address": MIX_ADDR}
    if virt_dhcp == "ranges":
        ip["dhcp"] = {"ranges": [MIX_VIRT_RANGE]}
    elif virt_dhcp == "same":
        ip["dhcp"] = {"ranges": [MIX_PXE_RANGE]}
    elif virt_dhcp == "hosts":
        ip["dhcp"] = {"hosts": [{"mac": "52:54:00:5e:00:01", "ip": "203.0.113.199"}]}
    virt = dict(name=MIX, forward={"mode": "nat"}, bridge={"stp": False}, ips=[ip], dnsmasq_options=["no-ping"],
                restart=True)
    pxe = dict(name=MIX, tftp_root=str(tftp_dir / "mix"), boot_files=[{"name": "m.ipxe", "content": "#!ipxe\n"}],
               bootp_file="m.ipxe", restart=True)
    if pxe_range:
        pxe["dhcp_range"] = MIX_PXE_RANGE
    elif virt_dhcp == "none":
        del pxe["bootp_file"]   # no DHCP at all: only the TFTP root (a boot file is refused, see below)
    return virt, pxe


def dnsmasq_and_bridge(hv):
    """(dnsmasq PID, bridge ifindex): both change when the network restarts."""
    pid = (hv.sb.state_dir / "run" / "libvirt" / "network" / (MIX + ".pid")).read_text().strip()
    bridge = etree.fromstring(hv.virsh("net-dumpxml", MIX).encode()).find("bridge").get("name")
    link = hv.sb.run_hv(["ip", "-o", "link", "show", bridge], check=True).stdout
    return int(pid), int(link.split(":")[0])


def served_ranges(hv):
    live = etree.fromstring(hv.virsh("net-dumpxml", MIX).encode())
    return [(r.get("start"), r.get("end")) for r in live.findall("ip/dhcp/range")]


@pytest.fixture
def mix_net(hv):
    hv.virsh("net-destroy", MIX)
    hv.virsh("net-undefine", MIX)
    yield MIX
    hv.virsh("net-destroy", MIX)
    hv.virsh("net-undefine", MIX)


@pytest.mark.parametrize("order", ["virt-first", "pxe-first"])
@pytest.mark.parametrize("virt_dhcp,pxe_range", [("none", False), ("none", True), ("hosts", True),
                                                 ("ranges", False), ("same", True)])
def test_virt_network_and_pxe_network_settle_in_every_combination(hv, tftp_dir, mix_net, virt_dhcp, pxe_range,
                                                                  order):
    """virt_network's ips (without DHCP, with static hosts only, with a range)
    and pxe_network (with and without dhcp_range) on one running network: the
    first pass may change things, the next two change nothing and do not
    restart the network (same dnsmasq, same bridge), and dnsmasq serves the
    range of the module that owns it."""
    virt, pxe = mix_tasks(tftp_dir, virt_dhcp, pxe_range)
    r = hv.run("virt_network", **virt)   # the network, as the user's virt_network task made it
    assert not r.get("failed") and r["network"]["active"], r
    tasks = [("virt_network", virt), ("pxe_network", pxe)]
    if order == "pxe-first":
        tasks.reverse()
    for module, args in tasks:
        r = hv.run(module, **args)
        assert not r.get("failed"), r
    before = dnsmasq_and_bridge(hv)
    for _pass in (2, 3):
        for module, args in tasks:
            r = hv.run(module, **args)
            assert not r.get("failed"), r
            assert (r["changed"], r["actions"], r["restart_required"]) == (False, [], False), (module, r)
        assert dnsmasq_and_bridge(hv) == before
    if pxe_range or virt_dhcp == "same":
        expected = [(MIX_PXE_RANGE["start"], MIX_PXE_RANGE["end"])]
    elif virt_dhcp == "ranges":
        expected = [(MIX_VIRT_RANGE["start"], MIX_VIRT_RANGE["end"])]
    else:
        expected = []
    assert served_ranges(hv) == expected
    live = etree.fromstring(hv.virsh("net-dumpxml", MIX).encode())
    assert live.find("ip/tftp").get("root") == pxe["tftp_root"]
    if "bootp_file" in pxe:
        assert live.find("ip/dhcp/bootp").get("file") == "m.ipxe"
    if virt_dhcp == "hosts":
        assert live.find("ip/dhcp/host").get("ip") == "203.0.113.199"


def test_boot_file_on_an_address_without_dhcp_is_refused_before_any_change(hv, tftp_dir, mix_net):
    """virt_network's ips without DHCP and pxe_network without dhcp_range:
    nothing would hand out the boot file (libvirt silently drops a <bootp>
    outside a serving <dhcp>, so the task could never converge).  Refused in
    check mode and for real, naming both modules' options; nothing written."""
    virt, pxe = mix_tasks(tftp_dir, "none", False)
    pxe["bootp_file"] = "m.ipxe"
    assert not hv.run("virt_network", **virt).get("failed")
    pxe["tftp_root"] = str(tftp_dir / "mix-refused")
    before, files_before = hv.sb.snapshot(), listing(tftp_dir)
    for check in (True, False):
        bad = hv.run("pxe_network", check=check, **pxe)
        assert bad.get("failed"), bad
        assert bad["msg"] == ("bootp_file='m.ipxe': the network's address 203.0.113.193/27 serves no DHCP (no range, "
                              "no static host), so no guest would be told the boot file and libvirt drops it: give "
                              "dhcp_range here, or a range in virtnet.networking.virt_network's ips[].dhcp.ranges "
                              "for that address"), bad["msg"]
    assert hv.sb.snapshot() == before
    assert listing(tftp_dir) == files_before and not (tftp_dir / "mix-refused").exists()


def test_conflicting_dhcp_ranges_are_refused_naming_both_modules_options(hv, tftp_dir, mix_net):
    """virt_network with one range and pxe_network with another on the same
    address would undo each other on every run: once pxe_network owns the
    range, virt_network refuses (check mode too) and changes nothing; without
    dhcp_range in the pxe_network task, the range is virt_network's again."""
    virt, pxe = mix_tasks(tftp_dir, "ranges", True)
    assert not hv.run("virt_network", **virt).get("failed")
    r = hv.run("pxe_network", **pxe)
    assert not r.get("failed") and r["changed"], r
    before, pids = hv.sb.snapshot(), dnsmasq_and_bridge(hv)
    xml = hv.virsh("net-dumpxml", "--inactive", MIX)
    for check in (True, False):
        bad = hv.run("virt_network", check=check, **virt)
        assert bad.get("failed"), bad
        assert bad["msg"].startswith("ips[0].dhcp.ranges=['203.0.113.200-203.0.113.210']: the DHCP range of "
                                     "203.0.113.193/27 is pxe_network's (its dhcp_range=203.0.113.215-"
                                     "203.0.113.220)"), bad["msg"]
        assert "drop ips[0].dhcp.ranges here, or dhcp_range from the pxe_network task" in bad["msg"]
    assert hv.sb.snapshot() == before and dnsmasq_and_bridge(hv) == pids
    assert hv.virsh("net-dumpxml", "--inactive", MIX) == xml
    # The user resolves it by leaving the range to virt_network.
    del pxe["dhcp_range"]
    r = hv.run("pxe_network", **pxe)
    assert r["changed"] and [a["kind"] for a in r["actions"]] == ["define"] and not r["restart_required"], r
    r = hv.run("virt_network", **virt)
    assert not r.get("failed") and r["changed"], r
    for module, args in (("pxe_network", pxe), ("virt_network", virt)):
        r = hv.run(module, **args)
        assert r["changed"] is False, (module, r)
    assert served_ranges(hv) == [(MIX_VIRT_RANGE["start"], MIX_VIRT_RANGE["end"])]


# --------------------------------------------------------------------------
# bad input: named, and nothing changed on the host
# --------------------------------------------------------------------------

BAD = [
    ("missing_src", {"boot_files": [{"name": "vmlinuz", "src": "/nonexistent/vmlinuz"}]},
     "boot_files[0].src='/nonexistent/vmlinuz': no such file on the hypervisor"),
    ("relative_root", {"tftp_root": "tftpboot"}, "tftp_root='tftpboot': must be an absolute path"),
    ("traversing_root", {"tftp_root": "/var/tmp/../../etc"}, "must not contain '..'"),
    ("traversing_name", {"boot_files": [{"name": "../evil", "content": "x"}]},
     "boot_files[0].name='../evil': must stay inside the TFTP root (no '..')"),
    ("absolute_name", {"boot_files": [{"name": "/etc/passwd", "content": "x"}]},
     "boot_files[0].name='/etc/passwd': must be relative to the TFTP root, not an absolute path"),
    ("absolute_bootp", {"bootp_file": "/boot.ipxe"}, "bootp_file='/boot.ipxe': must be relative"),
    ("unknown_network", {"name": "vn5nope"}, "name='vn5nope': no such libvirt network"),
    ("root_is_file", {"tftp_root": "FILE"}, "exists and is not a directory"),
    ("root_below_file", {"tftp_root": "FILE/sub"}, "is a file, not a directory"),
    ("unknown_owner", {"owner": "vn5nosuchuser"}, "owner='vn5nosuchuser': no such user on the hypervisor"),
    ("range_outside", {"dhcp_range": {"start": "203.0.113.140", "end": "203.0.113.200"}},
     "dhcp_range.end='203.0.113.200': is not a host address of the network's subnet 203.0.113.128/27"),
    ("missing_presence", {"boot_files": [{"name": "notthere.0"}], "bootp_file": "notthere.0"},
     "boot_files[0].name='notthere.0': is not in the TFTP root"),
]


@pytest.mark.parametrize("case,change,message", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_named_and_changes_nothing(hv, pxe_net, tftp_dir, case, change, message):
    afile = tftp_dir / "afile"
    afile.write_text("not a directory\n")
    root = tftp_dir / ("bad-" + case)
    args = dict(name=NET, tftp_root=str(root), boot_files=[{"name": "boot.ipxe", "content": "#!ipxe\n"}],
                bootp_file="boot.ipxe", restart=True)
    if "boot_files" in change:
        args["bootp_file"] = None
    args.update(change)
    if "FILE" in str(args["tftp_root"]):
        args["tftp_root"] = args["tftp_root"].replace("FILE", str(afile))
    before, files_before = hv.sb.snapshot(), listing(tftp_dir)
    for check in (True, False):
        r = hv.run("pxe_network", check=check, **args)
        assert r.get("failed"), r
        assert message in r["msg"], r["msg"]
    assert hv.sb.snapshot() == before
    assert listing(tftp_dir) == files_before
    assert not root.exists()


# --------------------------------------------------------------------------
# the example playbook, on the sandbox through the demo inventory
# --------------------------------------------------------------------------

def playbook(sb, *args):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(root, ".build"), ANSIBLE_NOCOLOR="1",
               VIRTNET_SANDBOX_NAME=sb.name, VIRTNET_SANDBOX_KEEP="1")
    cp = subprocess.run([os.path.join(ANSIBLE_BIN, "ansible-playbook"), "-i",
                         os.path.join(root, "playbooks", "inventory", "demo"),
                         os.path.join(root, "playbooks", "pxe.yml"), *args],
                        env=env, capture_output=True, text=True, check=False, timeout=300)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    return re.search(r"sandbox-hv\s*:\s*ok=(\d+)\s+changed=(\d+)", cp.stdout).groups(), cp.stdout


def test_example_playbook_check_apply_again(hv, pxe_net, tftp_dir):
    img = vnsb.guest_image()
    root = tftp_dir / "playbook"
    extra = json.dumps({"pxe_network": NET, "pxe_tftp_root": str(root), "virtnet_libvirt_uri": hv.sb.uri,
                        "pxe_boot_files": [{"name": "boot.ipxe", "content": vnsb.ipxe_script("vn5pb")},
                                           {"name": "vmlinuz", "src": str(img.kernel)},
                                           {"name": "initrd.gz", "src": str(img.initrd)}],
                        "pxe_bootp_file": "boot.ipxe"})
    before = hv.virsh("net-dumpxml", "--inactive", NET)
    (_ok, changed), _out = playbook(hv.sb, "--check", "-e", extra)
    assert changed == "1" and not root.exists() and hv.virsh("net-dumpxml", "--inactive", NET) == before
    (_ok, changed), out = playbook(hv.sb, "-e", extra)
    assert changed == "1", out
    assert "dnsmasq serves it now" in out
    assert etree.fromstring(hv.virsh("net-dumpxml", NET).encode()).find("ip/tftp").get("root") == str(root)
    (_ok, changed), out = playbook(hv.sb, "-e", extra)
    assert changed == "0", out


# --------------------------------------------------------------------------
# seed 15.8.3: a bridged network, the PXE server outside libvirt
# --------------------------------------------------------------------------

OUT_ADDR = "203.0.113.97"
OUT_RANGE = ("203.0.113.110", "203.0.113.120")


@pytest.fixture
def outside_pxe(hv, tftp_dir):
    """A host bridge vn5br on the hypervisor, wired (veth) to the outside
    namespace, where a dnsmasq of ours does DHCP + TFTP on 203.0.113.96/27."""
    sb = hv.sb
    out_ns = sb.out_ns
    root = tftp_dir / "outside"
    root.mkdir()
    img = vnsb.guest_image()
    shutil.copy(img.kernel, root / "vmlinuz")
    shutil.copy(img.initrd, root / "initrd.gz")
    (root / "boot.ipxe").write_text(vnsb.ipxe_script("vn5g3"))
    # From the root namespace: the hypervisor's mount namespace has its own /run, without /run/netns.
    batch = ["link add vn5br netns %s type bridge stp_state 0 forward_delay 0" % sb.hv_ns,
             "link add vn5o0 netns %s type veth peer name vn5p0 netns %s" % (out_ns, sb.hv_ns)]
    vnsb.run(["ip", "-batch", "-"], input="\n".join(batch) + "\n")
    # No IPv6 on the two hypervisor-side links: their link-local addresses and
    # routes would appear in the middle of the "host unchanged" comparison.
    sb.run_hv(["sysctl", "-qw", "net.ipv6.conf.vn5br.disable_ipv6=1", "net.ipv6.conf.vn5p0.disable_ipv6=1"],
              check=True)
    for argv in (["link", "set", "vn5br", "up"], ["link", "set", "vn5p0", "master", "vn5br", "up"]):
        sb.run_hv(["ip", *argv], check=True)
    sb.run_out(["ip", "addr", "add", OUT_ADDR + "/27", "dev", "vn5o0"], check=True)
    sb.run_out(["ip", "link", "set", "vn5o0", "up"], check=True)
    deadline = time.monotonic() + 10   # links settled, so "host unchanged" snapshots compare steady state
    while "state UP" not in sb.run_hv(["ip", "-o", "link", "show", "vn5br"]).stdout and time.monotonic() < deadline:
        time.sleep(0.2)
    log = open(tftp_dir / "outside-dnsmasq.log", "wb")
    proc = subprocess.Popen(sb.out_argv([
        "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--port=0", "--user=root", "--group=root",
        "--interface=vn5o0", "--bind-interfaces", "--dhcp-range=%s,%s,255.255.255.224,1h" % OUT_RANGE,
        "--dhcp-boot=boot.ipxe", "--enable-tftp", "--tftp-root=%s" % root, "--no-ping", "--log-dhcp",
        "--dhcp-leasefile=%s" % (tftp_dir / "outside.leases"), "--log-facility=-"]),
        stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        yield proc
    finally:
        proc.terminate()       # our dnsmasq, by its PID (ip netns exec execs into it)
        proc.wait(timeout=10)
        log.close()
        sb.run_hv(["ip", "link", "del", "vn5p0"])
        sb.run_hv(["ip", "link", "del", "vn5br"])


def test_bridged_network_boots_from_the_outside_pxe_server(hv, outside_pxe):
    net = dict(name="vn5bridged", forward={"mode": "bridge"}, bridge={"name": "vn5br"})
    r = hv.run("virt_network", **net)
    assert not r.get("failed"), r
    # libvirt runs no DHCP/TFTP on a bridged network: pxe_network says so, changes nothing.
    before = hv.sb.snapshot()
    bad = hv.run("pxe_network", name="vn5bridged", bootp_file="boot.ipxe")
    assert bad.get("failed") and "name='vn5bridged': the network has no IPv4 address" in bad["msg"], bad
    assert hv.sb.snapshot() == before
    # The guest's NIC as in the seed: <interface type='bridge'> on the host bridge, boot order 1.
    g = pxe_guest(hv, "vn5g3", iface_type="bridge", source="vn5br")
    t0 = time.monotonic()
    try:
        ip = g.wait_for_lease("eth0", timeout=120)
        print("bridged PXE boot to lease: %.1f s" % (time.monotonic() - t0))
        assert OUT_RANGE[0] <= ip <= OUT_RANGE[1], ip
        assert g.events("BOOTED")[0][1] == "vn5g3"
    finally:
        g.destroy()
        hv.virsh("net-destroy", "vn5bridged")
        hv.virsh("net-undefine", "vn5bridged")
