"""Helpers of the fleet tests: a fleet of sandbox hypervisors reached over
real SSH (sandbox/fleet.py), per-host inventory variables, and playbook runs
read through the ansible.posix.json callback (per host, per task, per item)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "sandbox"))

import fleet as fleetmod  # noqa: E402
import vnsb  # noqa: E402
from virtnet_testlib import ANSIBLE_BIN  # noqa: E402

BIN = Path(ANSIBLE_BIN)
FAST = ["no-ping"]
VM = "flvm"


def size() -> int:
    """8 hypervisors with `./dev test-fleet`, 3 in the integration suite."""
    return int(os.environ.get("VIRTNET_FLEET_SIZE", "3"))


def vm_mac(i: int) -> str:
    return "52:54:00:f1:%02x:01" % i


def host_vars(i: int, extra: bool = False) -> dict:
    """Different variables per host: 1 to 3 networks (NAT with a host-specific
    DHCP reservation, isolated, routed), and on even hosts a shut-off VM with
    an interface on the NAT network."""
    nets = [{"name": "fl-nat", "forward": {"mode": "nat"}, "bridge": {"name": "virbr-flnat", "stp": False},
             "ips": [{"address": "192.0.2.1/26",
                      "dhcp": {"ranges": [{"start": "192.0.2.10", "end": "192.0.2.40"}],
                               "hosts": [{"mac": vm_mac(i), "ip": "192.0.2.%d" % (10 + i), "name": "web%d" % i}]}}],
             "dnsmasq_options": FAST, "autostart": True}]
    if i % 3 >= 1:
        nets.append({"name": "fl-iso", "forward": {"mode": "isolated"},
                     "bridge": {"name": "virbr-fliso", "stp": False},
                     "ips": [{"address": "192.0.2.65/26"}], "dnsmasq_options": FAST, "autostart": False})
    if i % 3 == 2:
        nets.append({"name": "fl-routed", "forward": {"mode": "route"},
                     "bridge": {"name": "virbr-flrt", "stp": False},
                     "ips": [{"address": "192.0.2.129/26"}], "dnsmasq_options": FAST, "autostart": True})
    if extra:
        nets.append({"name": "fl-extra", "forward": {"mode": "isolated"},
                     "bridge": {"name": "virbr-flx", "stp": False},
                     "ips": [{"address": "192.0.2.193/26"}], "dnsmasq_options": FAST})
    hv = {"virtnet_networks": nets}
    if i % 2 == 0:
        hv["virtnet_vm_interfaces"] = [{"domain": VM, "alias": "ua-nat", "mac": vm_mac(i),
                                        "type": "network", "source": "fl-nat"}]
    return hv


def all_host_vars(fl, extra: bool = False) -> dict:
    return {h: host_vars(i, extra) for i, h in enumerate(fl.hosts, 1)}


def start(name: str, n: int) -> tuple[fleetmod.Fleet, dict]:
    fl = fleetmod.Fleet(name, n)
    timings = fl.up()
    for i, h in enumerate(fl.hosts, 1):
        if i % 2 == 0:
            sb = fl.sandbox(h)
            xml = sb.state_dir / "flvm.xml"
            xml.write_text(sb.guest_xml(VM, []))
            sb.virsh("define", str(xml))
    fl.write_inventory(all_host_vars(fl))
    settle(fl)
    return fl, timings


def settle(fl, timeout: float = 15) -> None:
    """IPv6 DAD of fresh namespaces settles by itself; wait for it so host
    snapshots compare only what a playbook could have touched."""
    deadline = time.monotonic() + timeout
    for sb in fl.sandboxes:
        while "tentative" in sb.run_hv(["ip", "-o", "addr"]).stdout and time.monotonic() < deadline:
            time.sleep(0.2)
    time.sleep(0.3)


class Run:
    """One ansible-playbook run, read from the ansible.posix.json callback."""

    def __init__(self, cp: subprocess.CompletedProcess, seconds: float) -> None:
        self.cp = cp
        self.seconds = seconds
        try:
            self.data = json.loads(cp.stdout[cp.stdout.index("{"):])
        except ValueError as e:
            raise AssertionError(f"no JSON from ansible-playbook: {cp.stdout[-3000:]}{cp.stderr[-3000:]}") from e
        self.stats = self.data["stats"]

    def recap(self, host: str) -> dict:
        s = self.stats[host]
        return {"ok": s["ok"], "changed": s["changed"], "failed": s["failures"],
                "unreachable": s["unreachable"]}

    def results(self, host: str):
        """(task name, item label or None, result) of every result of host."""
        for play in self.data["plays"]:
            for task in play["tasks"]:
                r = task["hosts"].get(host)
                if r is None:
                    continue
                name = task["task"]["name"]
                if "results" in r and isinstance(r["results"], list):
                    for item in r["results"]:
                        label = (item.get("_ansible_item_label") or item.get("item"))
                        yield name, json.dumps(label, sort_keys=True), item
                else:
                    yield name, None, r

    def changes(self, host: str) -> set:
        """What changed (or would change, in check mode) on host: task + item.
        site.yml's one hypervisor task counts per object it touched (its
        ``actions`` name the item and the object), so a check run's set is
        its prediction of the real run's, object by object."""
        out = set()
        for t, i, r in self.results(host):
            if not r.get("changed"):
                continue
            actions = r.get("actions")
            if isinstance(actions, list) and actions and isinstance(actions[0], dict) and "item" in actions[0]:
                out |= {(t, json.dumps(a["name"])) for a in actions}
            else:
                out.add((t, i))
        return out

    def predicted(self, host: str) -> set:
        """A check run's prediction of what the real run changes."""
        return self.changes(host)

    def failures(self, host: str) -> list[str]:
        return [f"{t}: {r.get('msg')}" for t, i, r in self.results(host) if r.get("failed")]

    def fact(self, host: str, task: str, var: str):
        for t, _, r in self.results(host):
            if (t == task or t.endswith(" : " + task)) and var in r:   # a role's tasks: "role : name"
                return r[var]
        raise KeyError(f"{host}: no {var} in task {task!r}")

    def __str__(self) -> str:
        return (f"rc={self.cp.returncode} stats={json.dumps(self.stats)}\n"
                f"{self.cp.stdout[-3000:]}\n{self.cp.stderr[-3000:]}")


