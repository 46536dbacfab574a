"""virtnet.networking.topology and topology_drift on fixed inputs in the
shape the _info modules return: the exact DOT (order, labels, escaping of
names with quotes, backslashes, < and &), the drift items verify.yml would
fail on, and their red marks on the graph. Graphviz itself renders one
graph to check that an escaped name shows as written."""
from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.virtnet.networking.plugins.filter.topology import FilterModule

F = FilterModule().filters()
VM = 'we"b<1>&\\n'          # quotes, <, >, & and a backslash-n a DOT label would read as a newline


def facts() -> dict:
    net = {"name": "lan-nat", "forward": {"mode": "nat"}, "bridge": {"name": "virbr9", "stp": False, "delay": 0},
           "ips": [{"address": "192.0.2.1/26", "family": "ipv4",
                    "dhcp": {"ranges": [{"start": "192.0.2.10", "end": "192.0.2.40"}],
                             "hosts": [{"mac": "52:54:00:00:00:0a", "ip": "192.0.2.5", "name": None}]}}],
           "active": True, "autostart": True, "persistent": True, "restart_pending": False}
    bridged = {"name": "lan", "forward": {"mode": "bridge"}, "bridge": {"name": "br0"}, "ips": [],
               "active": True, "autostart": False, "persistent": True, "restart_pending": False}
    nic = {"type": "network", "source": "lan-nat", "model": "virtio", "mac": "52:54:00:00:00:0a", "link": "up",
           "alias": "ua-nat", "host_dev": "vnet0",
           "addresses": [{"address": "192.0.2.5", "prefix": 26, "family": "ipv4", "origin": "lease"}]}
    down = {"type": "bridge", "source": "br0", "model": "e1000e", "mac": "52:54:00:00:00:0b", "link": "down",
            "alias": None, "host_dev": None, "addresses": []}
    vf_nic = {"type": "hostdev", "source": "0000:03:10.0", "model": None, "mac": "52:54:00:00:00:0c", "link": None,
              "alias": None, "host_dev": None, "addresses": []}
    return {
        "networks": [net, bridged],
        "domains": [{"name": VM, "running": True, "persistent": True, "interfaces": [nic, vf_nic],
                     "config_only": [down]}],
        "bridges": {"br0": {"name": "br0", "ports": [],
                            "bond": {"name": "bond0", "mode": "active-backup", "ports": ["eth1", "eth2"]},
                            "status": {"bridge": {"operstate": "up", "stp": False,
                                                  "ports": {"bond0": {}, "vnet1": {}}},
                                       "bond": {"mode": "active-backup", "mii_status": "up",
                                                "active_port": "eth1", "ports": {"eth1": {}, "eth2": {}}}}}},
        "pxe_networks": [{"network": "lan-nat", "address": "192.0.2.1/26", "active": True,
                          "tftp_root": "/srv/tftp", "bootp": {"file": "boot.ipxe", "server": None},
                          "restart_pending": False, "file": None,
                          "served": {"served": True, "match": True}}],
        "pfs": [{"pf": "eth3", "pci": "0000:03:00.0", "driver": "ixgbe", "totalvfs": 7, "numvfs": 1,
                 "vfs": [{"index": 0, "pci": "0000:03:10.0", "netdev": "eth3v0",
                          "vms": [{"vm": VM, "mac": "52:54:00:00:00:0c", "kind": "interface",
                                   "config": True, "live": True}]}]}],
    }


VMID = "we_b_1___n~" + __import__("hashlib").sha1(VM.encode()).hexdigest()[:6]

# The golden graph; VMID stands for the VM's node ID (its name made safe, with a hash of the real name).
with open(os.path.join(os.path.dirname(__file__), "topology.dot"), encoding="utf-8") as f:
    EXPECTED = f.read().replace("VMID", VMID)


