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
    type: str
    default: qemu:///system
requirements:
  - libvirt-python
  - lxml
"""
