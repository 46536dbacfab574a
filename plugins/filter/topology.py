# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# The documentation of both filters is in topology.yml and topology_drift.yml.

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
