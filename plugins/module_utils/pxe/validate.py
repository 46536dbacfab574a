# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The parameters of ``pxe_network`` turned into the wanted state (:class:`Want`):
the only place that refuses bad input (``option=value: reason``)."""

from __future__ import annotations

import posixpath
from typing import Any
from ansible_collections.virtnet.networking.plugins.module_utils.pxe.model import DEFAULT_OWNER, BootFile, Pxe, Want
from ansible_collections.virtnet.networking.plugins.module_utils.thirdparty import netaddr
from ansible_collections.virtnet.networking.plugins.module_utils import validate as v
from ansible_collections.virtnet.networking.plugins.module_utils.errors import ValidationError


def abs_path(option: str, value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("/"):
        raise ValidationError(option, value, "must be an absolute path on the hypervisor")
    parts = value.split("/")
    if ".." in parts:
        raise ValidationError(option, value, "must not contain '..'")
    if "\0" in value or "\n" in value:
        raise ValidationError(option, value, "contains a NUL or newline")
    norm = posixpath.normpath(value)
    return "/" + norm.lstrip("/") if norm != "/" else norm


def boot_name(option: str, value: Any) -> str:
    """A file name relative to the TFTP root that cannot escape it."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(option, value, "must be a file name relative to the TFTP root")
    if value.startswith("/"):
        raise ValidationError(option, value, "must be relative to the TFTP root, not an absolute path")
    parts = value.split("/")
    if ".." in parts:
        raise ValidationError(option, value, "must stay inside the TFTP root (no '..')")
    if any(c in value for c in "\0\n\\") or any(p in ("", ".") for p in parts):
        raise ValidationError(option, value, "must be a plain path like pxelinux.0 or pxelinux.cfg/default")
    return value


def want_from_params(params: dict) -> Want:
    """Validate the task's parameters (nothing on the host is read)."""
    name = v.objname("name", params["name"])
    want = Want(network=name, state=params.get("state") or "present", restart=bool(params.get("restart")),
                verify=bool(params.get("verify")))
    if params.get("address"):
        want.address = str(v.ip_interface("address", params["address"], version=4)) \
            if "/" in str(params["address"]) else str(v.ip_address("address", params["address"], version=4))
    if want.state == "absent":
        return want
    if params.get("tftp_root") is not None:
        want.tftp_root = abs_path("tftp_root", params["tftp_root"])
        if want.tftp_root == "/":
            raise ValidationError("tftp_root", params["tftp_root"], "the file system root cannot be the TFTP root")
    owner = params.get("owner") or DEFAULT_OWNER
    want.owner = owner
    want.group = params.get("group")
    seen: set = set()
    for i, entry in enumerate(params.get("boot_files") or []):
        opt = "boot_files[%d]" % i
        bname = boot_name(opt + ".name", entry.get("name"))
        if bname in seen:
            raise ValidationError(opt + ".name", bname, "listed twice")
        seen.add(bname)
        src = entry.get("src")
        content = entry.get("content")
        if src is not None and content is not None:
            raise ValidationError(opt, bname, "give src or content, not both")
        if src is not None:
            src = abs_path(opt + ".src", src)
        want.boot_files.append(BootFile(name=bname, src=src, content=content, option=opt))
    if want.boot_files and want.tftp_root is None:
        raise ValidationError("boot_files", [b.name for b in want.boot_files], "needs tftp_root")
    if want.verify and not want.boot_files:
        raise ValidationError("verify", True, "needs boot_files to compare what the server sends with")
    if params.get("bootp_file") is not None:
        want.bootp_file = boot_name("bootp_file", params["bootp_file"])
    if params.get("bootp_server") is not None:
        if want.bootp_file is None:
            raise ValidationError("bootp_server", params["bootp_server"], "needs bootp_file")
        want.bootp_server = str(v.ip_address("bootp_server", params["bootp_server"], version=4))
    if (want.bootp_file and want.bootp_server is None and want.tftp_root is not None
            and want.bootp_file not in seen):
        raise ValidationError("bootp_file", want.bootp_file,
                              "is not among boot_files; list it there (with src or content, or none to check "
                              "that it is in the TFTP root)")
    rng = params.get("dhcp_range")
    if rng:
        start = v.ip_address("dhcp_range.start", rng["start"], version=4)
        end = v.ip_address("dhcp_range.end", rng["end"], version=4)
        if int(end) < int(start):
            raise ValidationError("dhcp_range.end", rng["end"], "is before dhcp_range.start")
        want.dhcp_range = (str(start), str(end))
    if params.get("selinux_reference") is not None:
        want.selinux_reference = abs_path("selinux_reference", params["selinux_reference"])
    return want


def check_bootp_served(want: Want, target: Pxe, hosts: tuple) -> None:
    """libvirt keeps ``<bootp>`` only inside a ``<dhcp>`` that serves
    something (a range or a host) and silently drops it otherwise: such a
    task could never converge, and no guest would be told the boot file."""
    if want.state == "absent" or want.bootp_file is None or target.ranges or hosts:
        return
    raise ValidationError("bootp_file", want.bootp_file,
                          "the network's address %s serves no DHCP (no range, no static host), so no guest would "
                          "be told the boot file and libvirt drops it: give dhcp_range here, or a range in "
                          "virtnet.networking.virt_network's ips[].dhcp.ranges for that address" % target.address)


def check_range(rng: tuple, address: str) -> None:
    """A DHCP range must lie in the subnet of the address it serves, and
    not cover that address itself (dnsmasq would hand it out)."""
    net = netaddr.IPNetwork(address)
    for opt, value in (("dhcp_range.start", rng[0]), ("dhcp_range.end", rng[1])):
        ip = netaddr.IPAddress(value)
        if ip not in net or ip in (net.network, net.broadcast):
            raise ValidationError(opt, value, "is not a host address of the network's subnet %s" % net.cidr)
    if int(netaddr.IPAddress(rng[0])) <= int(net.ip) <= int(netaddr.IPAddress(rng[1])):
        raise ValidationError("dhcp_range", "%s-%s" % rng, "includes the network's own address %s" % net.ip)
