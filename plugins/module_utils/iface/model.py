# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The normalized model of one domain ``<interface>``, shared by
``virt_iface``, ``virt_iface_info`` and the SR-IOV helpers.

Both sides are expressed in this model: the task's parameters (*want*, see
iface.validate) and libvirt's XML (*have*, see iface.xml).  Normalization
makes them comparable: lowercase MACs, a PCI address as one canonical
string (``0000:03:10.2``), link state ``up`` when libvirt omits it, only
user aliases (``ua-...``; the ``net0`` aliases libvirt gives by itself are
not a setting), port forwards and their ranges sorted.

A field left ``None`` in *want* is not managed: :func:`merge` takes it from
the host, so what libvirt picks (the guest PCI address, the tap name) never
shows up as a difference.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

TYPES = ("network", "bridge", "direct", "user", "hostdev")
DIRECT_MODES = ("vepa", "bridge", "private", "passthrough")
LINK_STATES = ("up", "down")
ALIAS_PREFIX = "ua-"
# libvirt's own default for a direct interface without a mode.
DIRECT_MODE_DEFAULT = "vepa"
# What a new interface gets when the task does not name a model.
MODEL_DEFAULT = "virtio"

_PCI_RE = re.compile(r"^(?:([0-9a-fA-F]{1,4}):)?([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-7])$")


@dataclass(frozen=True)
class PortRange:
    """``<range start end to exclude/>`` of a passt port forward."""

    start: int
    end: int | None = None
    to: int | None = None
    exclude: bool = False

    @property
    def last(self) -> int:
        return self.end if self.end is not None else self.start


@dataclass(frozen=True)
class PortForward:
    """``<portForward proto address dev>`` with its ranges (sorted)."""

    proto: str
    address: str | None = None
    dev: str | None = None
    ranges: tuple = ()


@dataclass(frozen=True)
class Interface:
    """One guest NIC.

    ``source`` depends on ``type``: the network name (network), the host
    bridge (bridge), the host device (direct, and the passt ``<source dev>``
    of user), the host PCI address of the VF (hostdev).  ``pci_address`` is
    the *guest side* PCI address libvirt assigned; it is never asked for,
    only carried over so an edit keeps it.
    """

    type: str | None = None
    source: str | None = None
    mode: str | None = None            # direct only
    mac: str | None = None
    model: str | None = None
    link: str | None = None            # "up" / "down"
    alias: str | None = None           # "ua-..." only
    boot_order: int | None = None
    backend: str | None = None         # "passt" for type user
    port_forwards: tuple | None = None  # (PortForward, ...)
    ips: tuple | None = None           # ("192.0.2.1/24", "2001:db8::5", ...) for passt
    vlan: int | None = None            # hostdev VF VLAN tag
    managed: bool | None = None        # hostdev managed='yes'
    pci_address: str | None = None     # guest side, preserved


# Fields a running domain can change with virDomainUpdateDeviceFlags.
LIVE_FIELDS = ("link", "source")
# Fields that only exist on one interface type: dropped when the type changes.
TYPE_FIELDS = {
    "direct": ("mode",),
    "user": ("backend", "port_forwards", "ips"),
    "hostdev": ("vlan", "managed"),
}


def pci(value: str) -> str:
    """``3:10.2`` / ``0000:03:10.2`` -> ``0000:03:10.2``; ValueError when not one."""
    m = _PCI_RE.fullmatch(str(value).strip())
    if not m:
        raise ValueError("not a PCI address")
    dom, bus, slot, fn = m.groups()
    return "%04x:%02x:%02x.%d" % (int(dom or "0", 16), int(bus, 16), int(slot, 16), int(fn))


def pci_attrs(addr: str) -> dict:
    """``0000:03:10.2`` -> the attributes of libvirt's ``<address type='pci'>``."""
    dom, bus, rest = pci(addr).split(":")
    slot, fn = rest.split(".")
    return {"type": "pci", "domain": "0x" + dom, "bus": "0x" + bus, "slot": "0x" + slot, "function": "0x" + fn}


def pci_from_attrs(attrs: dict) -> str:
    return "%04x:%02x:%02x.%d" % tuple(int(attrs.get(k, "0"), 0) for k in ("domain", "bus", "slot", "function"))


def range_key(r: PortRange) -> tuple:
    return (r.exclude, r.start, r.last, r.to or 0)


def forward_key(f: PortForward) -> tuple:
    return (f.proto, f.address or "", f.dev or "", tuple(range_key(r) for r in f.ranges))


def normalized_forwards(forwards: tuple) -> tuple:
    return tuple(sorted((dataclasses.replace(f, ranges=tuple(sorted(f.ranges, key=range_key))) for f in forwards),
                        key=forward_key))