def play(fl, playbook: str, *extra: str, timeout: float = 600) -> Run:
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".build"),
               ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_NOCOLOR="1",
               ANSIBLE_HOST_KEY_CHECKING="True")
    t0 = time.monotonic()
    cp = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(fl.inventory_dir), "-f", str(max(5, fl.size)),
                         str(ROOT / "playbooks" / playbook), *extra],
                        env=env, capture_output=True, text=True, timeout=timeout, check=False)
    return Run(cp, time.monotonic() - t0)


def net_rows(fl, host: str) -> list[list[str]]:
    """`virsh net-list --all` of a host: [name, state, autostart] per network."""
    out = fl.sandbox(host).virsh("net-list", "--all").stdout
    return sorted(r.split()[:3] for r in out.splitlines() if r.strip())


def want_rows(hv: dict) -> list[list[str]]:
    return sorted([n["name"], "active", "yes" if n.get("autostart") else "no"] for n in hv["virtnet_networks"])


def snapshot(fl) -> dict:
    return {h: fl.sandbox(h).snapshot() for h in fl.hosts}


def kill_libvirtd(sb) -> None:
    lv = sb.meta["pids"]["libvirtd"]
    vnsb._kill_pids([lv["pid"]])
    assert not vnsb._alive(lv["pid"], lv.get("start"))


def fleet_processes(fl) -> list[str]:
    """Processes anywhere on the machine that belong to the fleet (by their
    command line naming its dir, state dirs or namespaces)."""
    marks = [str(fl.dir)] + [str(sb.state_dir) + "/" for sb in fl.sandboxes] + \
        [f"/run/netns/{sb.hv_ns}" for sb in fl.sandboxes]
    found = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(m in cmd for m in marks):
            found.append(f"{p.name} {cmd}")
    return found


def fleet_rss_mb(fl) -> int:
    """RSS of every process in the fleet's namespaces (the machine's free
    memory moves with other work; this does not)."""
    total = 0
    for sb in fl.sandboxes:
        for pid in fx_pids(sb):
            m = re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text()) \
                if Path(f"/proc/{pid}/status").exists() else None
            total += int(m.group(1)) if m else 0
    return total // 1024


def fx_pids(sb) -> list[int]:
    return vnsb._netns_pids(sb.hv_ns) + vnsb._netns_pids(sb.out_ns)
