# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: topology
short_description: Draw a hypervisor's virtual networking as a Graphviz DOT graph
version_added: 0.2.0
description:
  - Turns what the collection's _info modules return into a left-to-right graph, the way a frame travels -
    host NICs, bonds, host bridges, libvirt networks (forward mode, bridge, addresses, DHCP ranges and hosts,
    state), and the VMs' NICs (one cluster per VM; MAC, alias, model, addresses, link state). PXE servers are
    drawn beside their network, SR-IOV VFs between their physical function and the VM that holds one.
  - Nodes named by O(drift) items (see P(virtnet.networking.topology_drift#filter)) are outlined in red with
    the difference in their label; a declared object the host lacks is drawn as a dashed red placeholder.
  - Node IDs are readable and stable (V(net:default), V(vnic:web1/52:54:00:00:71:01)), so they can be found
    by the C(<title>) of the SVG Graphviz makes of it. Every name is escaped for DOT (quotes, backslashes,
    C(&)).
  - Render the result with Graphviz, for example C(dot -Tsvg). C(playbooks/report.yml) does that for every
    host of an inventory.
options:
  _input:
    description:
      - "The host's state, a dict with any of: C(networks) (RV(virtnet.networking.virt_network_info#module:networks)),
        C(domains) (RV(virtnet.networking.virt_iface_info#module:domains)),
        C(bridges) (RV(virtnet.networking.nm_bond_bridge_info#module:bridges)),
        C(pxe_networks) (RV(virtnet.networking.pxe_network_info#module:pxe_networks)),
        C(pfs) (RV(virtnet.networking.sriov_vf_info#module:pfs))."
    type: dict
    required: true
  drift:
    description: Drift items to mark, as P(virtnet.networking.topology_drift#filter) returns them.
    type: list
    elements: dict
    default: []
  host:
    description: The graph's name and title.
    type: str
    default: hypervisor
author:
  - virtnet.networking contributors (@virtnet)
"""

EXAMPLES = r"""
- name: Read the host
  virtnet.networking.virt_network_info:
  register: nets

- name: Read the VMs' interfaces
  virtnet.networking.virt_iface_info:
  register: ifaces

- name: Write the picture's source
  ansible.builtin.copy:
    dest: /tmp/{{ inventory_hostname }}.dot
    content: "{{ {'networks': nets.networks, 'domains': ifaces.domains} | virtnet.networking.topology(host=inventory_hostname) }}"
    mode: "0644"
  delegate_to: localhost
"""

RETURN = r"""
_value:
  description: A DOT C(digraph) named after O(host).
  type: str
  sample: |
    digraph "hv1" {
      "net:default" [shape=box, fillcolor="#dcfce7", label="network default\nmode nat, bridge virbr0\n..."];
      "net:default" -> "vnic:web1/52:54:00:00:71:01";
    }
"""

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.collections import is_sequence

from ansible_collections.virtnet.networking.plugins.plugin_utils.topology import to_dot
from ansible_collections.virtnet.networking.plugins.plugin_utils.topology_drift import drift


def topology(facts, drift=None, host="hypervisor"):
    if not isinstance(facts, dict):
        raise AnsibleFilterError("topology: the input must be a dict of _info results, got %s" % type(facts).__name__)
    if drift is not None and not is_sequence(drift):
        raise AnsibleFilterError("topology: drift=%s: must be a list of drift items" % (drift,))
    try:
        return to_dot(facts, list(drift or []), str(host))
    except (KeyError, TypeError, AttributeError) as e:
        raise AnsibleFilterError("topology: the input is not what the _info modules return (%s: %s)"
                                 % (type(e).__name__, e))


def topology_drift(facts, declared):
    if not isinstance(facts, dict) or not isinstance(declared, dict):
        raise AnsibleFilterError("topology_drift: the input and declared must be dicts")
    try:
        return drift(facts, declared)
    except (KeyError, TypeError, AttributeError) as e:
        raise AnsibleFilterError("topology_drift: the input or declared is not in the expected shape (%s: %s)"
                                 % (type(e).__name__, e))


class FilterModule:
    def filters(self):
        return {"topology": topology, "topology_drift": topology_drift}
