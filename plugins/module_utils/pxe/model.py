# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ``pxe_network`` manages, as a model: the task's parameters
(validated) and the PXE part of a libvirt network's XML.

The module owns three things in the network XML, all inside one IPv4
``<ip>`` element: ``<tftp root>``, ``<dhcp><bootp file server>`` and, only
when asked, the ``<dhcp><range>``.  Everything else is ``virt_network``'s
(or the user's) and is left exactly as it is: the XML is edited in place
with lxml, and the rest of the network is parsed with network.xml, never a
second time here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ansible_collections.virtnet.networking.plugins.module_utils.thirdparty import etree


from ansible_collections.virtnet.networking.plugins.module_utils.network import xml as nx
from ansible_collections.virtnet.networking.plugins.module_utils.pxe import claim as pxe_claim
from ansible_collections.virtnet.networking.plugins.module_utils.errors import ValidationError

DEFAULT_OWNER = "nobody"
ROOT_MODE = 0o755
FILE_MODE = 0o644


@dataclass(frozen=True)
class Owner:
    user: str
    uid: int
    group: str
    gid: int


@dataclass(frozen=True)
class Entry:
    """A file or directory as found (``exists`` False: nothing there)."""

    path: str
    exists: bool = False
    kind: str | None = None        # "dir", "file", "other"
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    size: int | None = None
    sha256: str | None = None
    context: str | None = None     # SELinux label


@dataclass(frozen=True)
class BootFile:
    name: str                   # relative to the TFTP root, normalized
    src: str | None = None      # absolute path on the hypervisor
    content: str | None = None  # literal content (an iPXE script, a pxelinux config)
    option: str = "boot_files"  # for messages: boot_files[2]


@dataclass(frozen=True)
class Pxe:
    """The PXE elements of one ``<ip>`` (None = element absent)."""

    address: str | None = None          # the <ip>'s address/prefix
    tftp_root: str | None = None
    bootp_file: str | None = None
    bootp_server: str | None = None
    ranges: tuple = ()
    # The range this module claims in the network's <metadata> (see
    # pxe.claim): config only, dnsmasq never sees it, so it is compared on
    # its own and never makes a restart pending.
    claimed: tuple | None = None

    def export(self) -> dict:
        return {
            "address": self.address,
            "tftp_root": self.tftp_root,
            "bootp": {"file": self.bootp_file, "server": self.bootp_server} if self.bootp_file else None,
            "dhcp_ranges": [{"start": s, "end": e} for s, e in self.ranges],
        }


@dataclass
class Want:
    network: str
    state: str = "present"
    address: str | None = None          # which IPv4 <ip>; None = the first
    tftp_root: str | None = None
    owner: str = DEFAULT_OWNER
    group: str | None = None
    boot_files: list = field(default_factory=list)
    bootp_file: str | None = None
    bootp_server: str | None = None
    dhcp_range: tuple | None = None
    restart: bool = False
    verify: bool = False
    selinux_reference: str | None = None


# --------------------------------------------------------------------------
# parameters -> Want
# --------------------------------------------------------------------------


# --------------------------------------------------------------------------
# XML: read and edit the PXE part only
# --------------------------------------------------------------------------

def _ip_pairs(root: Any, xml: str) -> list:
    """[(<ip> element, network.model.Ip)] for the IPv4 addresses, in order;
    network.xml parses the addresses, so both modules agree on them."""
    parsed = nx.parse(xml)
    return [(el, ip) for el, ip in zip(root.findall("ip"), parsed.ips or ()) if ip.family == 4]


def select_ip(root: Any, xml: str, address: str | None, network: str) -> tuple:
    pairs = _ip_pairs(root, xml)
    if not pairs:
        raise ValidationError("name", network, "the network has no IPv4 address, so libvirt runs no DHCP or TFTP "
                                               "server on it (a bridged network's PXE server is outside libvirt)")
    if address is None:
        return pairs[0]
    for el, ip in pairs:
        if ip.address == address or ip.address.split("/")[0] == address.split("/")[0]:
            return el, ip
    raise ValidationError("address", address, "is not an IPv4 address of network %r (it has %s)"
                          % (network, ", ".join(ip.address for _el, ip in pairs)))


def read(xml: str, address: str | None, network: str) -> Pxe:
    root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    _el, ip = select_ip(root, xml, address, network)
    return next(p for p in read_all(xml) if p.address == ip.address)


def read_all(xml: str) -> list:
    """The PXE part of every IPv4 ``<ip>`` of a network, in order."""
    root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    claim = pxe_claim.read(root)
    out = []
    for el, ip in _ip_pairs(root, xml):
        tftp = el.find("tftp")
        bootp = el.find("dhcp/bootp")
        out.append(Pxe(address=ip.address, tftp_root=tftp.get("root") if tftp is not None else None,
                       bootp_file=bootp.get("file") if bootp is not None else None,
                       bootp_server=bootp.get("server") if bootp is not None else None, ranges=ip.ranges,
                       claimed=claim[1] if claim and claim[0] == ip.address else None))
    return out


def dhcp_hosts(xml: str, address: str | None, network: str) -> tuple:
    """The static DHCP hosts (virt_network's) of the selected address."""
    root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    return select_ip(root, xml, address, network)[1].hosts


def target(want: Want, have: Pxe) -> Pxe:
    """What the <ip> should hold: the managed fields from the task, the
    rest from the host."""
    if want.state == "absent":
        return Pxe(address=have.address, ranges=have.ranges)
    return Pxe(address=have.address,
               tftp_root=want.tftp_root if want.tftp_root is not None else have.tftp_root,
               bootp_file=want.bootp_file if want.bootp_file is not None else have.bootp_file,
               bootp_server=want.bootp_server if want.bootp_file is not None else have.bootp_server,
               ranges=(want.dhcp_range,) if want.dhcp_range else have.ranges,
               claimed=want.dhcp_range or None)


def build(base: str, pxe: Pxe, network: str) -> str:
    """``base`` (the inactive XML) with the PXE elements of ``pxe.address``
    set; nothing else changes."""
    root = etree.fromstring(base.encode() if isinstance(base, str) else base,
                            etree.XMLParser(remove_blank_text=True))
    el, _ip = select_ip(root, base, pxe.address, network)
    tftp = el.find("tftp")
    if pxe.tftp_root is None:
        if tftp is not None:
            el.remove(tftp)
    else:
        if tftp is None:
            tftp = etree.Element("tftp")
            el.insert(0, tftp)  # the schema puts <tftp> before <dhcp>
        tftp.set("root", pxe.tftp_root)
    dhcp = el.find("dhcp")
    if dhcp is None and (pxe.bootp_file or pxe.ranges):
        dhcp = etree.SubElement(el, "dhcp")
    if dhcp is not None:
        if set(_ranges(dhcp)) != set(pxe.ranges):
            for r in dhcp.findall("range"):
                dhcp.remove(r)
            for i, rng in enumerate(pxe.ranges):
                dhcp.insert(i, nx.range_element(rng))  # ranges come first
        bootp = dhcp.find("bootp")
        if pxe.bootp_file is None:
            if bootp is not None:
                dhcp.remove(bootp)
        else:
            if bootp is None:
                bootp = etree.SubElement(dhcp, "bootp")
            bootp.attrib.clear()
            bootp.set("file", pxe.bootp_file)
            if pxe.bootp_server:
                bootp.set("server", pxe.bootp_server)
        if len(dhcp) == 0:
            el.remove(dhcp)
    claim = pxe_claim.read(root)
    if pxe.claimed:
        pxe_claim.write(root, (pxe.address, pxe.claimed))
    elif claim is not None and claim[0] == pxe.address:
        pxe_claim.write(root, None)  # released; a claim on another address is that task's
    etree.indent(root, space="  ")
    return etree.tostring(root, encoding="unicode") + "\n"


def _ranges(dhcp: Any) -> list:
    return [(r.get("start"), r.get("end")) for r in dhcp.findall("range")]


def differences(want: Pxe, have: Pxe) -> list:
    """Names of the fields that differ (for summaries and ``pending``)."""
    out = []
    if want.tftp_root != have.tftp_root:
        out.append("tftp root")
    if (want.bootp_file, want.bootp_server) != (have.bootp_file, have.bootp_server):
        out.append("bootp")
    if tuple(want.ranges) != tuple(have.ranges):
        out.append("dhcp range")
    return out


def claim_change(want: Pxe, have: Pxe) -> str | None:
    """How the recorded ownership of the DHCP range changes (None: it does
    not).  Only the definition carries it; nothing to restart for."""
    if want.claimed == have.claimed:
        return None
    if want.claimed:
        return "dhcp range %s-%s owned by pxe_network" % want.claimed
    return "dhcp range left to virt_network"


@dataclass
class HostState:
    """What the engine read from the host: network, TFTP root, boot files."""

    network: str
    active: bool = False
    persistent: bool = False
    config_xml: str = ""
    config: Pxe | None = None
    live: Pxe | None = None
    guests: list = field(default_factory=list)
    owner: Owner | None = None
    root: Entry | None = None
    files: dict = field(default_factory=dict)       # name -> Entry
    expected: dict = field(default_factory=dict)    # name -> (size, sha256)
    selinux: bool = False
    ref_type: str | None = None                     # SELinux type to copy
    selinux_ref: str | None = None                  # the file whose label is copied
    names: dict = field(default_factory=dict)       # path -> (user, group) owning it
