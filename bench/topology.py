#!/usr/bin/env python3
"""Benchmark: a reference topology converged with virtnet.networking and
with the peers, the floor (our module against a bare libvirt-python script
making the same calls), and how the run time grows with the number of
networks.  Prints tables; asserts nothing.

    .venv/bin/python bench/topology.py [--name bench] [--scale 10,50,200] [--skip-scale]

Everything runs on one sandbox hypervisor (started if it is not up, torn
down at the end only if this script started it), through ansible-playbook
the way a user runs a fleet job, so both tools pay the same Ansible costs.

1. Reference topology: 20 libvirt networks, four in each mode (NAT, routed,
   isolated, open with DHCP ranges and three static DHCP hosts each, and
   bridge mode on four existing host bridges), running and autostarted.
   Ours: one virt_network task in a loop.  community.libvirt: virt_net as its
   documentation shows it (command=define with the XML, then state=active,
   then autostart), with the XML libvirt holds for our run, so both describe
   the same end state.  The end states are compared (inactive XML without
   uuid/MAC, active flag, autostart) before any time is reported.
2. Floor: adding one static DHCP host to a running network; our module as
   Ansible runs it (a Python process reading a JSON argument file) against a
   Python process that opens libvirt and makes the two virNetworkUpdate calls.
3. Scale: N isolated IPv6 networks converged from empty, then the no-op run.
4. Disruption a running guest sees (a DHCP host added; an MTU change).
5. Scale of ``hypervisor``: N isolated networks as one hypervisor task, converge
   and the no-op re-run through ansible-playbook, then the module process alone
   on a no-op for 0, N/2 and N networks (the cost of each further network).

Part 1 runs the reference topology three ways: the single modules (one task
per object kind, in a loop), ``hypervisor`` (the same objects from the same
data as one task: one process, one libvirt connection) and the peers.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

from lxml import etree

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "sandbox"))
sys.path.insert(0, os.path.join(ROOT, "tests"))

import conftest  # noqa: E402,F401  (makes the collection importable)
import vnsb  # noqa: E402
from virtnet_testlib import run_module  # noqa: E402

BIN = os.path.dirname(sys.executable)
PREFIX = "bt-"          # every network this script creates
# Modules run inside the sandbox hypervisor's namespaces, as on a real host
# (both tools alike: the same interpreter wrapper).
HV_PYTHON = os.path.join(ROOT, "playbooks", "inventory", "demo", "hv-python")
NM_BRIDGE = "btnm"       # the one bridge NetworkManager manages (port lan2)
HOST_BRIDGES = ["btbr%d" % i for i in range(1, 4)]
VMS = ["bt-vm%d" % i for i in range(5)]


# ---- the declared topology ------------------------------------------------------
def reference_networks() -> list[dict]:
    """20 networks, 4 per mode; IPv4 subnets are /29s of 203.0.113.128/25."""
    nets = []
    slot = 0
    for mode in ("nat", "route", "isolated", "open"):
        for i in range(4):
            base = 128 + 8 * slot
            slot += 1
            nets.append({
                "name": "%s%s%d" % (PREFIX, mode, i),
                "forward": {"mode": mode},
                "bridge": {"name": "bt%s%d" % (mode[:3], i), "stp": False},
                "ips": [{"address": "203.0.113.%d/29" % (base + 1),
                         "dhcp": {"ranges": [{"start": "203.0.113.%d" % (base + 2),
                                              "end": "203.0.113.%d" % (base + 3)}],
                                  "hosts": [{"mac": "52:54:00:b7:%02x:%02x" % (slot, h),
                                             "ip": "203.0.113.%d" % (base + 4 + h),
                                             "name": "h%d-%d" % (slot, h)} for h in range(3)]}}],
            })
    for i, br in enumerate([NM_BRIDGE] + HOST_BRIDGES):
        nets.append({"name": "%sbridge%d" % (PREFIX, i), "forward": {"mode": "bridge"}, "bridge": {"name": br}})
    return nets


def reference_interfaces() -> list[dict]:
    """10 VM interfaces: two per VM, one on a NAT and one on a routed network."""
    return [{"domain": vm, "mac": "52:54:00:b8:%02x:%02x" % (i, j), "type": "network",
             "source": "%s%s%d" % (PREFIX, ("nat", "route")[j], i % 4), "model": "virtio"}
            for i, vm in enumerate(VMS) for j in range(2)]


def scale_networks(n: int) -> list[dict]:
    return [{"name": "%ss%03d" % (PREFIX, i), "forward": {"mode": "isolated"},
             "bridge": {"name": "bts%03d" % i, "stp": False},
             "ips": [{"address": "2001:db8:b7:%x::1/64" % i}]} for i in range(n)]


# ---- running things -------------------------------------------------------------
def playbook(sb: vnsb.Sandbox, tasks: list[dict], extra_vars: dict) -> tuple[float, int]:
    """Run one play on localhost; return (wall seconds, items reported changed)."""
    play = [{"hosts": "localhost", "gather_facts": False, "connection": "local",
             "vars": {"ansible_python_interpreter": HV_PYTHON, "uri": sb.uri}, "tasks": tasks}]
    env = dict(os.environ, VIRTNET_SANDBOX_NAME=sb.name, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    if os.environ.get("VIRTNET_BENCH_PROFILE"):
        env["ANSIBLE_CALLBACKS_ENABLED"] = "ansible.posix.profile_tasks"
    with tempfile.TemporaryDirectory() as tmp:
        pb, ev = os.path.join(tmp, "play.yml"), os.path.join(tmp, "vars.json")
        with open(ev, "w") as f:
            json.dump(extra_vars, f)
        with open(pb, "w") as f:
            json.dump(play, f)   # JSON is YAML
        t0 = time.monotonic()
        proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", pb, "-e", "@" + ev],
                              env=env, capture_output=True, text=True, check=False)
        took = time.monotonic() - t0
    if proc.returncode != 0:
        raise SystemExit("playbook failed:\n" + proc.stdout[-3000:] + proc.stderr[-2000:])
    if os.environ.get("VIRTNET_BENCH_PROFILE"):
        print("\n".join(proc.stdout.splitlines()[-12:]))
    return took, len(re.findall(r"^changed: ", proc.stdout, re.M))


OURS_HOST = [{"name": "bridge", "virtnet.networking.nm_bond_bridge": {"name": NM_BRIDGE, "ports": ["lan2"]}}]
OURS_IFACES = [{"name": "interfaces", "virtnet.networking.virt_iface": {
    "uri": "{{ uri }}", "domain": "{{ item.domain }}", "mac": "{{ item.mac }}", "type": "{{ item.type }}",
    "source": "{{ item.source }}", "model": "{{ item.model }}"},
    "loop": "{{ ifaces }}", "loop_control": {"label": "{{ item.domain }} {{ item.mac }}"}}]
# community.general.nmcli for the same bridge: two tasks (bridge, port).
PEER_HOST = [
    {"name": "bridge", "community.general.nmcli": {"conn_name": NM_BRIDGE, "type": "bridge", "ifname": NM_BRIDGE,
                                                  "method4": "disabled", "method6": "disabled", "state": "present"}},
    {"name": "port", "community.general.nmcli": {"conn_name": NM_BRIDGE + "-port-lan2", "type": "ethernet",
                                                "slave_type": "bridge", "ifname": "lan2", "master": NM_BRIDGE,
                                                "state": "present"}}]
# community.libvirt.virt: a VM's NICs are part of the domain XML it defines.
PEER_IFACES = [{"name": "domains", "community.libvirt.virt": {"uri": "{{ uri }}", "command": "define",
                                                             "xml": "{{ item.xml }}"},
                "loop": "{{ doms }}", "loop_control": {"label": "{{ item.name }}"}}]

OURS = [{"name": "networks", "virtnet.networking.virt_network": {
    "uri": "{{ uri }}", "name": "{{ item.name }}", "forward": "{{ item.forward }}", "bridge": "{{ item.bridge }}",
    "ips": "{{ item.ips | default(omit) }}", "state": "running", "autostart": True},
    "loop": "{{ nets }}", "loop_control": {"label": "{{ item.name }}"}}]

# community.libvirt.virt_net, written as its documentation shows it.
PEER = [
    {"name": "define", "community.libvirt.virt_net": {"uri": "{{ uri }}", "command": "define",
                                                      "name": "{{ item.name }}", "xml": "{{ item.xml }}"},
     "loop": "{{ nets }}", "loop_control": {"label": "{{ item.name }}"}},
    {"name": "start", "community.libvirt.virt_net": {"uri": "{{ uri }}", "state": "active", "name": "{{ item.name }}"},
     "loop": "{{ nets }}", "loop_control": {"label": "{{ item.name }}"}},
    {"name": "autostart", "community.libvirt.virt_net": {"uri": "{{ uri }}", "autostart": True,
                                                         "name": "{{ item.name }}"},
     "loop": "{{ nets }}", "loop_control": {"label": "{{ item.name }}"}},
]


# virtnet.networking.hypervisor: the same objects, from the same data, as one task.
HV = [{"name": "hypervisor", "virtnet.networking.hypervisor": {
    "uri": "{{ uri }}", "bridges": "{{ bridges }}", "networks": "{{ hv_nets }}", "vm_interfaces": "{{ ifaces }}"}}]


def hv_vars(nets: list[dict], ifaces: list[dict], bridges: list[dict]) -> dict:
    """The extra vars of HV: each network item is what OURS passes to
    virt_network for it (the item's options, running, autostarted)."""
    return {"hv_nets": [dict(n, state="running", autostart=True) for n in nets], "ifaces": ifaces,
            "bridges": bridges}


HV_BRIDGES = [dict(OURS_HOST[0]["virtnet.networking.nm_bond_bridge"])]


def ours_networks(sb: vnsb.Sandbox) -> list[str]:
    return sorted(n for n in sb.virsh("net-list", "--all", "--name").stdout.split() if n.startswith(PREFIX))


def bare_vms(sb: vnsb.Sandbox) -> None:
    """The five VMs as a user has them before networking: defined, no NICs."""
    for vm in VMS:
        sb.virsh("undefine", vm, check=False)
        sb.define_guest(vm, nics=[])


def clean_host(sb: vnsb.Sandbox) -> None:
    for vm in VMS:
        sb.virsh("undefine", vm, check=False)
    for line in sb.nmcli("-t", "-f", "NAME,UUID", "connection", "show").stdout.splitlines():
        name, uuid = line.rsplit(":", 1)
        if name.startswith(NM_BRIDGE) or name.endswith("lan2"):
            sb.nmcli("connection", "delete", "uuid", uuid)
    sb.run_hv(["ip", "link", "del", NM_BRIDGE], check=False)


def clean(sb: vnsb.Sandbox) -> None:
    for n in ours_networks(sb):
        sb.virsh("net-destroy", n, check=False)
        sb.virsh("net-undefine", n, check=False)


def end_state(sb: vnsb.Sandbox) -> dict:
    """What a user would compare: the definition without what libvirt
    generates (uuid, bridge MAC), whether it runs, whether it autostarts."""
    active = set(sb.virsh("net-list", "--name").stdout.split())
    auto = set(sb.virsh("net-list", "--all", "--autostart", "--name").stdout.split())
    state = {}
    for n in ours_networks(sb):
        root = etree.fromstring(sb.virsh("net-dumpxml", "--inactive", n).stdout.encode())
        for el in root.xpath("/network/uuid | /network/mac"):
            el.getparent().remove(el)
        state[n] = (etree.tostring(root, method="c14n2", strip_text=True).decode(), n in active, n in auto)
    for vm in VMS:
        xml = sb.virsh("dumpxml", "--inactive", vm, check=False).stdout
        root = etree.fromstring(xml.encode()) if xml else None
        state[vm] = sorted((i.get("type"), i.find("source").get("network"), i.find("mac").get("address"),
                            i.find("model").get("type")) for i in root.findall("devices/interface")) \
            if root is not None else None
    brif = sb.run_hv(["ls", "/sys/class/net/%s/brif" % NM_BRIDGE], check=False)
    state[NM_BRIDGE] = sorted(brif.stdout.split()) if brif.returncode == 0 else None
    return state


def seconds(t: float) -> str:
    return "%.1f s" % t


# ---- the three parts ----------------------------------------------------------------
def reference(sb: vnsb.Sandbox, rounds: int) -> None:
    for br in HOST_BRIDGES:
        sb.run_hv(["ip", "link", "add", br, "type", "bridge"], check=False)
        sb.run_hv(["ip", "link", "set", br, "up"], check=True)
    nets, ifaces = reference_networks(), reference_interfaces()
    # Alternate the tools, `rounds` times each, and take medians: the machine
    # is shared, and load that comes and goes must not favour either side.
    runs: dict = {"ours": [], "hv": [], "peer": []}
    want = got = got_hv = None
    xml = doms = None
    hv = hv_vars(nets, ifaces, HV_BRIDGES)
    for _round in range(rounds):
        clean(sb)
        clean_host(sb)
        bare_vms(sb)
        runs["ours"].append(playbook(sb, OURS_HOST + OURS + OURS_IFACES, {"nets": nets, "ifaces": ifaces})
                            + playbook(sb, OURS_HOST + OURS + OURS_IFACES, {"nets": nets, "ifaces": ifaces}))
        want = end_state(sb)
        if xml is None:
            xml = [{"name": n, "xml": sb.virsh("net-dumpxml", "--inactive", n).stdout} for n in ours_networks(sb)]
            # A user's domain template names no UUID (libvirt keeps the VM's own).
            doms = [{"name": vm, "xml": re.sub(r"\s*<uuid>[^<]*</uuid>", "",
                                               sb.virsh("dumpxml", "--inactive", vm).stdout)} for vm in VMS]
        clean(sb)
        clean_host(sb)
        bare_vms(sb)
        runs["hv"].append(playbook(sb, HV, hv) + playbook(sb, HV, hv))
        got_hv = end_state(sb)
        clean(sb)
        clean_host(sb)
        bare_vms(sb)
        runs["peer"].append(playbook(sb, PEER_HOST + PEER + PEER_IFACES, {"nets": xml, "doms": doms})
                            + playbook(sb, PEER_HOST + PEER + PEER_IFACES, {"nets": xml, "doms": doms}))
        got = end_state(sb)
    clean(sb)
    clean_host(sb)
    for br in HOST_BRIDGES:
        sb.run_hv(["ip", "link", "del", br], check=False)
    med = {tool: [statistics.median(r[k] for r in rs) for k in range(4)] for tool, rs in runs.items()}
    t_ours, c_ours, t_ours2, c_ours2 = med["ours"]
    t_hv, c_hv, t_hv2, c_hv2 = med["hv"]
    t_peer, c_peer, t_peer2, c_peer2 = med["peer"]
    same = want == got == got_hv
    print("\n1. Reference topology: %d networks (4 each: nat, route, isolated, open with DHCP; bridge), "
          "%d VM interfaces on %d VMs, one NetworkManager bridge" % (len(nets), len(ifaces), len(VMS)))
    print("   end states equal (network definitions, active, autostart; VM NICs; bridge ports), "
          "modules / hypervisor / peers: %s" % ("yes" if same else "NO"))
    if not same:
        for n in sorted(set(want) | set(got) | set(got_hv)):
            if not want.get(n) == got.get(n) == got_hv.get(n):
                print("   differs: %s\n     modules:    %s\n     hypervisor: %s\n     peer:       %s"
                      % (n, want.get(n), got_hv.get(n), got.get(n)))
        return
    print("   %-30s %9s %11s %9s %9s %9s  (median of %d alternating rounds)"
          % ("", "modules", "hypervisor", "peers", "mod/peer", "hv/peer", rounds))
    print("   %-30s %9s %11s %9s %9.2f %9.2f  goal hv/peer <= 0.25: %s"
          % ("converge from empty (wall)", seconds(t_ours), seconds(t_hv), seconds(t_peer), t_ours / t_peer,
             t_hv / t_peer, "met" if t_hv / t_peer <= 0.25 else "NOT met"))
    print("   %-30s %9s %11s %9s %9.2f %9.2f  goal hv/peer <= 0.10: %s"
          % ("re-run, nothing to do (wall)", seconds(t_ours2), seconds(t_hv2), seconds(t_peer2), t_ours2 / t_peer2,
             t_hv2 / t_peer2, "met" if t_hv2 / t_peer2 <= 0.10 else "NOT met"))
    print("   %-30s %9d %11d %9d   (hypervisor: one task)" % ("tasks/items changed, 1st run", c_ours, c_hv, c_peer))
    print("   %-30s %9d %11d %9d" % ("tasks/items changed, re-run", c_ours2, c_hv2, c_peer2))
    for tool, rs in runs.items():
        print("   %s rounds (converge / re-run): %s" % (tool, ", ".join("%.1f / %.1f s" % (r[0], r[2]) for r in rs)))
    print("   modules = nm_bond_bridge, virt_network in a loop, virt_iface in a loop; hypervisor = one"
          " virtnet.networking.hypervisor task with bridges, networks, vm_interfaces from the same data")
    print("   peers = community.general.nmcli (bridge + port), community.libvirt.virt_net (define, state=active,"
          " autostart per network), community.libvirt.virt (define each VM's XML with its NICs)")


BARE = r"""
import sys, libvirt
conn = libvirt.open(sys.argv[1])
net = conn.networkLookupByName(sys.argv[2])
xml = "<host mac='%s' ip='%s'/>" % (sys.argv[3], sys.argv[4])
cmd = libvirt.VIR_NETWORK_UPDATE_COMMAND_ADD_LAST if sys.argv[5] == "add" else libvirt.VIR_NETWORK_UPDATE_COMMAND_DELETE
net.update(cmd, libvirt.VIR_NETWORK_SECTION_IP_DHCP_HOST, -1, xml,
           libvirt.VIR_NETWORK_UPDATE_AFFECT_LIVE | libvirt.VIR_NETWORK_UPDATE_AFFECT_CONFIG)
"""


def floor(sb: vnsb.Sandbox, rounds: int) -> None:
    net = {"name": PREFIX + "floor", "forward": {"mode": "nat"}, "bridge": {"name": "btfloor", "stp": False},
           "ips": [{"address": "203.0.113.249/29",
                    "dhcp": {"ranges": [{"start": "203.0.113.250", "end": "203.0.113.251"}]}}]}
    host = {"mac": "52:54:00:b7:ff:01", "ip": "203.0.113.253"}
    base = dict(net, uri=sb.uri)
    with_host = dict(base, ips=[dict(net["ips"][0], dhcp=dict(net["ips"][0]["dhcp"], hosts=[host]))])
    res = run_module("virt_network", base)
    assert not res.get("failed"), res
    ours, bare, noop = [], [], []
    for _ in range(rounds):
        t0 = time.monotonic()
        res = run_module("virt_network", with_host)
        ours.append(time.monotonic() - t0)
        assert res.get("changed") and not res.get("failed"), res
        t0 = time.monotonic()
        res = run_module("virt_network", with_host)
        noop.append(time.monotonic() - t0)
        assert not res.get("changed"), res
        res = run_module("virt_network", base)         # take it out again
        assert res.get("changed"), res
        t0 = time.monotonic()
        subprocess.run([sys.executable, "-c", BARE, sb.uri, net["name"], host["mac"], host["ip"], "add"], check=True)
        bare.append(time.monotonic() - t0)
        subprocess.run([sys.executable, "-c", BARE, sb.uri, net["name"], host["mac"], host["ip"], "delete"], check=True)
    clean(sb)
    m_ours, m_bare, m_noop = statistics.median(ours), statistics.median(bare), statistics.median(noop)
    print("\n2. Floor: add one static DHCP host to a running network (median of %d, each a fresh process)" % rounds)
    print("   virt_network (validate, read, plan, 2x virNetworkUpdate, verify): %.2f s" % m_ours)
    print("   bare libvirt-python script, the same 2 update calls (live+config): %.2f s" % m_bare)
    print("   ratio ours / bare: %.2f;  virt_network re-run with nothing to do: %.2f s" % (m_ours / m_bare, m_noop))


def scale(sb: vnsb.Sandbox, sizes: list[int]) -> None:
    print("\n3. Scale: N isolated IPv6 networks, one virt_network task in a loop")
    print("   %6s %14s %12s %14s %12s" % ("N", "converge", "per net", "no-op re-run", "per net"))
    for n in sizes:
        clean(sb)
        nets = scale_networks(n)
        t1, _ = playbook(sb, OURS, {"nets": nets})
        t2, c2 = playbook(sb, OURS, {"nets": nets})
        assert c2 == 0, "re-run reported %d changes" % c2
        print("   %6d %14s %10.2f s %14s %10.2f s" % (n, seconds(t1), t1 / n, seconds(t2), t2 / n))
    clean(sb)


def _module_noop(sb: vnsb.Sandbox, nets: list[dict], rounds: int) -> float:
    """Median wall time of the hypervisor module process alone (the JSON
    argument file Ansible would write, run inside the hypervisor's
    namespaces) on a host that already has ``nets``: a no-op."""
    args = {"uri": sb.uri, "networks": [dict(n, state="running", autostart=True) for n in nets]}
    took = []
    for _ in range(rounds):
        t0 = time.monotonic()
        res = run_module("hypervisor", args, argv_prefix=sb.hv_argv([]))
        took.append(time.monotonic() - t0)
        assert not res.get("failed") and not res.get("changed"), {k: res.get(k) for k in ("msg", "changed")}
    return statistics.median(took)


def hv_scale(sb: vnsb.Sandbox, sizes: list[int], rounds: int) -> None:
    print("\n5. Scale of hypervisor: N isolated IPv6 networks (running, autostarted) as ONE hypervisor task")
    print("   %6s %14s %16s %10s" % ("N", "converge", "no-op re-run", "goal <= 10 s"))
    for n in sizes:
        clean(sb)
        nets = scale_networks(n)
        hv = {"hv_nets": [dict(x, state="running", autostart=True) for x in nets], "ifaces": [], "bridges": []}
        t1, c1 = playbook(sb, HV, hv)
        assert c1 == 1, "converge reported %d changed tasks" % c1
        t2, c2 = playbook(sb, HV, hv)
        assert c2 == 0, "re-run reported %d changes" % c2
        print("   %6d %14s %16s %10s" % (n, seconds(t1), seconds(t2), "met" if t2 <= 10 else "NOT met"))
    # The module alone, on a no-op, for 0, N/2 and N of the networks that now exist.
    n = sizes[-1]
    nets = scale_networks(n)
    half = n // 2
    t = {k: _module_noop(sb, nets[:k], rounds) for k in (0, half, n)}
    per = (t[n] - t[half]) / (n - half)
    print("   module process alone, no-op (median of %d): %s" % (rounds, ", ".join(
        "%d networks %.2f s" % (k, v) for k, v in t.items())))
    print("   module-side cost of each further network on a no-op ((t%d - t%d) / %d): %.1f ms  goal <= 20 ms: %s"
          % (n, half, n - half, per * 1000, "met" if per <= 0.020 else "NOT met"))
    clean(sb)


def _pings(sb: vnsb.Sandbox, ip: str, seconds_: float) -> subprocess.Popen:
    return subprocess.Popen(sb.hv_argv(["ping", "-n", "-q", "-i", "0.1", "-w", str(seconds_), ip]),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _lost(proc: subprocess.Popen) -> str:
    out = proc.communicate()[0]
    m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    return "%d of %d lost" % (int(m.group(1)) - int(m.group(2)), int(m.group(1))) if m else "?"


def _answers_after(sb: vnsb.Sandbox, ip: str, t0: float, limit: float) -> str:
    while time.monotonic() - t0 < limit:
        if sb.run_hv(["ping", "-n", "-c", "1", "-W", "0.2", ip], check=False).returncode == 0:
            return "%.1f s" % (time.monotonic() - t0)
    return "not within %d s" % limit


def disruption(sb: vnsb.Sandbox) -> None:
    """What a running guest notices: a DHCP host added to its network, and
    a change that needs the network restarted (MTU)."""
    name = PREFIX + "dis"
    decl = {"name": name, "forward": {"mode": "nat"}, "bridge": {"name": "btdis", "stp": False},
            "ips": [{"address": "203.0.113.241/29",
                     "dhcp": {"ranges": [{"start": "203.0.113.242", "end": "203.0.113.244"}]}}]}
    host = {"mac": "52:54:00:b7:fe:01", "ip": "203.0.113.246", "name": "added"}
    with_host = dict(decl, ips=[dict(decl["ips"][0], dhcp=dict(decl["ips"][0]["dhcp"], hosts=[host]))])
    host_xml = "<host mac='%s' name='%s' ip='%s'/>" % (host["mac"], host["name"], host["ip"])
    rows = []
    for tool in ("ours", "peer"):
        clean(sb)
        assert not run_module("virt_network", dict(decl, uri=sb.uri)).get("failed")
        guest = sb.start_guest("bt-guest", nics=[{"source": name}])
        try:
            ip = guest.wait_for_lease(timeout=120)
            _answers_after(sb, ip, time.monotonic(), 20)
            pings = _pings(sb, ip, 6)
            time.sleep(1)
            if tool == "ours":
                playbook(sb, [{"virtnet.networking.virt_network": dict(with_host, uri="{{ uri }}")}], {})
            else:
                playbook(sb, [{"community.libvirt.virt_net": {"uri": "{{ uri }}", "name": name, "command": "modify",
                                                               "xml": host_xml}}], {})
            add_loss = _lost(pings)
            # A change only a restart applies: MTU 1400.
            t0 = time.monotonic()
            if tool == "ours":
                playbook(sb, [{"virtnet.networking.virt_network": dict(with_host, uri="{{ uri }}", mtu=1400,
                                                                       restart=True)}], {})
            else:
                xml = sb.virsh("net-dumpxml", "--inactive", name).stdout.replace("</network>",
                                                                                 "<mtu size='1400'/></network>")
                playbook(sb, [
                    {"community.libvirt.virt_net": {"uri": "{{ uri }}", "command": "define", "name": name,
                                                    "xml": xml}},
                    {"community.libvirt.virt_net": {"uri": "{{ uri }}", "state": "inactive", "name": name}},
                    {"community.libvirt.virt_net": {"uri": "{{ uri }}", "state": "active", "name": name}}], {})
            took = time.monotonic() - t0
            back = _answers_after(sb, ip, t0, 20)
            mtu = "mtu size='1400'" in sb.virsh("net-dumpxml", name).stdout
            rows.append((tool, add_loss, "%.1f s" % took, back, mtu))
        finally:
            guest.destroy()
    clean(sb)
    print("\n4. Disruption seen by a running guest (ping every 0.1 s from the host)")
    print("   %-6s %-28s %-16s %-26s %s" % ("tool", "DHCP host added: pings", "MTU change run", "answers again (from run start)",
                                             "live network has MTU"))
    for r in rows:
        print("   %-6s %-28s %-16s %-26s %s" % r)
    print("   peer: virt_net command=modify for the host; define + state=inactive + state=active for the MTU")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", default="bench")
    ap.add_argument("--scale", default="10,50,200")
    ap.add_argument("--skip-scale", action="store_true")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--ref-rounds", type=int, default=3, help="rounds of part 1 (medians)")
    ap.add_argument("--parts", default="1,2,3,4,5", help="which parts to run, e.g. 1,4")
    ap.add_argument("--hv-scale", default="200", help="sizes of part 5 (the module-alone figures use the last)")
    args = ap.parse_args()
    sb = vnsb.Sandbox(args.name, with_nm=True)
    started = not sb.is_up()
    if started:
        sb.up()
    else:
        assert sb.meta.get("with_nm"), "sandbox %s runs without NetworkManager: take it down first" % sb.name
    try:
        daemon = re.search(r"daemon: (.*)", sb.virsh("version", "--daemon").stdout)
        print("sandbox %s; %s; %d CPUs" % (sb.name, daemon.group(1) if daemon else "libvirt ?", os.cpu_count()))
        parts = set(args.parts.split(","))
        if "1" in parts:
            reference(sb, args.ref_rounds)
        if "2" in parts:
            floor(sb, args.rounds)
        if "3" in parts and not args.skip_scale:
            scale(sb, [int(x) for x in args.scale.split(",")])
        if "4" in parts:
            disruption(sb)
        if "5" in parts:
            hv_scale(sb, [int(x) for x in args.hv_scale.split(",")], args.rounds)
    finally:
        clean(sb)
        if started:
            sb.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
