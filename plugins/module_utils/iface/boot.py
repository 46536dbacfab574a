# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Boot configuration of a domain, for ``virt_iface``'s ``boot_order``.

libvirt has two ways to say what a domain boots from, and refuses both at
once: the list ``<os><boot dev='hd|cdrom|network|fd'/>`` and a per-device
``<boot order='N'/>``.  libvirt also writes ``<boot dev='hd'/>`` into every
domain defined without any boot element, so nearly every existing VM uses
the list.  A per-device boot order for one NIC therefore means converting
the whole domain to per-device orders, in the same define:

* the requested interface gets its order;
* the devices each old ``<boot dev>`` entry named, in the old sequence,
  get the lowest orders still free (``hd`` -> disks with ``device='disk'``,
  ``cdrom`` -> CD-ROMs, ``network`` -> the other interfaces, ``fd`` ->
  floppies, each kind in document order); a kind without a device is
  skipped, no order is given twice;
* the ``<os><boot>`` elements are removed.

The planner (pure) calls :func:`convert`; the engine reads the devices with
:func:`boot_devices` and writes the result with :func:`apply_conversion`.
"""

from __future__ import annotations

from typing import Any

# <boot dev=...> -> which devices it names.
DEV_KINDS = ("hd", "cdrom", "network", "fd")
_DISK_KIND = {"disk": "hd", "cdrom": "cdrom", "floppy": "fd"}   # <disk device=...> -> <boot dev>


def label(dev: Any) -> str:
    """How a device is named to the user: ``interface <mac>``, ``disk vda``,
    ``cdrom sda``, ``floppy fda``."""
    if dev.tag == "interface" and dev.find("mac") is not None:
        return "interface %s" % dev.find("mac").get("address")
    kind = (dev.get("device") or "disk") if dev.tag == "disk" else dev.tag
    tgt = dev.find("target")
    if tgt is not None and tgt.get("dev"):
        return "%s %s" % (kind, tgt.get("dev"))
    return kind


def boot_devices(root: Any, *, skip: Any = None) -> list:
    """[(boot dev kind, label, ref)] of the devices an ``<os><boot dev>``
    entry can name, in document order; ``ref`` is (tag, index among the
    domain's elements of that tag), so the engine finds the element again
    in the XML it defines.  ``skip`` is the task's own interface element."""
    out = []
    for i, disk in enumerate(root.findall("devices/disk")):
        kind = _DISK_KIND.get(disk.get("device") or "disk")
        if kind:
            out.append((kind, label(disk), ("disk", i)))
    for i, nic in enumerate(root.findall("devices/interface")):
        if nic is not skip:
            out.append(("network", label(nic), ("interface", i)))
    return out


def os_boot(root: Any) -> tuple:
    """The ``<os><boot dev>`` list, in order."""
    return tuple(b.get("dev") for b in root.findall("os/boot"))


def convert(os_list: tuple, devices: list, *, taken: set) -> list:
    """[(label, ref, order)]: the orders the devices named by ``os_list``
    get; ``taken`` holds the orders already used (the task's own NIC's
    among them).  Pure: the truth table is unit-tested."""
    used = set(taken)
    out: list = []
    done: set = set()
    nxt = 1
    for kind in os_list:
        for dev_kind, name, ref in devices:
            if dev_kind != kind or ref in done:
                continue
            while nxt in used:
                nxt += 1
            out.append((name, ref, nxt))
            used.add(nxt)
            done.add(ref)
    return out


def describe(os_list: tuple, conversion: list, nic_label: str, order: int) -> str:
    """One line for the action summary and the warning."""
    old = ", ".join("<boot dev='%s'/>" % d for d in os_list)
    orders = sorted([(nic_label, order)] + [(n, o) for n, _r, o in conversion], key=lambda x: x[1])
    new = ", ".join("%s=%d" % (n, o) for n, o in orders)
    return "converted the os boot list (%s) to per-device boot orders: %s" % (old, new)


def apply_conversion(root: Any, conversion: list) -> None:
    """Remove ``<os><boot>`` from ``root`` and give the devices their
    ``<boot order>`` (the task's own NIC is written by iface.xml)."""
    for el in root.findall("os/boot"):
        el.getparent().remove(el)
    for _name, (tag, index), order in conversion:
        dev = root.findall("devices/" + tag)[index]
        for old in dev.findall("boot"):
            dev.remove(old)
        boot = dev.makeelement("boot", {"order": str(order)})
        # libvirt writes <boot> after <target>/<source>; where it goes does
        # not matter to the schema, but keep it before <address>.
        addr = dev.find("address")
        if addr is not None:
            addr.addprevious(boot)
        else:
            dev.append(boot)
