"""The demo's measuring stages (called by playbooks/demo/run).

  demo.py table                     boot the probe guests, print Table 15.1 measured vs RHEL
  demo.py idempotent -- argv...     run a playbook, fail unless its recap says changed=0
  demo.py external                  the externally_visible_vm role on a NAT guest, probed before/after
  demo.py moved                     a running guest's NIC moved onto the bridged network, probed
  demo.py pxe                       a guest that network-boots from the lab's PXE network

Everything printed is measured on the sandbox (instance $VIRTNET_SANDBOX_NAME).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import probe  # noqa: E402
from probe import vnsb  # noqa: E402

ROOT = probe.ROOT
NAME = os.environ.get("VIRTNET_SANDBOX_NAME", "demo")
INVENTORY = os.path.join(ROOT, "playbooks", "inventory", "demo", "hosts.yml")


def _sb() -> "vnsb.Sandbox":
    return vnsb.Sandbox(NAME)


def _t(label: str, t0: float) -> None:
    print(f"   {label}: {time.monotonic() - t0:.1f}s", flush=True)


def cmd_table() -> int:
    sb = _sb()
    t0 = time.monotonic()
    lab = probe.read_lab(sb)
    for r in probe.lan_routes(sb, lab):
        print(f"   the LAN router learns {r} (routed and open networks need it, RHEL 15.3.2)")
    guests = probe.start_guests(sb, lab)
    _t("two probe guests booted, a lease on each of their 5 NICs", t0)
    t1 = time.monotonic()
    try:
        res = probe.measure(sb, lab, guests)
    finally:
        probe.stop_guests(sb)
    _t("probes (ping from guest A per NIC; HTTP from the outside namespace)", t1)
    print()
    for mode in probe.MODES:
        a = res["addresses"][mode]
        print(f"   {mode:<9} network {a['network']:<13} host {a['host']:<15} "
              f"guest A {a['guest_a']:<15} guest B {a['guest_b']}")
    print("\nMeasured on this sandbox, beside RHEL's Table 15.1 (Understanding virtual networking, 15.5):\n")
    print(probe.format_table(res))
    diffs = probe.differences(res)
    print()
    if diffs:
        print("The measurement disagrees with RHEL's table:")
        for d in diffs:
            print(f"  - {d}")
    else:
        print("Every measured cell agrees with RHEL's table. Open mode: libvirt adds no"
              " firewall rules and this\nhypervisor has none of its own, so everything passes.")
    print("('outside' = 203.0.113.10 in the outside namespace; for 'visible from outside' the LAN was\n"
          " given a route to each subnet, so a 'no' is the hypervisor refusing, not a missing route.)")
    return 0


def cmd_idempotent(argv: list[str]) -> int:
    cp = subprocess.run(argv, capture_output=True, text=True, check=False)
    sys.stdout.write(cp.stdout[-3000:])
    sys.stderr.write(cp.stderr[-3000:])
    if cp.returncode != 0:
        return cp.returncode
    changed = [int(n) for n in re.findall(r"\bchanged=(\d+)", cp.stdout)]
    if not changed or any(changed):
        print(f"NOT idempotent: the second run reported changed={changed}")
        return 1
    print("second run: changed=0 on every host")
    return 0


def _playbook(*args: str) -> str:
    """Run ansible-playbook against the demo inventory; its output, or SystemExit."""
    argv = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", INVENTORY, *args]
    cp = subprocess.run(argv, capture_output=True, text=True, check=False)
    if cp.returncode != 0:
        print(cp.stdout[-4000:], cp.stderr[-2000:])
        raise SystemExit(f"playbook failed: {' '.join(args)}")
    return cp.stdout


def _seen_from_lan(sb: "vnsb.Sandbox", ip: str, vm: str) -> str:
    return "answers" if probe.outside_fetch(sb, ip, vm) else "does not answer"


def cmd_moved() -> int:
    """A running guest on a NAT network; the network becomes a bridge-mode
    network on br-lan (virt_network, restart + reconnect); the guest renews its
    lease (what its admin does in seed 15.9 step 4) and the LAN reaches it."""
    sb, vm = _sb(), "mover"
    t0 = time.monotonic()
    _playbook(os.path.join(HERE, "moved.yml"), "-e", "demo_move_phase=nat")
    sb.virsh("destroy", vm, check=False)
    g = sb.start_guest(vm, nics=[{"type": "network", "source": "lab-move", "mac": vnsb.random_mac(f"{NAME}/{vm}")}])
    ip = g.wait_for_lease(timeout=90)
    boots = len(g.events("BOOTED"))
    print(f"   {vm} runs on lab-move (NAT) with {ip}; from the LAN it {_seen_from_lan(sb, ip, vm)}"
          f" (the LAN has no route to it)")
    _t("NAT network + guest", t0)
    t1 = time.monotonic()
    out = _playbook(os.path.join(HERE, "moved.yml"), "-e", "demo_move_phase=bridge")
    m = re.search(r"(actions: [a-z, ]+; guests reconnected: [A-Za-z0-9_.-]+(, [A-Za-z0-9_.-]+)*)", out)
    print(f"   virt_network: {m.group(1) if m else '(no report)'}")
    _t("lab-move redefined as bridge mode on br-lan and restarted", t1)
    t2 = time.monotonic()
    mark = len(g.console_log())
    g.run("kill -USR1 $(cat /run/udhcpc.eth0)")
    lan_ip = g.wait_for_lease(timeout=60, after=mark)
    seen = probe.outside_fetch(sb, lan_ip, vm)
    print(f"   {vm} renewed its lease on the LAN: {lan_ip}; from the LAN it {'answers' if seen else 'does not answer'};"
          f" rebooted: {'no' if len(g.events('BOOTED')) == boots else 'yes'}")
    _t("guest on the LAN", t2)
    g.destroy()
    return 0 if lan_ip.startswith("198.51.100.") and seen else 1


def cmd_external() -> int:
    """web1 on the NAT network; the externally_visible_vm role moves it onto a
    host bridge over lan2; a LAN host reaches it."""
    sb, vm = _sb(), "web1"
    t0 = time.monotonic()
    mac = vnsb.random_mac(f"{NAME}/{vm}")
    sb.virsh("destroy", vm, check=False)
    sb.virsh("undefine", vm, check=False)
    g = sb.start_guest(vm, nics=[{"type": "network", "source": "lab-nat", "mac": mac}], persistent=True)
    ip = g.wait_for_lease(timeout=90)
    print(f"   {vm} ({mac}) runs on lab-nat with {ip}; from the LAN it {_seen_from_lan(sb, ip, vm)}")
    _t("VM on the NAT network", t0)
    t1 = time.monotonic()
    out = _playbook(os.path.join(HERE, "external.yml"))
    recap = re.search(r"changed=(\d+)", out)
    print(f"   role externally_visible_vm: changed={recap.group(1) if recap else '?'}")
    _t("role: bridge br-ext over lan2, VM switched (and restarted if needed)", t1)
    t2 = time.monotonic()
    lan_lease = r"^VNSB LEASE eth0 \S+ (198\.51\.100\.\d+)"
    try:  # restarted by the role: the fresh boot asks the LAN's DHCP server
        lan_ip = g.wait_for(lan_lease, timeout=15).group(1)
    except TimeoutError:  # switched live: the guest renews its lease (seed 15.9 step 4)
        print("   (switched live, no restart: the guest renews its DHCP lease, RHEL 15.9 step 4)")
        g.run("kill -USR1 $(cat /run/udhcpc.eth0)")
        lan_ip = g.wait_for(lan_lease, timeout=60).group(1)
    seen = probe.outside_fetch(sb, lan_ip, vm)
    ports = sorted(sb.run_hv(["ls", "/sys/class/net/br-ext/brif"]).stdout.split())
    print(f"   br-ext holds {ports} (ip link show master br-ext)")
    print(f"   {vm} got {lan_ip} from the LAN's DHCP server; from the LAN it {'answers' if seen else 'does not answer'}")
    _t("VM on the LAN", t2)
    return 0 if seen and lan_ip.startswith("198.51.100.") else 1


def cmd_pxe() -> int:
    """pxe1 has no kernel of its own; virt_iface gives its NIC on lab-nat boot
    order 1 (seed 15.8.2), and it boots through iPXE from the TFTP server that
    site.yml set up on lab-nat with pxe_network (seed 15.8.1)."""
    sb, vm = _sb(), "pxe1"
    t0 = time.monotonic()
    sb.virsh("destroy", vm, check=False)
    sb.virsh("undefine", vm, check=False)
    mac = vnsb.random_mac(f"{NAME}/{vm}")
    g = sb.define_guest(vm, nics=[{"type": "network", "source": "lab-nat", "mac": mac}], netboot=True)
    out = _playbook(os.path.join(HERE, "pxe.yml"))
    flat = " ".join(out.split())   # the YAML callback folds long messages
    m = re.search(r"PXE lab-nat: .*?(matches the file on disk|NOT served as on disk: [^\"]*)", flat)
    print(f"   {m.group(0) if m else '(no report)'}")
    dom = sb.virsh("dumpxml", "--inactive", vm).stdout
    order = re.search(r"<boot order='(\d+)'/>", dom)
    print(f"   {vm}: no <kernel>, NIC {mac} boot order {order.group(1) if order else 'NONE'} (virt_iface)")
    _t("PXE server checked, VM defined with network boot first", t0)
    t1 = time.monotonic()
    sb.virsh("start", vm)
    ip = g.wait_for_lease(timeout=180)
    print(f"   {vm} booted the test kernel over TFTP and took lease {ip} on lab-nat")
    _t("power on -> iPXE -> TFTP -> kernel -> DHCP lease", t1)
    g.destroy()
    return 0 if order and ip.startswith("192.0.2.") else 1


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    cmd, rest = argv[0], argv[1:]
    if cmd == "table":
        return cmd_table()
    if cmd == "external":
        return cmd_external()
    if cmd == "moved":
        return cmd_moved()
    if cmd == "pxe":
        return cmd_pxe()
    if cmd == "idempotent":
        return cmd_idempotent(rest[1:] if rest[:1] == ["--"] else rest)
    print(f"unknown stage {cmd!r}\n{__doc__}")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
