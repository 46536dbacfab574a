"""The molecule scenarios' hands on the sandbox (create/destroy = up/down,
plus test guests and probes from the LAN). Stdlib + sandbox/vnsb.py.

  sbctl.py up NAME [--with-nm]
  sbctl.py down NAME
  sbctl.py guest NAME VM --network NET --mac MAC    define + start a persistent test guest, wait for its lease
  sbctl.py lan-lease NAME VM --mac MAC              the VM's latest lease on the LAN (from the console log)
  sbctl.py fetch NAME IP VM                         HTTP GET from the LAN namespace; rc 0 when VM answers
"""
from __future__ import annotations

import argparse
import ipaddress
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "sandbox"))
sys.path.insert(0, os.path.join(ROOT, "playbooks", "demo"))

import vnsb  # noqa: E402
import probe  # noqa: E402

LAN = ipaddress.ip_network(f"{vnsb.LAN_GW}/{vnsb.LAN_PREFIX}", strict=False)


def _lease(g: "vnsb.Guest", mac: str, want_lan: bool | None, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        leases = [e for e in g.events("LEASE") if len(e) >= 4 and e[2].lower() == mac.lower()]
        if want_lan is not None:
            leases = [e for e in leases if (ipaddress.ip_address(e[3]) in LAN) == want_lan]
        if leases:
            return leases[-1][3]
        if time.monotonic() > deadline:
            raise SystemExit(f"{g.name}: no {'LAN ' if want_lan else ''}lease for {mac} in {timeout}s; "
                             f"console tail:\n{g.console_log()[-1500:]}")
        time.sleep(0.2)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("up")
    p.add_argument("name")
    p.add_argument("--with-nm", action="store_true")
    p = sub.add_parser("down")
    p.add_argument("name")
    p = sub.add_parser("guest")
    p.add_argument("name")
    p.add_argument("vm")
    p.add_argument("--network", required=True)
    p.add_argument("--mac", required=True)
    p.add_argument("--type", default="network")
    p = sub.add_parser("lan-lease")
    p.add_argument("name")
    p.add_argument("vm")
    p.add_argument("--mac", required=True)
    p.add_argument("--timeout", type=float, default=90)
    p = sub.add_parser("fetch")
    p.add_argument("name")
    p.add_argument("ip")
    p.add_argument("vm")
    a = ap.parse_args(argv)
    sb = vnsb.Sandbox(a.name, with_nm=getattr(a, "with_nm", False))
    if a.cmd == "up":
        vnsb.guest_image()
        sb.up()
        print(json.dumps({"uri": sb.uri}))
    elif a.cmd == "down":
        sb.down(quiet=True)
    elif a.cmd == "guest":
        g = sb.start_guest(a.vm, nics=[{"type": a.type, "source": a.network, "mac": a.mac}], persistent=True)
        print(json.dumps({"vm": a.vm, "ip": _lease(g, a.mac, None, 90)}))
    elif a.cmd == "lan-lease":
        print(json.dumps({"vm": a.vm, "ip": _lease(sb.guest(a.vm), a.mac, True, a.timeout)}))
    elif a.cmd == "fetch":
        ok = probe.outside_fetch(sb, a.ip, a.vm)
        print(json.dumps({"ip": a.ip, "answered": ok}))
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
