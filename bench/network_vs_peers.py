#!/usr/bin/env python3
"""virt_network next to community.libvirt.virt_net on the same sandbox
libvirt: what each reports and what libvirt actually holds afterwards.

Prints one line per scenario and tool: reported changed, the truth read
back from libvirt, and the run time.  Asserts nothing.

    .venv/bin/python bench/network_vs_peers.py [--name n3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "sandbox"))
sys.path.insert(0, os.path.join(ROOT, "tests"))

import conftest  # noqa: E402,F401
import vnsb  # noqa: E402

NAME = "vn3-peer"
BASE_XML = ("<network><name>%s</name><forward mode='nat'/><bridge name='vn3peer' stp='off'/>"
            "<ip address='203.0.113.129' prefix='27'><dhcp><range start='203.0.113.140' end='203.0.113.150'/>"
            "%s</dhcp></ip>%s</network>")
HOST = "<host mac='52:54:00:AB:00:01' name='h1' ip='203.0.113.131'/>"


def adhoc(module: str, uri: str, args: dict, check: bool = False) -> tuple:
    """Run a module through `ansible` ad hoc, the same way for both tools;
    (result, seconds)."""
    env = dict(os.environ, ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="json",
               ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_LOCALHOST_WARNING="0",
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build"))
    t0 = time.monotonic()
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible"), "localhost", "-c", "local",
                           "-m", module, "-a", json.dumps(dict(args, uri=uri))] + (["--check"] if check else []),
                          capture_output=True, text=True, env=env, check=False)
    took = time.monotonic() - t0
    out = json.loads(proc.stdout[proc.stdout.index("{"):])
    return out["plays"][0]["tasks"][0]["hosts"]["localhost"], took


def peer(uri: str, **args) -> tuple:
    return adhoc("community.libvirt.virt_net", uri, args)


def ours(uri: str, check: bool = False, **args) -> tuple:
    return adhoc("virtnet.networking.virt_network", uri, args, check=check)


def row(scenario: str, tool: str, res: dict, took: float, truth: str) -> None:
    state = "FAILED: " + res.get("msg", "")[:60] if res.get("failed") else "changed=%s" % res.get("changed")
    print("%-44s %-22s %-28s %5.2f s  %s" % (scenario, tool, state, took, truth))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", default="n3")
    sb = vnsb.Sandbox(ap.parse_args().name)
    if not sb.is_up():
        print("sandbox not up: python3 sandbox/vnsb.py up --name ...")
        return 1
    uri = sb.uri

    def xml(live: bool = False) -> str:
        return sb.virsh("net-dumpxml", *([] if live else ["--inactive"]), NAME, check=False).stdout

    def clean() -> None:
        sb.virsh("net-destroy", NAME, check=False)
        sb.virsh("net-undefine", NAME, check=False)

    decl = dict(name=NAME, forward={"mode": "nat"}, bridge={"name": "vn3peer", "stp": False},
                ips=[{"address": "203.0.113.129/27",
                      "dhcp": {"ranges": [{"start": "203.0.113.140", "end": "203.0.113.150"}]}}])
    print("%-44s %-22s %-28s %7s  %s" % ("scenario", "tool", "reported", "time", "libvirt afterwards"))
    try:
        # 1. create + start, then the same again
        clean()
        res, t = peer(uri, command="define", name=NAME, xml=BASE_XML % (NAME, "", ""))
        row("create", "virt_net define", res, t, "defined" if xml() else "missing")
        res, t = peer(uri, state="active", name=NAME)
        row("start", "virt_net state=active", res, t, "active" if NAME in sb.virsh("net-list", "--name").stdout
            else "inactive")
        res, t = peer(uri, command="define", name=NAME, xml=BASE_XML % (NAME, "", ""))
        row("same definition again", "virt_net define", res, t, "")
        clean()
        res, t = ours(uri, **decl)
        row("create + start", "virt_network", res, t, "active" if NAME in sb.virsh("net-list", "--name").stdout
            else "inactive")
        res, t = ours(uri, **decl)
        row("same definition again", "virt_network", res, t, "")

        # 2. an MTU change on the existing network
        clean()
        peer(uri, command="define", name=NAME, xml=BASE_XML % (NAME, "", ""))
        peer(uri, state="active", name=NAME)
        res, t = peer(uri, command="define", name=NAME, xml=BASE_XML % (NAME, "", "<mtu size='1400'/>"))
        row("mtu 1400 on existing network", "virt_net define", res, t,
            "definition has mtu" if "mtu size='1400'" in xml() else "definition unchanged (change lost)")
        clean()
        ours(uri, **decl)
        res, t = ours(uri, **dict(decl, mtu=1400))
        row("mtu 1400 on existing network", "virt_network", res, t,
            ("definition has mtu" if "mtu size='1400'" in xml() else "definition unchanged")
            + "; restart_required=%s" % res.get("restart_required"))

        # 3. a static DHCP host on the running network, then the same again
        clean()
        peer(uri, command="define", name=NAME, xml=BASE_XML % (NAME, "", ""))
        peer(uri, state="active", name=NAME)
        for attempt in ("add DHCP host", "same DHCP host again"):
            res, t = peer(uri, command="modify", name=NAME, xml=HOST)
            row(attempt, "virt_net modify", res, t,
                "live has host" if "52:54:00:AB:00:01" in xml(live=True).upper() else "live lacks host")
        clean()
        ours(uri, **decl)
        host_decl = dict(decl, ips=[dict(decl["ips"][0], dhcp=dict(decl["ips"][0]["dhcp"], hosts=[
            {"mac": "52:54:00:AB:00:01", "name": "h1", "ip": "203.0.113.131"}]))])
        for attempt in ("add DHCP host", "same DHCP host again"):
            res, t = ours(uri, **host_decl)
            row(attempt, "virt_network", res, t,
                "live has host" if "52:54:00:AB:00:01" in xml(live=True).upper() else "live lacks host")

        # 4. check mode of a change
        before = xml()
        res, t = ours(uri, check=True, **dict(decl, mtu=1500))
        row("check mode: mtu 1500", "virt_network", res, t,
            "host untouched" if xml() == before else "HOST CHANGED")
    finally:
        clean()
    return 0


if __name__ == "__main__":
    sys.exit(main())
