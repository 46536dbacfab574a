#!/usr/bin/env python3
"""Benchmark: playbooks/site.yml on 1, 4 and 8 sandbox hypervisors over real
SSH (sandbox/fleet.py), forks = hosts. For each size: wall time and the
controller's CPU seconds (ansible-playbook and its children: ssh, the
ProxyCommand relays; not the modules, which run on the hypervisors) of the
converge (first run) and of the no-op (second run), beside the goal:
8 hosts within 1.25 x the two-core CPU bound, i.e. 8 x one host's CPU
seconds / 2 cores.  Prints figures; asserts nothing.

    .venv/bin/python bench/fleet.py [--sizes 1,4,8] [--rounds 1]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration" / "fleet"))

import fleetlib as fx  # noqa: E402


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    """CPU seconds of a process and of its children it has reaped."""
    try:
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(x) for x in f[11:15]) / TICK


def host_cpu(fl) -> float:
    """The hypervisors' side: each sshd (the modules run in its sessions) and
    libvirtd (with its dnsmasq) - on this machine they share the 2 cores."""
    return sum(proc_cpu(sb.meta["pids"][k]["pid"]) for sb in fl.sandboxes for k in ("sshd", "libvirtd"))


def close_masters(fl) -> None:
    """End the ssh control masters, so each sshd reaps its session and its
    CPU time is counted (they would linger for ControlPersist otherwise)."""
    cp = fl.dir / "cp"
    for sock in (cp.iterdir() if cp.is_dir() else []):
        subprocess.run(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "x"], capture_output=True, check=False)
    deadline = time.monotonic() + 10
    while cp.is_dir() and any(cp.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)


def timed_play(fl, playbook: str) -> tuple[float, float, float, dict]:
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".build"),
               ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_NOCOLOR="1")
    close_masters(fl)
    h0, c0, t0 = host_cpu(fl), children_cpu(), time.monotonic()
    cp = subprocess.run([str(fx.BIN / "ansible-playbook"), "-i", str(fl.inventory_dir), "-f", str(fl.size),
                         str(ROOT / "playbooks" / playbook)], env=env, capture_output=True, text=True,
                        timeout=1800, check=False)
    wall = time.monotonic() - t0
    close_masters(fl)
    cpu, hcpu = children_cpu() - c0, host_cpu(fl) - h0
    run = fx.Run(cp, wall)
    return wall, cpu, hcpu, {h: run.recap(h) for h in fl.hosts}


def reset(fl) -> None:
    """Back to a fresh host: no networks, the VM without interfaces."""
    for i, h in enumerate(fl.hosts, 1):
        sb = fl.sandbox(h)
        for n in sb.virsh("net-list", "--all", "--name").stdout.split():
            sb.virsh("net-destroy", n, check=False)
            sb.virsh("net-undefine", n, check=False)
        if i % 2 == 0:
            sb.virsh("undefine", fx.VM, check=False)
            xml = sb.state_dir / "flvm.xml"
            sb.virsh("define", str(xml))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1,4,8")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--name", default="bf")
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",")]
    if fx.vnsb.missing_requirements(False):
        print(fx.vnsb.missing_requirements(False), file=sys.stderr)
        return 2
    fl, _ = fx.start(a.name, max(sizes))
    rows = []
    try:
        for n in sizes:
            sub = fx.fleetmod.Fleet(a.name, max(sizes))
            sub.size = n                      # the first n hosts of the fleet
            sub.sandboxes = sub.sandboxes[:n]
            sub.write_inventory(fx.all_host_vars(sub))
            for r in range(a.rounds):
                reset(sub)
                cw, cc, ch, crec = timed_play(sub, "site.yml")
                nw, nc, nh, nrec = timed_play(sub, "site.yml")
                bad = [h for h in sub.hosts if crec[h]["failed"] or nrec[h]["failed"] or nrec[h]["changed"]]
                rows.append((n, r, cw, cc, nw, nc, bad, ch, nh))
                print(f"{n} host(s) round {r}: converge {cw:.1f}s wall, CPU {cc:.1f}s controller + {ch:.1f}s "
                      f"hypervisors; no-op {nw:.1f}s wall, CPU {nc:.1f}s + {nh:.1f}s"
                      f"{'  FAILED/CHANGED: ' + str(bad) if bad else ''}", flush=True)
    finally:
        fl.down()
    # one host's CPU seconds: controller + its hypervisor (both on these 2 cores)
    one = ({"c": min(r[3] + r[7] for r in rows if r[0] == 1), "n": min(r[5] + r[8] for r in rows if r[0] == 1)}
           if 1 in sizes else None)
    print("\nhosts | converge wall | CPU ctl+hv | no-op wall | CPU ctl+hv | goal: wall <= 1.25 x n x CPU(1 host)/2")
    for n in sizes:
        mine = [r for r in rows if r[0] == n]
        cw, cc = min(r[2] for r in mine), min(r[3] + r[7] for r in mine)
        nw, nc = min(r[4] for r in mine), min(r[5] + r[8] for r in mine)
        goal = ""
        if one:
            gc, gn = 1.25 * n * one["c"] / 2, 1.25 * n * one["n"] / 2
            goal = (f"converge {cw:.1f}s vs {gc:.1f}s ({'ok' if cw <= gc else 'over'}), "
                    f"no-op {nw:.1f}s vs {gn:.1f}s ({'ok' if nw <= gn else 'over'})")
        print(f"{n:5d} | {cw:12.1f}s | {cc:9.1f}s | {nw:9.1f}s | {nc:9.1f}s | {goal}")
    print(f"(load average at the end: {os.getloadavg()[0]:.1f}; 2 cores shared with other work)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
