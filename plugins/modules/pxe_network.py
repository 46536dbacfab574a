#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pxe_network
short_description: Serve PXE boot files from a libvirt network's own DHCP and TFTP server
version_added: 0.1.0
description:
  - Prepares a TFTP root on the hypervisor and points an existing libvirt network at it, so guests on the
    network can boot from it (Preboot Execution Environment).
  - The TFTP root is created if needed, with mode C(0755) (readable by all, never world-writable) and owned by
    O(owner), the user libvirt's dnsmasq serves files as. When SELinux is enabled, the root gets the label of
    libvirt's lease helper (as C(chcon -R --reference) does) and a C(semanage fcontext) rule where C(semanage)
    exists; without SELinux this step is skipped and RV(selinux) says so.
  - Boot files are copied into the root (from a file on the hypervisor or given content) or, without either,
    checked to be there. Each ends up mode C(0644) and owned by O(owner). Names that would leave the root
    (C(..), absolute paths) are refused.
  - In the network it owns only the C(<tftp root>) element, the C(<dhcp><bootp>) element and, when
    O(dhcp_range) is given, the DHCP range of one IPv4 C(<ip>). Everything else, such as what
    M(virtnet.networking.virt_network) manages, is left as it is, and M(virtnet.networking.virt_network) keeps
    these elements too, so both modules can manage the same network.
  - dnsmasq only reads these settings when the network starts. An active network is restarted only with
    O(restart=true) (its running guests are reconnected, as M(virtnet.networking.virt_network) does);
    otherwise the module returns RV(restart_required=true).
  - With O(verify=true), the module finally fetches every boot file over TFTP from the network's address and
    compares size and SHA-256 with what it should be, and fails when a file is not served as configured.
  - Every problem with the task (unknown network, user or source file, a TFTP root that is a file) is reported
    before anything is changed.
