#!/usr/bin/env python3
"""Benchmark: how long a running guest is cut off when virt_network restarts
its network, and how long a live DHCP-host update takes.

Uses a sandbox instance (default name n3; started if it is not up, torn
down afterwards only if this script started it).  Prints figures; asserts
nothing.

    .venv/bin/python bench/network_restart.py [--name N] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "sandbox"))
sys.path.insert(0, os.path.join(ROOT, "tests"))

import conftest  # noqa: E402,F401  (makes the collection importable)
import vnsb  # noqa: E402

from ansible_collections.virtnet.networking.plugins.module_utils.libvirt.conn import Libvirt  # noqa: E402
from ansible_collections.virtnet.networking.plugins.module_utils.libvirt.restart import restart_network  # noqa: E402

NET = """<network xmlns:dnsmasq='http://libvirt.org/schemas/network/dnsmasq/1.0'>
  <name>vn3-bench</name><forward mode='nat'/><bridge name='vn3bench' stp='off' delay='0'/>
  <ip address='203.0.113.129' prefix='27'><dhcp><range start='203.0.113.140' end='203.0.113.150'/></dhcp></ip>
  <dnsmasq:options><dnsmasq:option value='no-ping'/></dnsmasq:options>
</network>"""
HOST = "<host mac='52:54:00:be:ec:%02x' ip='203.0.113.%d'/>"


def until_answers(sb: vnsb.Sandbox, ip: str, limit: float) -> float | None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if sb.run_hv(["ping", "-c", "1", "-W", "0.2", ip], check=False).returncode == 0:
            return time.monotonic() - t0
    return None


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", default="n3")
    ap.add_argument("--rounds", type=int, default=5)
    opts = ap.parse_args()
    sb = vnsb.Sandbox(opts.name)
    started = not sb.is_up()
    if started:
        sb.up()
    lv = Libvirt(sb.uri)
    guest = None
    try:
        net = lv.conn.networkDefineXML(NET)
        net.create()
        guest = sb.start_guest("vn3-bench-g", nics=[{"source": "vn3-bench"}])
        ip = guest.wait_for_lease(timeout=90)
        assert until_answers(sb, ip, 10) is not None

        restart, answer = [], []
        for _ in range(opts.rounds):
            t0 = time.monotonic()
            touched = restart_network(lv, "vn3-bench")
            t1 = time.monotonic()
            back = until_answers(sb, ip, 10)
            restart.append(t1 - t0)
            answer.append((t1 - t0) + back if back is not None else float("inf"))
            assert touched == ["vn3-bench-g"], touched

        # For comparison: a plain stop/start, as `virsh net-destroy; net-start` does.
        net.destroy()
        net.create()
        plain = until_answers(sb, ip, 5)

        upd = []
        for i in range(opts.rounds):
            xml = HOST % (i, 130 + i)
            t0 = time.monotonic()
            net.update(3, 4, 0, xml, 3)  # ADD_LAST, IP_DHCP_HOST, ip 0, LIVE|CONFIG
            upd.append(time.monotonic() - t0)

        print("restart_network() call:           median %.3f s  max %.3f s  (%d rounds)"
              % (statistics.median(restart), max(restart), opts.rounds))
        print("guest answers again after restart: median %.3f s  max %.3f s  (goal <= 2 s)"
              % (statistics.median(answer), max(answer)))
        print("plain net-destroy/net-start:       guest answers %s"
              % ("after %.3f s" % plain if plain is not None else "not within 5 s (tap left off the bridge)"))
        print("live DHCP host add (virNetworkUpdate live+config): median %.3f s  max %.3f s"
              % (statistics.median(upd), max(upd)))
    finally:
        if guest is not None:
            guest.destroy()
        n = lv.network("vn3-bench")
        if n is not None:
            if n.isActive():
                n.destroy()
            n.undefine()
        lv.close()
        if started:
            sb.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
