# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``virt_iface`` parameters -> :class:`iface_model.Interface` (*want*), with
every rule that needs no host: one validator, run before anything is read
or touched.  Rules that need the host (the network exists, the MAC is not
used by another guest...) are in iface.plan."""

from __future__ import annotations

import re
from typing import Any

from ansible_collections.virtnet.networking.plugins.module_utils import validate as v
from ansible_collections.virtnet.networking.plugins.module_utils.errors import ValidationError
from ansible_collections.virtnet.networking.plugins.module_utils.iface.model import (
    ALIAS_PREFIX, RENEW_DOWN_TIME, Desired, Interface, PortForward, PortRange, normalized_forwards, pci,
)

# libvirt's own rule for a user alias: ua- then letters, digits, _ and -.
_ALIAS_RE = re.compile(r"^ua-[A-Za-z0-9_-]+$")
_MODEL_RE = re.compile(r"^[A-Za-z0-9_-]+$")

# What makes a guest renew its DHCP lease after its NIC moved live to
# another network or bridge (see the renew option).
RENEW_MODES = ("link_bounce", "restart", "none")
RENEW_DOWN_TIME_MAX = 300


def alias(option: str, value: Any) -> str:
    if not isinstance(value, str) or not value.startswith(ALIAS_PREFIX):
        raise ValidationError(option, value, "libvirt user aliases must start with %r (like ua-web)" % ALIAS_PREFIX)
    if not _ALIAS_RE.fullmatch(value):
        raise ValidationError(option, value, "after 'ua-' only letters, digits, '_' and '-' are allowed")
    return value


def _ranges(option: str, items: list) -> tuple:
    out = []
    for i, r in enumerate(items or ()):
        opt = "%s[%d]" % (option, i)
        start = v.port(opt + ".start", r.get("start"))
        end = v.port(opt + ".end", r["end"]) if r.get("end") is not None else None
        to = v.port(opt + ".to", r["to"]) if r.get("to") is not None else None
        exclude = bool(r.get("exclude"))
        if end is not None and end < start:
            raise ValidationError(opt + ".end", end, "is below start=%d" % start)
        if end == start:
            end = None
        if exclude and to is not None:
            raise ValidationError(opt + ".to", to, "an excluded range is not forwarded anywhere; drop 'to'")
        if to is not None and to + ((end or start) - start) > 65535:
            raise ValidationError(opt + ".to", to, "the range %d-%d forwarded to %d would end past port 65535"
                                  % (start, end or start, to))
        out.append(PortRange(start=start, end=end, to=to, exclude=exclude))
    if not out:
        raise ValidationError(option, items, "a port forward needs at least one range")
    forwarded = [r for r in out if not r.exclude]
    if not forwarded:
        raise ValidationError(option, items, "only excluded ranges: nothing would be forwarded")
    for i, r in enumerate(out):
        if r.exclude and not any(f.start <= r.start and r.last <= f.last for f in forwarded):
            raise ValidationError("%s[%d]" % (option, i), "%d-%d" % (r.start, r.last),
                                  "an excluded range must lie inside a forwarded range of the same port forward")
    return tuple(out)


def _forwards(items: list) -> tuple:
    out = []
    for i, f in enumerate(items):
        opt = "port_forwards[%d]" % i
        address = str(v.ip_address(opt + ".address", f["address"])) if f.get("address") else None
        dev = v.ifname(opt + ".dev", f["dev"]) if f.get("dev") else None
        out.append(PortForward(proto=v.one_of(opt + ".proto", f.get("proto"), ("tcp", "udp")), address=address,
                               dev=dev, ranges=_ranges(opt + ".ranges", f.get("ranges"))))
    return normalized_forwards(tuple(out))


def _ips(items: list) -> tuple:
    out = []
    for i, text in enumerate(items):
        opt = "ips[%d]" % i
        if "/" in str(text):
            net = v.ip_interface(opt, text)
            out.append("%s/%d" % (net.ip, net.prefixlen))
        else:
            out.append(str(v.ip_address(opt, text)))
    if len([a for a in out if ":" not in a]) > 1 or len([a for a in out if ":" in a]) > 1:
        raise ValidationError("ips", items, "passt takes at most one IPv4 and one IPv6 address")
    return tuple(out)


def desired_from_params(p: dict) -> Desired:
    """The task's parameters -> Desired, or ValidationError naming the option."""
    domain = p["domain"]
    if not isinstance(domain, str) or not domain or "/" in domain:
        raise ValidationError("domain", domain, "not a domain name")
    itype = p.get("type")
    mac = v.mac("mac", p["mac"]) if p.get("mac") else None
    ua = alias("alias", p["alias"]) if p.get("alias") else None
    if mac is None and ua is None:
        raise ValidationError("mac", None, "give mac or alias (or both) to say which interface this is")
    restart_timeout = p.get("restart_timeout", 60)
    if restart_timeout is None or restart_timeout < 0:
        raise ValidationError("restart_timeout", restart_timeout, "must be 0 or more seconds")
    renew = p.get("renew") or "link_bounce"
    if renew not in RENEW_MODES:
        raise ValidationError("renew", renew, "must be one of %s" % ", ".join(RENEW_MODES))
    if renew == "restart" and not p.get("restart"):
        raise ValidationError("renew", renew, "restarting the domain after a live move needs restart=true too "
                              "(or renew=link_bounce to only bounce the link)")
    down = p.get("renew_down_time")
    down = RENEW_DOWN_TIME if down is None else down
    if not 1 <= down <= RENEW_DOWN_TIME_MAX:
        raise ValidationError("renew_down_time", down, "must be 1 to %d seconds" % RENEW_DOWN_TIME_MAX)
    if p.get("state", "present") == "absent":
        return Desired(domain=domain, iface=Interface(mac=mac, alias=ua), state="absent",
                       restart=bool(p.get("restart")), restart_timeout=restart_timeout)

    source = p.get("source")
    if source is not None:
        if itype == "hostdev":
            try:
                source = pci(source)
            except ValueError:
                raise ValidationError("source", source, "not a PCI address (like 0000:03:10.2) of the VF")
        elif itype in ("bridge", "direct", "user"):
            source = v.ifname("source", source)
        elif itype == "network":
            source = v.objname("source", source)
        else:
            raise ValidationError("source", source, "set type too, so the source can be read as a network, a "
                                  "bridge, a host device or a PCI address")
    _only("mode", p, itype, ("direct",))
    _only("port_forwards", p, itype, ("user",))
    _only("ips", p, itype, ("user",))
    _only("vlan", p, itype, ("hostdev",))
    _only("managed", p, itype, ("hostdev",))
    if itype == "hostdev" and p.get("model"):
        raise ValidationError("model", p["model"], "a hostdev interface is the VF itself; it has no emulated model")
    if p.get("model") is not None and not _MODEL_RE.fullmatch(p["model"]):
        raise ValidationError("model", p["model"], "not a NIC model name (letters, digits, '_' and '-')")
    if p.get("boot_order") is not None and p["boot_order"] < 1:
        raise ValidationError("boot_order", p["boot_order"], "boot order starts at 1")
    if p.get("vlan") is not None and not 1 <= p["vlan"] <= 4094:
        raise ValidationError("vlan", p["vlan"], "a VLAN tag is 1 to 4094")
    forwards = _forwards(p["port_forwards"]) if p.get("port_forwards") is not None else None
    iface = Interface(
        type=itype, source=source, mode=p.get("mode"), mac=mac, model=p.get("model"), link=p.get("link"),
        alias=ua, boot_order=p.get("boot_order"),
        # type=user always means the passt backend (qemu's own SLIRP is not offered).
        backend="passt" if itype == "user" else None,
        port_forwards=forwards,
        ips=_ips(p["ips"]) if p.get("ips") is not None else None,
        vlan=p.get("vlan"), managed=p.get("managed"),
    )
    return Desired(domain=domain, iface=iface, state="present", restart=bool(p.get("restart")),
                   restart_timeout=restart_timeout, renew=renew, renew_down_time=down)


def _only(option: str, p: dict, itype: str | None, types: tuple) -> None:
    if p.get(option) is not None and itype not in types:
        raise ValidationError(option, p[option], "only applies to type=%s (set type too)" % "/".join(types))