def merge(want: Interface, have: Interface | None) -> Interface:
    """The interface to converge to: every unset field of ``want`` from
    ``have``; a new interface gets libvirt's defaults (so check mode can
    predict what libvirt stores) and a changed type drops the fields of the
    old type."""
    if have is None:
        fill: dict = {"link": want.link or "up"}
        if want.type in ("network", "bridge", "direct", "user") and want.model is None:
            fill["model"] = MODEL_DEFAULT
        if want.type == "direct" and want.mode is None:
            fill["mode"] = DIRECT_MODE_DEFAULT
        if want.type == "user":
            fill.update(port_forwards=want.port_forwards or (), ips=want.ips or ())
        if want.type == "hostdev" and want.managed is None:
            fill["managed"] = True
        return dataclasses.replace(want, **fill)
    out = {}
    type_changed = want.type is not None and want.type != have.type
    dropped = set(TYPE_FIELDS.get(have.type, ())) if type_changed else set()
    for f in dataclasses.fields(Interface):
        w = getattr(want, f.name)
        if w is not None:
            out[f.name] = w
        elif f.name in dropped or (type_changed and f.name == "source"):
            out[f.name] = None
        else:
            out[f.name] = getattr(have, f.name)
    merged = Interface(**out)
    if type_changed:
        # The new type's own defaults, as for a new interface of that type.
        if merged.type == "direct" and merged.mode is None:
            merged = dataclasses.replace(merged, mode=DIRECT_MODE_DEFAULT)
        if merged.type == "user":
            merged = dataclasses.replace(merged, port_forwards=merged.port_forwards or (), ips=merged.ips or ())
        if merged.type == "hostdev" and merged.managed is None:
            merged = dataclasses.replace(merged, managed=True)
    return merged


def differences(a: Interface, b: Interface, *, ignore: tuple = ("pci_address",)) -> list:
    """Names of the fields that differ (``ignore``: fields nobody manages)."""
    return [f.name for f in dataclasses.fields(Interface)
            if f.name not in ignore and getattr(a, f.name) != getattr(b, f.name)]


def _export_forward(f: PortForward) -> dict:
    out = {k: v for k, v in (("proto", f.proto), ("address", f.address), ("dev", f.dev)) if v is not None}
    out["ranges"] = [{k: v for k, v in (("start", r.start), ("end", r.end), ("to", r.to), ("exclude", r.exclude or None))
                      if v is not None} for r in f.ranges]
    return out


def export(iface: Interface | None, *, with_address: bool = False) -> dict:
    """JSON view of an interface (for diff and return values).

    The guest PCI address is left out unless asked for: libvirt picks it for
    a new interface, so check mode could not predict it.
    """
    if iface is None:
        return {}
    out: dict = {"type": iface.type, "source": iface.source, "mac": iface.mac, "model": iface.model,
                 "link": iface.link, "alias": iface.alias, "boot_order": iface.boot_order}
    if iface.type == "direct":
        out["mode"] = iface.mode
    if iface.type == "user":
        out["backend"] = iface.backend
        out["port_forwards"] = [_export_forward(f) for f in iface.port_forwards or ()]
        out["ips"] = list(iface.ips or ())
    if iface.type == "hostdev":
        out["vlan"] = iface.vlan
        out["managed"] = iface.managed
    if with_address:
        out["pci_address"] = iface.pci_address
    return out


@dataclass
class HostState:
    """What libvirt has for the domain and the interface the task means."""

    domain: str
    exists: bool = False
    running: bool = False
    persistent: bool = False
    config: Interface | None = None      # the interface in the persistent config
    live: Interface | None = None        # the interface in the running domain
    config_index: int | None = None         # its position among the config's <interface>s
    others: list = field(default_factory=list)   # the domain's other interfaces (config and live)
    acpi: bool = True                        # the running domain has <acpi/> (or needs none)
    os_boot: tuple = ()                      # the config's <os><boot dev=...> list ("hd", ...)
    boot_devices: list = field(default_factory=list)  # [(boot dev kind, label, ref)] other devices (iface.boot)
    kernel: bool = False                     # the config boots a kernel directly (<os><kernel>)
    live_os_boot: bool = False               # the running domain uses <os><boot dev=...>
    boot_orders: dict = field(default_factory=dict)   # boot order -> what has it (other devices)
    aliases: set = field(default_factory=set)         # user aliases of the domain's other devices
    host_macs: dict = field(default_factory=dict)     # MAC -> "domain X" for every other NIC on the host
    config_targets: list = field(default_factory=list)  # [(label, <target dev>, is this NIC)] in the config
    own_links: set = field(default_factory=set)        # tap / macvtap names the running domain holds
    networks: dict | None = None             # network name -> active; None when not read
    links: dict | None = None                # host interface -> is a bridge; None when not visible


# Seconds the link stays down during a link bounce: longer than the grace
# period NetworkManager gives a lost carrier before it drops the connection
# (so a RHEL guest really restarts DHCP), short enough not to matter on a
# NIC whose address is useless on the new network anyway.
RENEW_DOWN_TIME = 8


@dataclass
class Desired:
    """What the task asks for, beyond the interface itself."""

    domain: str
    iface: Interface
    state: str = "present"
    restart: bool = False
    restart_timeout: int = 60
    renew: str = "link_bounce"
    renew_down_time: int = RENEW_DOWN_TIME
