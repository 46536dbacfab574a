"""How the sandbox reads what changes under it, without a sandbox running:
the guest console, which qemu writes in pieces (a lease line caught half
written must not be taken for a whole one: CI once read 203.0.113.15 from a
console that went on to say 203.0.113.150), and the hypervisor's links, whose
operstate the kernel updates up to a second after their carrier (CI once saw
a bridge go from UNKNOWN to DOWN between two snapshots of an unchanged host)
and IPv6 duplicate address detection, which adds a new tap's local route a
second or two after its address (CI once saw that route appear between two
snapshots too)."""
from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import vnsb


def test_a_half_written_lease_line_is_waited_out(tmp_path):
    g = vnsb.Guest(SimpleNamespace(state_dir=tmp_path), "half")
    g.dir.mkdir(parents=True)
    g.console_path.write_text("VNSB BOOTED\nVNSB LEASE eth0 52:54:00:00:00:01 203.0.113.15")

    def finish():
        time.sleep(0.5)
        with g.console_path.open("a") as f:
            f.write("0\r\nVNSB LEASE eth1 52:54:00:00:00:02 19")

    t = threading.Thread(target=finish)
    t.start()
    try:
        assert g.wait_for_lease("eth0", timeout=10) == "203.0.113.150"
        assert g.events("LEASE") == [["LEASE", "eth0", "52:54:00:00:00:01", "203.0.113.150"]]
    finally:
        t.join()


BRIDGE = "7: virbr2: <{flags}> mtu 1500 qdisc noqueue state {state} mode DEFAULT group default qlen 1000\\" \
         "    link/ether 52:54:00:7d:97:6d brd ff:ff:ff:ff:ff:ff"


def test_a_link_whose_operstate_lags_its_carrier_is_settling():
    settling = [("NO-CARRIER,BROADCAST,MULTICAST,UP", "UNKNOWN"),   # carrier lost, operstate not yet DOWN
                ("BROADCAST,MULTICAST,UP", "UNKNOWN"),
                ("BROADCAST,MULTICAST,UP,LOWER_UP", "DOWN")]        # carrier back, operstate not yet UP
    settled = [("NO-CARRIER,BROADCAST,MULTICAST,UP", "DOWN"),
               ("BROADCAST,MULTICAST,UP,LOWER_UP", "UNKNOWN"),
               ("BROADCAST,MULTICAST,UP,LOWER_UP", "UP"),
               ("BROADCAST,MULTICAST", "DOWN"),                       # administratively down
               ("NO-CARRIER,BROADCAST,MULTICAST,UP", "LOWERLAYERDOWN")]
    assert [vnsb.link_settling(BRIDGE.format(flags=f, state=st)) for f, st in settling] == [True] * 3
    assert [vnsb.link_settling(BRIDGE.format(flags=f, state=st)) for f, st in settled] == [False] * 5


LINKS = """1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000
2: lan0@if3: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000
7: virbr0: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue state DOWN mode DEFAULT group default qlen 1000
8: vnet0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue master virbr0 state UNKNOWN mode DEFAULT group \
default qlen 1000"""
ADDR = "{n}: {dev}    inet6 fe80::{n}/64 scope link {flags}\\       valid_lft forever preferred_lft forever"


def test_a_tentative_address_is_waited_for_only_on_a_link_with_carrier():
    def addrs(**flags):
        return "\n".join(ADDR.format(n=n, dev=dev, flags=flags.get(dev, "")) for n, dev in ((7, "virbr0"), (8, "vnet0")))
    assert vnsb.unsettled(LINKS, addrs(vnet0="tentative ")) == ["vnet0"]
    assert vnsb.unsettled(LINKS, addrs()) == []
    # no carrier: DAD does not run, the address stays tentative for good
    assert vnsb.unsettled(LINKS, addrs(virbr0="tentative ")) == []
    assert vnsb.unsettled(LINKS, addrs(vnet0="tentative dadfailed ")) == []
    lagging = LINKS.replace("<NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue state DOWN",
                            "<BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue state UNKNOWN")
    assert vnsb.unsettled(lagging, addrs()) == ["virbr0"]
