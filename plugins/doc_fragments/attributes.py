# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # For modules that change the host.
    DOCUMENTATION = r"""
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - Check mode runs the same planner as a real run and stops before applying.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details:
      - The diff compares normalized models, not raw XML or command output.
  idempotent:
    description: When run twice in a row with the same parameters, the second run reports no change.
    support: full
"""

    # For the _info modules.
    INFO = r"""
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - This module only reads.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: N/A
    details:
      - This module only reads.
  idempotent:
    description: When run twice in a row with the same parameters, the second run reports no change.
    support: full
"""

    # For the NetworkManager modules: they take no option a whole group could
    # share (no uri), so they are in no action group.
    ACTION_GROUP_NONE = r"""
attributes:
  action_group:
    description: Use C(group/virtnet.networking.libvirt) in C(module_defaults) to set defaults for the libvirt modules.
    support: none
    membership: []
    details:
      - This module is in no action group (it takes no O(virtnet.networking.virt_network#module:uri)).
        Setting C(uri) for C(group/virtnet.networking.libvirt) or C(group/virtnet.networking.virtnet)
        in C(module_defaults) does not reach it.
"""
