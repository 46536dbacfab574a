# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who owns the DHCP range of a network that ``virt_network`` and
``pxe_network`` both manage.

The ownership rule, for one IPv4 ``<ip>`` of a libvirt network:

* ``virt_network`` owns the ``<ip>`` itself (address, prefix), its
  ``<dhcp><host>`` entries and, unless ``pxe_network`` claims them, its
  ``<dhcp><range>`` entries;
* ``pxe_network`` owns ``<tftp>``, ``<dhcp><bootp>`` and, while its task
  gives ``dhcp_range``, the ``<dhcp><range>`` of that ``<ip>``.

``pxe_network`` records that last claim in the network's own
``<metadata>`` (an element in this collection's namespace, which libvirt
keeps but gives no meaning to), because the range itself does not say who
set it.  ``virt_network`` reads the claim: an ``ips`` entry that gives no
DHCP range leaves the claimed range as it is (it is pxe_network's, not
"no DHCP"), and one that gives a different range is refused before anything
changes, since the two tasks would undo each other on every run.  The same
range in both tasks is no conflict.  ``pxe_network`` drops the claim when
its task no longer gives ``dhcp_range`` (or with ``state: absent``); the
range then belongs to ``virt_network`` again.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ansible_collections.virtnet.networking.plugins.module_utils.thirdparty import etree

from ansible_collections.virtnet.networking.plugins.module_utils.errors import ValidationError

NS = "https://example.invalid/virtnet/networking/xmlns/pxe_network/1"
PREFIX = "virtnet-pxe"
TAG = "{%s}dhcp-range" % NS


def _root(xml: Any) -> Any:
    if isinstance(xml, (str, bytes)):
        return etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    return xml


def read(xml: Any) -> tuple | None:
    """``(address, (start, end))`` claimed by pxe_network, or None."""
    el = _root(xml).find("metadata/" + TAG)
    if el is None or not el.get("address") or not el.get("start") or not el.get("end"):
        return None
    return el.get("address"), (el.get("start"), el.get("end"))


def write(root: Any, claim: tuple | None) -> None:
    """Set (``(address, (start, end))``) or drop (None) the claim in the
    parsed network XML ``root``; other applications' metadata stays."""
    meta = root.find("metadata")
    if meta is not None:
        for el in meta.findall(TAG):
            meta.remove(el)
    if claim is None:
        if meta is not None and len(meta) == 0:
            root.remove(meta)
        return
    if meta is None:
        meta = etree.Element("metadata")
        anchor = root.find("uuid")
        if anchor is None:
            anchor = root.find("name")
        anchor.addnext(meta)
    address, (start, end) = claim
    etree.SubElement(meta, TAG, {"address": address, "start": start, "end": end}, nsmap={PREFIX: NS})


def keep_claimed_ranges(want_ips: tuple | None, merged: Any, have: Any, have_xml: str | None) -> Any:
    """virt_network's side of the rule: ``merged`` (its target network) with
    the range pxe_network claims kept, or a ValidationError when the task
    sets another range on that address.  ``want_ips`` are the task's
    ``ips`` (None: not managed, nothing to do), ``have`` the parsed host
    config."""
    if want_ips is None or not have_xml:
        return merged
    claim = read(have_xml)
    if claim is None:
        return merged
    address, rng = claim
    host = {ip.address: ip for ip in (have.ips or ())}.get(address)
    ips = []
    for i, ip in enumerate(merged.ips or ()):
        if ip.address == address and host is not None:
            if ip.ranges and set(ip.ranges) != {rng}:
                raise ValidationError(
                    "ips[%d].dhcp.ranges" % i, ["%s-%s" % r for r in ip.ranges],
                    "the DHCP range of %s is pxe_network's (its dhcp_range=%s-%s); the two tasks would undo "
                    "each other on every run: set the range in one of them only (drop ips[%d].dhcp.ranges "
                    "here, or dhcp_range from the pxe_network task and run it again)" % (address, rng[0], rng[1], i))
            if not ip.ranges:
                ip = dataclasses.replace(ip, ranges=host.ranges, dhcp=bool(host.ranges or ip.hosts))
        ips.append(ip)
    return dataclasses.replace(merged, ips=tuple(ips))
