# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  uri:
    description:
      - The libvirt connection URI.
      - A local socket can be named with C(?socket=), for example
        V(qemu:///system?socket=/run/libvirt/libvirt-sock).
      - On a host with the modular libvirt daemons (RHEL 9 and RHEL 10) the default V(qemu:///system)
        reaches C(virtqemud), which passes network calls on to C(virtnetworkd); nothing else is needed.
        Its socket by name is V(qemu:///system?socket=/run/libvirt/virtqemud-sock).
    type: str
    default: qemu:///system
attributes:
  action_group:
    description: Use C(group/virtnet.networking.libvirt) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - virtnet.networking.libvirt
      - virtnet.networking.virtnet
    details:
      - Every module of the group takes O(uri), so C(module_defaults) for the group can set it.
      - C(virtnet.networking.virtnet) is the name of the same group in earlier documentation and holds
        exactly the same modules; prefer C(virtnet.networking.libvirt).
requirements:
  - libvirt-python
  - lxml
"""
