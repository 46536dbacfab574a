#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pxe_network_info
short_description: Read which libvirt networks offer PXE boot, and whether the boot file is really served
version_added: 0.1.0
description:
  - Returns one entry per IPv4 address of a libvirt network that has a C(<tftp>) or a C(<bootp>) element (as
    M(virtnet.networking.pxe_network) sets them), with the TFTP root, the boot file and server, and whether the
    running network still has to be restarted to use them.
  - When the module runs on the hypervisor, the boot file in the TFTP root is looked at too (size and SHA-256).
  - With O(fetch=true), the boot file is fetched over TFTP from the server the guests ask, and compared with the file
    on disk.
options:
  name:
    description: Only this network. An unknown name returns an empty list.
    type: str
  fetch:
    description: Fetch each active network's boot file over TFTP (read-only; the file is hashed, not stored).
    type: bool
    default: false
seealso:
  - module: virtnet.networking.pxe_network
    description: Set up a PXE boot server on a virtual network.
  - ref: ansible_collections.virtnet.networking.docsite.rhel_procedures
    description: Which task does each procedure of the RHEL chapters on virtual networking, and which shows its Verification step.
notes:
  - "With O(fetch=true) it goes further than the Verification step of I(Configuring virtual machine network
    connections), 15.8.1 (C(virsh net-list)): it fetches the boot file over TFTP as a PXE client would."
requirements:
  - netaddr
  - lxml
extends_documentation_fragment:
  - virtnet.networking.libvirt
  - virtnet.networking.attributes.INFO
author:
  - virtnet.networking contributors (@virtnet)
"""

EXAMPLES = r"""
- name: Is the default network's boot file served?
  virtnet.networking.pxe_network_info:
    name: default
    fetch: true
  register: pxe

- name: Say so
  ansible.builtin.assert:
    that: pxe.pxe_networks | map(attribute='served.match') | list is all
"""

RETURN = r"""
pxe_networks:
  description: One entry per IPv4 address offering PXE, sorted by network name.
  returned: always
  type: list
  elements: dict
  contains:
    network: {description: Network name., type: str, returned: always}
    address: {description: The address (with prefix) the DHCP and TFTP server answers on., type: str, returned: always}
    active: {description: Whether the network runs., type: bool, returned: always}
    tftp_root: {description: The TFTP root (null when the network serves no files)., type: str, returned: always}
    bootp:
      description: The boot file (null when none).
      type: dict
      returned: always
      contains:
        file: {description: Boot file name., type: str, returned: always}
        server: {description: The TFTP server that serves it (null for the network's own)., type: str, returned: always}
    restart_pending:
      description: The running dnsmasq does not use these settings yet (the network needs a restart).
      type: bool
      returned: always
    file:
      description:
        - "The boot file in the TFTP root: C(path), C(exists), C(size), C(sha256) (null without both)."
        - "A symlink below the TFTP root (the file itself or a directory on its way) is not read through, as
          M(virtnet.networking.pxe_network) refuses it: then C(exists=false) and C(symlink) says which link points
          where."
      type: dict
      returned: always
      contains:
        path: {description: Path of the boot file., type: str, returned: always}
        exists: {description: Whether it is a regular file (false for a symlink on its way)., type: bool, returned: always}
        size: {description: Size in bytes (null when it does not exist)., type: int, returned: always}
        sha256: {description: SHA-256 of the content (null when it does not exist)., type: str, returned: always}
        symlink: {description: Which link below the TFTP root points where., type: str, returned: when a symlink was found}
    served:
      description:
        - "What the TFTP server sent: C(server), C(served), C(size), C(sha256), C(match) (with the file on disk;
          null when that is unknown) or C(error)."
      type: dict
      returned: with O(fetch=true) on an active network with a boot file
      contains:
        server: {description: The TFTP server asked., type: str, returned: always}
        served: {description: Whether the server sent the file., type: bool, returned: always}
        size: {description: Size of what was sent., type: int, returned: when served}
        sha256: {description: SHA-256 of what was sent., type: str, returned: when served}
        match: {description: Whether it is the file on disk (null when that is unknown)., type: bool, returned: when served}
        error: {description: Why nothing was served., type: str, returned: when not served}
  sample:
    - {network: default, address: 192.168.122.1/24, active: true, tftp_root: /var/lib/tftpboot,
       bootp: {file: pxelinux.0, server: null}, restart_pending: false,
       file: {path: /var/lib/tftpboot/pxelinux.0, exists: true, size: 42378, sha256: 9f2c...},
       served: {server: 192.168.122.1, served: true, size: 42378, sha256: 9f2c..., match: true}}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.virtnet.networking.plugins.module_utils.argspec import libvirt_argspec
from ansible_collections.virtnet.networking.plugins.module_utils.engine import run_info
from ansible_collections.virtnet.networking.plugins.module_utils.fsroot import FsRoot
from ansible_collections.virtnet.networking.plugins.module_utils.libvirt.conn import Libvirt, require_libvirt
from ansible_collections.virtnet.networking.plugins.module_utils.thirdparty import require_libs
from ansible_collections.virtnet.networking.plugins.module_utils.pxe.info import info


def argument_spec() -> dict:
    return libvirt_argspec(name={"type": "str"}, fetch={"type": "bool", "default": False})


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(),
                           supports_check_mode=True)
    require_libvirt(module)
    require_libs(module)
    with Libvirt(module.params["uri"]) as lv:
        run_info(module, lambda: info(lv, FsRoot("/"), name=module.params["name"], fetch=module.params["fetch"]))


if __name__ == "__main__":
    main()
