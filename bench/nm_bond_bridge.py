#!/usr/bin/env python3
"""Benchmark: nm_bond_bridge against community.general.nmcli on the sandbox's
real NetworkManager, for the same job (a VM bridge br0 with port lan1 and a
static address).

For each tool: wall time of check mode, apply, apply again; whether check
mode predicted the apply (changed), whether the second run is quiet, and how
long until the outside namespace gets an answer from the bridge's address.
Also: how long nm_bond_bridge takes to refuse and roll back a bond the
kernel cannot create.  Prints figures; asserts nothing.

    .venv/bin/python bench/nm_bond_bridge.py [--name n6] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "sandbox"))
sys.path.insert(0, os.path.join(ROOT, "tests"))

import conftest  # noqa: E402,F401  (makes the collection importable)
import vnsb  # noqa: E402
from virtnet_testlib import BUILD  # noqa: E402

ADDR = "198.51.100.20"


def run(sb, fqmod: str, args: dict, check: bool = False) -> tuple:
    payload = {"ANSIBLE_MODULE_ARGS": dict(args, _ansible_check_mode=check)}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(payload, f)
    t0 = time.monotonic()
    cp = subprocess.run(sb.hv_argv([sys.executable, "-m", fqmod, f.name]), capture_output=True, text=True,
                        cwd=BUILD, env=dict(os.environ, PYTHONPATH=BUILD), check=False)
    dt = time.monotonic() - t0
    os.unlink(f.name)
    out = cp.stdout
    return dt, json.loads(out[out.index("{"):])


def wipe(sb) -> None:
    for line in sb.nmcli("-t", "-f", "UUID,TYPE", "connection", "show").stdout.splitlines():
        uuid, ctype = line.split(":")[:2]
        if ctype != "loopback":
            sb.nmcli("connection", "delete", "uuid", uuid)
    sb.run_hv(["ip", "link", "del", "br0"])


def until_answers(sb, limit: float = 30) -> float | None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if sb.run_out(["ping", "-c", "1", "-W", "1", ADDR]).returncode == 0:
            return time.monotonic() - t0
    return None


def ours(sb) -> dict:
    args = {"name": "br0", "ports": ["lan1"], "ipv4": {"addresses": [ADDR + "/24"]}}
    mod = "ansible_collections.virtnet.networking.plugins.modules.nm_bond_bridge"
    c, rc = run(sb, mod, args, check=True)
    a, ra = run(sb, mod, args)
    reach = until_answers(sb)
    g, rg = run(sb, mod, args)
    return {"check_s": c, "apply_s": a, "again_s": g, "reach_s": reach,
            "check_predicted": rc["changed"] == ra["changed"] and rc["actions"] == ra["actions"],
            "again_quiet": rg["changed"] is False}


def peer(sb) -> dict:
    """community.general.nmcli needs two tasks for the same job (bridge, port)."""
    mod = "ansible_collections.community.general.plugins.modules.nmcli"
    tasks = [{"conn_name": "br0", "type": "bridge", "ifname": "br0", "stp": False, "ip4": [ADDR + "/24"],
              "state": "present"},
             {"conn_name": "br0-port-lan1", "type": "bridge-slave", "ifname": "lan1", "master": "br0",
              "state": "present"}]
    res = {"check_s": 0.0, "apply_s": 0.0, "again_s": 0.0}
    changed = {}
    for phase, check in (("check_s", True), ("apply_s", False), ("again_s", False)):
        for t in tasks:
            dt, r = run(sb, mod, t, check=check)
            res[phase] += dt
            changed.setdefault(phase, []).append(bool(r.get("changed")))
    res["reach_s"] = until_answers(sb)
    res["check_predicted"] = changed["check_s"] == changed["apply_s"]
    res["again_quiet"] = not any(changed["again_s"])
    return res


def rollback(sb) -> float:
    args = {"name": "br0", "ports": ["lan1"], "ipv4": {"addresses": [ADDR + "/24"]}}
    mod = "ansible_collections.virtnet.networking.plugins.modules.nm_bond_bridge"
    run(sb, mod, args)
    dt, r = run(sb, mod, dict(args, ports=[], bond={"name": "bond0", "ports": ["lan1", "lan2"]}))
    assert r.get("failed") and "rolled back" in r["msg"], r
    return dt


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", default="n6")
    ap.add_argument("--rounds", type=int, default=3)
    opts = ap.parse_args()
    sb = vnsb.Sandbox(name=opts.name, with_nm=True)
    started = not sb.is_up()
    if started:
        sb.up()
    try:
        rows = {"nm_bond_bridge": [], "community.general.nmcli": []}
        rb = []
        for _ in range(opts.rounds):
            wipe(sb)
            rows["nm_bond_bridge"].append(ours(sb))
            wipe(sb)
            rows["community.general.nmcli"].append(peer(sb))
            wipe(sb)
            rb.append(rollback(sb))
        wipe(sb)
        print("%-26s %8s %8s %8s %9s %16s %12s" % ("tool (median of %d)" % opts.rounds, "check", "apply",
                                                   "again", "reach", "check==apply", "again quiet"))
        for tool, rs in rows.items():
            med = {k: statistics.median(r[k] for r in rs if r[k] is not None) if any(r[k] is not None for r in rs)
                   else None for k in ("check_s", "apply_s", "again_s", "reach_s")}
            print("%-26s %7.2fs %7.2fs %7.2fs %8s %16s %12s" % (
                tool, med["check_s"], med["apply_s"], med["again_s"],
                "%.2fs" % med["reach_s"] if med["reach_s"] is not None else "never",
                all(r["check_predicted"] for r in rs), all(r["again_quiet"] for r in rs)))
        print("nm_bond_bridge: failed bond refused and rolled back in %.2fs (median)" % statistics.median(rb))
    finally:
        if started:
            sb.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