def declared() -> dict:
    return {
        "networks": [{"name": "lan-nat", "forward": {"mode": "nat"}, "autostart": True,
                      "ips": [{"address": "192.0.2.1/26",
                               "dhcp": {"ranges": [{"start": "192.0.2.10", "end": "192.0.2.50"}],
                                        "hosts": [{"mac": "52:54:00:00:00:0A", "ip": "192.0.2.5"}]}}]},
                     {"name": "lan", "forward": {"mode": "bridge"}, "bridge": {"name": "br0"}},
                     {"name": "gone", "forward": {"mode": "nat"}},
                     {"name": "old", "state": "absent"}],
        "bridges": [{"name": "br0", "bond": {"name": "bond0", "ports": ["eth1", "eth2"]}}],
        "pxe_networks": [{"name": "lan-nat", "tftp_root": "/srv/tftp", "bootp_file": "boot.ipxe"}],
        "sriov_vfs": [{"pf": "eth3", "num_vfs": 2, "attach": {"vm": VM}}],
        "vm_interfaces": [{"domain": VM, "alias": "ua-nat", "type": "network", "source": "lan-nat"},
                          {"domain": VM, "mac": "52:54:00:00:00:0B", "type": "bridge", "source": "br0",
                           "link": "up"},
                          {"domain": VM, "alias": "ua-pxe", "type": "network", "source": "lan"}],
    }


def test_drift_lists_every_difference_verify_would_fail_on():
    items = F["topology_drift"](facts(), declared())
    assert [i["message"] for i in items] == [
        "PF eth3: 1 VFs, inventory wants 2",
        "network lan-nat: DHCP range on 192.0.2.1/26 is 192.0.2.10-192.0.2.40, inventory wants 192.0.2.10-192.0.2.50",
        "network gone: missing, inventory declares it",
        "VM %s interface 52:54:00:00:00:0b: link is down, inventory wants up" % VM,
        "VM %s interface ua-pxe: missing, inventory declares it" % VM,
    ]
    assert [i["node"] for i in items] == ["nic:eth3", "net:lan-nat", "net:gone",
                                          "vnic:%s/52:54:00:00:00:0b" % VMID, "vnic:%s/ua-pxe" % VMID]


def test_no_drift_when_the_host_is_as_declared():
    want = declared()
    want["networks"] = want["networks"][:2] + want["networks"][3:]
    want["networks"][0]["ips"][0]["dhcp"]["ranges"][0]["end"] = "192.0.2.40"
    want["sriov_vfs"][0]["num_vfs"] = 1
    want["vm_interfaces"] = want["vm_interfaces"][:1] + [dict(want["vm_interfaces"][1], link="down")]
    assert F["topology_drift"](facts(), want) == []


def test_exact_dot_with_escaping_and_drift_marks():
    dot = F["topology"](facts(), drift=F["topology_drift"](facts(), declared()), host="hv&1")
    assert dot == EXPECTED


def test_a_network_changed_by_hand_is_marked_and_one_removed_is_drawn_as_missing():
    f = facts()
    f["networks"] = f["networks"][1:]            # lan-nat removed with virsh
    dot = F["topology"](f, drift=F["topology_drift"](f, declared()), host="hv")
    node = re.search(r'^  "net:lan-nat" \[(.*)\];$', dot, re.M).group(1)
    assert 'label="network lan-nat\\nnot defined\\nDRIFT: missing"' in node and 'class="drift"' in node, node
    # the NIC that used it and the PXE server still hang from it
    assert '"net:lan-nat" -> "vnic:%s/52:54:00:00:00:0a";' % VMID in dot
    assert '"net:lan-nat" -> "pxe:lan-nat" [style=dashed, arrowhead=none];' in dot


def test_bad_input_is_refused_by_name():
    with pytest.raises(AnsibleFilterError, match="topology: the input must be a dict"):
        F["topology"]([1, 2])
    with pytest.raises(AnsibleFilterError, match="drift=oops: must be a list"):
        F["topology"]({}, drift="oops")
    with pytest.raises(AnsibleFilterError, match="not what the _info modules return"):
        F["topology"]({"networks": [{"no_name": 1}]})


@pytest.mark.skipif(not shutil.which("dot"), reason="Graphviz (dot) not installed")
def test_graphviz_shows_escaped_names_as_written():
    dot = F["topology"](facts(), drift=F["topology_drift"](facts(), declared()), host="hv&1")
    svg = subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True, check=True).stdout
    # the SVG text, unescaped once by the browser, is the VM name as written
    assert ">VM we&quot;b&lt;1&gt;&amp;\\n (running)</text>" in svg
    assert len(re.findall(r'<g id="node\d+" class="node drift">', svg)) == 5
    assert "<title>net:lan&#45;nat</title>" in svg or "<title>net:lan-nat</title>" in svg
