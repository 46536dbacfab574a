"""`./dev demo` as a newcomer runs it (playbooks/demo/run on its own sandbox
instance): it converges the lab with the playbooks, proves the second run
changes nothing, prints a measured table that agrees with the seed, the time
of every stage, how to look around and how to tear down; and it tears down
when asked."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "sandbox"))

import vnsb  # noqa: E402

NAME = "n8-demo"


@pytest.fixture(scope="module")
def demo_output():
    reason = vnsb.missing_requirements(True)
    if reason:
        pytest.skip(reason)
    env = dict(os.environ, VIRTNET_DEMO_NAME=NAME, VIRTNET_DEMO_KEEP="0")
    try:
        cp = subprocess.run(["bash", os.path.join(ROOT, "playbooks", "demo", "run")], cwd=ROOT, env=env, check=False,
                            capture_output=True, text=True, timeout=900)
    finally:
        vnsb.Sandbox(NAME).down(quiet=True)
    return cp


def test_demo_succeeds_and_tears_down(demo_output):
    assert demo_output.returncode == 0, demo_output.stdout[-4000:] + demo_output.stderr[-2000:]
    assert f"sandbox {NAME} torn down" in demo_output.stdout
    assert not os.path.exists(f"/run/netns/{NAME}-hv")


def test_demo_prints_measured_table_beside_the_seed(demo_output):
    out = demo_output.stdout
    assert "beside RHEL's Table 15.1" in out
    rows = {ln.split()[0]: ln for ln in out.splitlines()
            if re.match(r"^(bridged|nat|routed|isolated|open) +(YES|no) ", ln)}
    assert set(rows) == {"bridged", "nat", "routed", "isolated", "open"}, out
    assert "differs" not in out
    # NAT: out yes, visible no; isolated: neither (what the seed says, as measured).
    assert re.search(r"^nat +YES .*YES .*YES .*no  \(RHEL no\)$", rows["nat"]), rows["nat"]
    assert re.search(r"^isolated +YES .*YES .*no  \(RHEL no\) +no  \(RHEL no\)$", rows["isolated"])


def test_demo_proves_idempotence_and_times_each_stage(demo_output):
    out = demo_output.stdout
    assert "second run: changed=0 on every host" in out
    stages = re.findall(r"^  (.+?)\s+(\d+)s  ok$", out, re.M)
    titles = [t for t, _secs in stages]
    assert titles[:4] == [f"sandbox hypervisor up ({NAME})", "converge the reference lab (site.yml)",
                          "converge again: nothing may change", "measure: guests probe each connection type"]
    total = int(re.search(r"^  total\s+(\d+)s$", out, re.M).group(1))
    assert total >= sum(int(s) for _title, s in stages)


def test_demo_moves_a_running_guest_onto_the_lan(demo_output):
    out = demo_output.stdout
    assert re.search(r"mover runs on lab-move \(NAT\) with 203\.0\.113\.\d+; from the LAN it does not answer", out)
    assert "virt_network: actions: define, restart; guests reconnected: mover" in out
    assert re.search(r"mover renewed its lease on the LAN: 198\.51\.100\.\d+; from the LAN it answers; "
                     r"rebooted: no", out), out


def test_demo_boots_a_guest_from_the_pxe_network(demo_output):
    out = demo_output.stdout
    assert "PXE lab-nat: boot file boot.ipxe from /var/lib/libvirt/tftpboot" in out, out
    assert "matches the file on disk" in out
    assert re.search(r"pxe1: no <kernel>, NIC \S+ boot order 1 \(virt_iface\)", out), out
    assert re.search(r"pxe1 booted the test kernel over TFTP and took lease 192\.0\.2\.\d+ on lab-nat", out), out


def test_demo_makes_a_vm_externally_visible(demo_output):
    out = demo_output.stdout
    assert re.search(r"br-ext holds \['lan2', 'vnet\d+'\]", out), out
    assert re.search(r"web1 got 198\.51\.100\.\d+ from the LAN's DHCP server; from the LAN it answers", out), out