options:
  name:
    description: Name of an existing libvirt network.
    type: str
    required: true
  state:
    description:
      - V(present) sets what is given. V(absent) removes the C(<tftp>) and C(<bootp>) elements from the network;
        the TFTP root and its files are left on disk.
    type: str
    choices: [present, absent]
    default: present
  address:
    description:
      - The IPv4 address of the network (its C(<ip>) element) to serve from. Default is the first IPv4 address.
    type: str
  tftp_root:
    description:
      - Absolute path of the TFTP root on the hypervisor, for example V(/var/lib/tftpboot).
      - The root itself must not be a symlink (the module sets its owner, mode and SELinux label, which through a
        link would change the target); give the directory it points to. Symlinks among its parent directories are
        followed.
      - Nothing below the root is written through a symlink; a boot file whose name passes a symlink (a file or a
        directory) in the root is refused.
      - Unset leaves the network's C(<tftp>) element as it is (use it with O(bootp_server) when another host
        serves the files).
    type: path
  owner:
    description: The user that owns the TFTP root and boot files (the user dnsmasq serves files as).
    type: str
    default: nobody
  group:
    description: Their group; default is the primary group of O(owner).
    type: str
  boot_files:
    description:
      - Files to put in (or check in) the TFTP root. Needs O(tftp_root).
      - Files in the root that are not listed are left alone.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Path relative to the TFTP root, like V(pxelinux.0) or V(pxelinux.cfg/default).
        type: str
        required: true
      src:
        description: Absolute path of the file on the hypervisor to copy.
        type: path
      content:
        description: The file's content (an iPXE script, a boot menu). Mutually exclusive with O(boot_files[].src).
        type: str
  bootp_file:
    description:
      - The boot file the DHCP server hands to the guests (C(<bootp file>)). When the network serves the files
        itself (O(tftp_root) set, O(bootp_server) unset), it must be one of O(boot_files).
    type: str
  bootp_server:
    description: Another TFTP server to boot from (C(<bootp server>)); default is the network's own address.
    type: str
  dhcp_range:
    description:
      - "Set the DHCP range of the address to exactly this one, and own it (see the notes): a
        M(virtnet.networking.virt_network) task whose O(virtnet.networking.virt_network#module:ips) entry gives no
        range leaves it alone, one that gives another range is refused."
      - Leave it unset when M(virtnet.networking.virt_network) manages the ranges; a task without it gives a range it
        owned back to M(virtnet.networking.virt_network) (the range stays until that module changes it).
    type: dict
    suboptions:
      start: {description: First address., type: str, required: true}
      end: {description: Last address., type: str, required: true}
  restart:
    description:
      - Allow restarting an active network so dnsmasq picks up a change. Running guests are reconnected.
    type: bool
    default: false
  verify:
    description:
      - After the run, fetch each of O(boot_files) over TFTP from the network's address and fail unless size and
        SHA-256 match. Needs an active network; the result is in RV(verified). Not done in check mode.
    type: bool
    default: false
  selinux_reference:
    description:
      - The file whose SELinux label the TFTP root copies. Default is libvirt's C(libvirt_leaseshelper)
        (in C(/usr/libexec) or C(/usr/lib/libvirt)), else C(/usr/sbin/dnsmasq). Only used when SELinux is enabled.
    type: path
notes:
  - "Sharing a network with M(virtnet.networking.virt_network): that module owns each C(<ip>) (address, prefix), its
    C(<dhcp><host>) entries and its C(<dhcp><range>) entries; this module owns C(<tftp>), C(<dhcp><bootp>) and, while
    its task gives O(dhcp_range), the DHCP range of that address, which it records in the network's C(<metadata>)
    (an element in this collection's namespace; dnsmasq never sees it, so recording or dropping it needs no
    restart). Every combination then settles: the second run of each task changes nothing and restarts nothing.
    Refused before any change: the two tasks giving different ranges for the address
    (M(virtnet.networking.virt_network) says so), and O(bootp_file) on an address that serves no DHCP at all (no
    O(dhcp_range), no range or host from M(virtnet.networking.virt_network)): libvirt drops such a C(<bootp>)."
  - The module runs on the hypervisor (the files are written where it runs); O(uri) must reach the libvirt
    daemon of that same host.
  - A bridged network (O(name) with C(forward mode=bridge)) has no libvirt DHCP or TFTP server; its PXE server is
    outside libvirt, and only the guests' boot order matters there.
seealso:
  - module: virtnet.networking.pxe_network_info
    description: Read the PXE settings of the networks and fetch the boot file over TFTP.
  - module: virtnet.networking.virt_network
    description: Declare the network itself (addresses, DHCP range); PXE settings are kept across its redefines.
  - module: virtnet.networking.virt_iface
    description: Make a VM boot from the network (O(virtnet.networking.virt_iface#module:boot_order)).
  - ref: ansible_collections.virtnet.networking.docsite.rhel_procedures
    description: Which task does each procedure of the RHEL chapters on virtual networking, and which shows its Verification step.
requirements:
  - netaddr
  - lxml
extends_documentation_fragment:
  - virtnet.networking.libvirt
  - virtnet.networking.attributes
author:
  - virtnet.networking contributors (@virtnet)
"""

EXAMPLES = r"""
- name: PXE boot server on the default network, as in the RHEL procedure
  virtnet.networking.pxe_network:
    name: default
    tftp_root: /var/lib/tftpboot
    boot_files:
      - name: pxelinux.0
        src: /usr/share/syslinux/pxelinux.0
      - name: pxelinux.cfg/default
        content: |
          default linux
          label linux
            kernel vmlinuz
            append initrd=initrd.img
    bootp_file: pxelinux.0
    restart: true
    verify: true

- name: Boot from another TFTP server on the network
  virtnet.networking.pxe_network:
    name: lab
    bootp_file: pxelinux.0
    bootp_server: 192.0.2.5

- name: Stop offering PXE boot (the files stay)
  virtnet.networking.pxe_network:
    name: default
    state: absent
    restart: true
"""

RETURN = r"""
pxe:
  description:
    - The PXE settings of the network's definition and the TFTP root after the run (predicted in check mode).
  returned: always
  type: dict
  contains:
    network: {description: Network name., type: str, returned: always}
    active: {description: Whether the network runs., type: bool, returned: always}
    address: {description: The IPv4 address (with prefix) that offers PXE., type: str, returned: always}
    tftp_root: {description: The TFTP root (null when none)., type: str, returned: always}
    bootp:
      description: The boot file (null when none).
      type: dict
      returned: always
      contains:
        file: {description: Boot file name., type: str, returned: always}
        server: {description: The TFTP server that serves it (null for the network's own)., type: str, returned: always}
    dhcp_ranges:
      description: The DHCP ranges of the address.
      type: list
      elements: dict
      returned: always
      contains:
        start: {description: First address., type: str, returned: always}
        end: {description: Last address., type: str, returned: always}
    root:
      description: The TFTP root directory (null when it does not exist).
      type: dict
      returned: when O(tftp_root) is set and O(state=present)
      contains:
        path: {description: Path on the hypervisor., type: str, returned: always}
        mode: {description: "Octal mode, like V(0644).", type: str, returned: always}
        owner: {description: Owner name., type: str, returned: always}
        group: {description: Group name., type: str, returned: always}
        selinux_type: {description: "SELinux type of the label, like V(dnsmasq_exec_t).", type: str, returned: on SELinux hosts}
    files:
      description: The boot files of O(boot_files) in the TFTP root (only C(name) when one does not exist).
      type: list
      elements: dict
      returned: when O(tftp_root) is set and O(state=present)
      contains:
        name: {description: File name below the root., type: str, returned: always}
        path: {description: Path on the hypervisor., type: str, returned: when it exists}
        mode: {description: "Octal mode, like V(0644).", type: str, returned: when it exists}
        owner: {description: Owner name., type: str, returned: when it exists}
        group: {description: Group name., type: str, returned: when it exists}
        selinux_type: {description: "SELinux type of the label, like V(dnsmasq_exec_t).", type: str, returned: "when it exists, on SELinux hosts"}
        size: {description: Size in bytes., type: int, returned: when it exists}
        sha256: {description: SHA-256 of the content., type: str, returned: when it exists}
  sample:
    network: default
    active: true
    address: 192.168.122.1/24
    tftp_root: /var/lib/tftpboot
    bootp: {file: pxelinux.0, server: null}
    dhcp_ranges: [{start: 192.168.122.2, end: 192.168.122.254}]
    root: {path: /var/lib/tftpboot, mode: "0755", owner: nobody, group: nogroup}
    files: [{name: pxelinux.0, path: /var/lib/tftpboot/pxelinux.0, mode: "0644", owner: nobody, group: nogroup,
             size: 42378, sha256: 9f2c...}]
actions:
  description: What was (or would be) done, in order.
  returned: always
  type: list
  elements: dict
  contains:
    kind: {description: "Machine-readable step, such as V(define), V(update), V(restart).", type: str, returned: always}
    summary: {description: The step in words., type: str, returned: always}
    disruption:
      description:
        - Who notices. V(none) (invisible to running guests, a live update), V(config) (the persistent
          configuration only; takes effect at the next start), V(restart) (a network or device restarts;
          guests see a blip), V(reboot) (a guest or the host must restart).
      type: str
      returned: always
      choices: [none, config, restart, reboot]
restart_required:
  description: The running dnsmasq still serves the old settings; a restart (O(restart=true)) would apply them.
  returned: always
  type: bool
pending:
  description: What differs between the running network and its definition (V(tftp root), V(bootp), V(dhcp range)).
  returned: when RV(restart_required)
  type: list
  elements: str
reconnected:
  description: Guests whose interfaces were reconnected after a restart.
  returned: when the network was restarted
  type: list
  elements: str
selinux:
  description: What was done about SELinux labels, or why nothing was.
  returned: when O(tftp_root) is set
  type: str
  sample: "skipped: SELinux is not enabled on the hypervisor"
verified:
  description:
    - One entry per boot file fetched over TFTP from the network's address.
  returned: with O(verify=true)
  type: list
  elements: dict
  contains:
    name: {description: Boot file name., type: str, returned: always}
    server: {description: The TFTP server asked., type: str, returned: always}
    served: {description: Whether the server sent the file., type: bool, returned: always}
    size: {description: Size of what was sent., type: int, returned: when served}
    sha256: {description: SHA-256 of what was sent., type: str, returned: when served}
    seconds: {description: How long the transfer took., type: float, returned: when served}
    expected_size: {description: Size of the file as configured., type: int, returned: always}
    expected_sha256: {description: SHA-256 of the file as configured., type: str, returned: always}
    match: {description: Whether what was sent is the configured file., type: bool, returned: always}
    error: {description: Why nothing was served., type: str, returned: when not served}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.virtnet.networking.plugins.module_utils.pxe.spec import CONSTRAINTS, argument_spec
from ansible_collections.virtnet.networking.plugins.module_utils.engine import run
from ansible_collections.virtnet.networking.plugins.module_utils.libvirt.conn import require_libvirt
from ansible_collections.virtnet.networking.plugins.module_utils.thirdparty import require_libs
from ansible_collections.virtnet.networking.plugins.module_utils.pxe.engine import PxeEngine


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True, **CONSTRAINTS)
    require_libvirt(module)
    require_libs(module)
    run(module, PxeEngine(module))


if __name__ == "__main__":
    main()
