# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the pxe _info module returns: read only, never changes the host."""

from __future__ import annotations

from ansible_collections.virtnet.networking.plugins.module_utils.pxe import files as pfiles
from ansible_collections.virtnet.networking.plugins.module_utils.pxe import model as pm
from ansible_collections.virtnet.networking.plugins.module_utils.pxe import tftp
from ansible_collections.virtnet.networking.plugins.module_utils.fsroot import FsRoot
from ansible_collections.virtnet.networking.plugins.module_utils.libvirt.conn import Libvirt, NETWORK_XML_INACTIVE


def _boot_file_on_disk(fs: FsRoot, root: str, name: str) -> dict:
    """The boot file as pxe_network would accept it: a symlink anywhere below
    the TFTP root (the file itself or a directory on the way) is reported, not
    read through, since it may point anywhere on the hypervisor."""
    path = root.rstrip("/") + "/" + name
    link = pfiles.symlink_below(fs, root, name)
    if link:
        return {"path": path, "exists": False, "size": None, "sha256": None,
                "symlink": "%s -> %s (not read: pxe_network refuses symlinks in the TFTP root)" % link}
    e = pfiles.stat_entry(fs, path, digest=True)
    return {"path": e.path, "exists": e.exists and e.kind == "file", "size": e.size, "sha256": e.sha256}


def info(lv: Libvirt, fs: FsRoot, *, name: str | None = None, fetch: bool = False) -> dict:
    """Every IPv4 address of the networks that offers PXE (a ``<tftp>`` or a
    ``<bootp>``): what the definition and the running dnsmasq have, the boot
    file on disk, and (``fetch``) what the TFTP server really sends."""
    nets = lv.networks()
    if name is not None:
        nets = [n for n in nets if n.name() == name]  # unknown: an empty list, as virt_network_info
    out = []
    for net in sorted(nets, key=lambda n: n.name()):
        config_xml = lv.call("reading network %r" % net.name(), net.XMLDesc, NETWORK_XML_INACTIVE)
        active = bool(net.isActive())
        live = {p.address: p for p in pm.read_all(net.XMLDesc(0))} if active else {}
        for pxe in pm.read_all(config_xml):
            if pxe.tftp_root is None and pxe.bootp_file is None:
                continue
            entry = dict(pxe.export(), network=net.name(), active=active,
                         restart_pending=active and pm.differences(pxe, live.get(pxe.address, pm.Pxe())) != [])
            del entry["dhcp_ranges"]
            disk = None
            if pxe.tftp_root and pxe.bootp_file:
                disk = _boot_file_on_disk(fs, pxe.tftp_root, pxe.bootp_file)
            entry["file"] = disk
            if fetch and active and pxe.bootp_file:
                server = pxe.bootp_server or pxe.address.split("/")[0]
                try:
                    got = tftp.fetch(server, pxe.bootp_file)
                except tftp.TftpError as err:
                    entry["served"] = {"server": server, "served": False, "error": str(err)}
                else:
                    entry["served"] = {"server": server, "served": True, "size": got.size, "sha256": got.sha256,
                                       "match": None if not disk or not disk["exists"]
                                       else (got.size, got.sha256) == (disk["size"], disk["sha256"])}
            out.append(entry)
    return {"pxe_networks": out}
