# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The planner of ``virt_iface``: pure functions from (desired, host state)
to a :class:`engine.Plan`.  Check mode and the real run both call it.

Identity (which NIC of the domain the task means):

* with ``alias``: the interface carrying that user alias; when none does
  and ``mac`` is given, the interface with that MAC, but only if it has no
  user alias of its own (then the alias is added to it);
* with ``mac`` only: the interface with that MAC;
* the persistent config and the running domain are searched the same way,
  so a NIC hot-plugged by hand, or only in the config, is found too.

A MAC is unique on the host (refused otherwise), so the lookups can never
pick another guest's or another NIC's interface.

How each difference is made, on a running domain:

* link state and the source of a network/bridge interface (another network
  or bridge): ``virDomainUpdateDeviceFlags`` on the live domain, plus the
  persistent config (``update``);
* a new interface: hotplug (``attach``), needs ACPI on a pc machine;
* ``state=absent``: hot-unplug (``detach``) and removal from the config;
* a boot order on a domain that boots by ``<os><boot dev>``: the domain's
  boot list is converted to per-device boot orders in the same define
  (iface.boot), a config change like the next point;
* anything else (model, MAC, type, alias, boot order, passt settings...):
  written to the config; it takes effect when the domain restarts, which
  the module does itself only with ``restart=true`` (``restart``), and
  otherwise reports in ``restart_required``.  A MAC is only changed on a
  shut-off domain (or with ``restart=true``).

A shut-off domain only has its config, written with one ``define``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ansible_collections.virtnet.networking.plugins.module_utils.iface import boot as ib
from ansible_collections.virtnet.networking.plugins.module_utils.iface import model as im
from ansible_collections.virtnet.networking.plugins.module_utils import validate as v
from ansible_collections.virtnet.networking.plugins.module_utils.engine import CONFIG, REBOOT, RESTART, Plan
from ansible_collections.virtnet.networking.plugins.module_utils.errors import ValidationError, VirtnetError
from ansible_collections.virtnet.networking.plugins.module_utils.iface.model import Desired

# Types whose running connection is a tap on a bridge: libvirt moves it
# between networks and bridges live.
BRIDGED = ("network", "bridge")


@dataclass
class Target:
    """The predicted result of a plan (what check mode returns)."""

    config: im.Interface | None
    live: im.Interface | None
    running: bool
    os_boot: tuple = ()                      # the config's <os><boot dev> list after the run
    boot_orders: dict = field(default_factory=dict)   # other devices' boot orders after the run
    conversion: list = field(default_factory=list)    # [(label, ref, order)] from converting os_boot
    renewed: str | None = None               # after a live move: link_bounce / restart / none; else None


def find(ifaces: list, want: im.Interface, *, where: str) -> tuple:
    """(index, Interface) of the NIC ``want`` means in ``ifaces``, or (None, None)."""
    if want.alias:
        for i, iface in enumerate(ifaces):
            if iface.alias == want.alias:
                return i, iface
    if want.mac:
        for i, iface in enumerate(ifaces):
            if iface.mac == want.mac:
                if want.alias and iface.alias and iface.alias != want.alias:
                    raise ValidationError("mac", want.mac, "is the MAC of interface %s of the %s, not of %s; "
                                          "refusing to touch another NIC" % (iface.alias, where, want.alias))
                return i, iface
    return None, None


def stable_mac(domain: str, alias: str, used: set) -> str:
    """The MAC a NIC created without one gets: derived from domain and alias,
    so every run picks the same one (and skips MACs in use on the host)."""
    n = 0
    while True:
        mac = v.random_libvirt_mac("%s/%s%s" % (domain, alias, "#%d" % n if n else ""))
        if mac not in used:
            return mac
        n += 1


def export_state(state: im.HostState, target: Target | None = None) -> dict:
    config = target.config if target else state.config
    live = target.live if target else state.live
    running = target.running if target else state.running
    if config is None and live is None:
        return {}
    os_boot = target.os_boot if target else state.os_boot
    orders = target.boot_orders if target else state.boot_orders
    devices = {name: order for order, name in orders.items()}
    own = config if state.persistent else live
    if own is not None and own.boot_order is not None:
        devices["interface %s" % own.mac] = own.boot_order
    return {"domain": state.domain, "running": running, "persistent": state.persistent,
            "config": im.export(config) if state.persistent else None,
            "live": im.export(live) if running else None,
            "boot": {"os": list(os_boot), "devices": devices}}


def _not_found(ident: im.Interface, domain: str) -> tuple:
    """(option, value, what) for "no interface is what the task names": the
    task identifies a NIC that the domain does not have."""
    if ident.alias:
        nor = " (nor one with mac=%s)" % ident.mac if ident.mac else ""
        return "alias", ident.alias, "no interface with this alias exists on domain %s%s" % (domain, nor)
    return "mac", ident.mac, "no interface with this MAC exists on domain %s" % domain


def _check_host(want: im.Interface, have: im.HostState, current: im.Interface | None, *,
                ident: im.Interface | None = None) -> None:
    """Rules that need the host, for what this run would change; raised
    before anything is touched.  ``ident`` is the identity the task gave
    (alias / MAC as written), for the message when nothing matches it."""
    def changes(name: str) -> bool:
        return current is None or getattr(current, name) != getattr(want, name)

    if current is None:
        option, value, what = _not_found(ident or want, have.domain)
        if want.type is None:
            # Most likely an edit of a NIC that is not there (a typo in the
            # alias or MAC): say that first, then what creating one needs.
            raise ValidationError(option, value, "%s; to create one, set type (%s) and source"
                                  % (what, ", ".join(im.TYPES)))
        if want.source is None and want.type != "user":
            raise ValidationError("source", None, "needed to create a new %s interface (%s=%s: %s)"
                                  % (want.type, option, value, what))
    if want.type not in im.TYPES:
        raise ValidationError("type", want.type, "interfaces of this type are not managed by this module")
    if want.type == "network" and want.source and have.networks is not None and (changes("source")
                                                                                 or changes("type")):
        if want.source not in have.networks:
            raise ValidationError("source", want.source, "no libvirt network of that name (known: %s)"
                                  % (", ".join(sorted(have.networks)) or "none"))
        if have.running and not have.networks[want.source]:
            raise ValidationError("source", want.source, "the network is not active; start it first")
    if have.links is not None and want.source and want.type in ("bridge", "direct") and (changes("source")
                                                                                         or changes("type")):
        if want.source not in have.links:
            raise ValidationError("source", want.source, "no such interface on the host")
        if want.type == "bridge" and not have.links[want.source]:
            raise ValidationError("source", want.source, "is not a bridge (type=bridge needs a host bridge)")
    if want.mac and changes("mac") and want.mac in have.host_macs:
        raise ValidationError("mac", want.mac, "already used by %s; MACs must be unique on the host"
                              % have.host_macs[want.mac])
    if want.alias and changes("alias") and want.alias in have.aliases:
        raise ValidationError("alias", want.alias, "already used by another device of domain %s" % have.domain)
    if want.boot_order is not None and changes("boot_order"):
        if have.os_boot and not have.persistent:
            raise ValidationError("boot_order", want.boot_order,
                                  "domain %s boots by <os><boot dev=...>, which libvirt does not allow together with "
                                  "a per-device boot order, and is transient: there is no config in which to convert "
                                  "its boot list" % have.domain)
        if want.boot_order in have.boot_orders:
            raise ValidationError("boot_order", want.boot_order, "already given to %s"
                                  % have.boot_orders[want.boot_order])


# Target names libvirt always generates itself (a configured name with
# these prefixes is ignored), so they can never name a host link of ours.
LIBVIRT_TARGET_PREFIXES = ("vnet", "macvtap", "macvlan")


def _check_start(target: im.Interface, have: im.HostState) -> None:
    """Before a restart: the domain's config must not name, as the target of
    a NIC, a host link that exists and that the domain does not hold.
    libvirt would try to create it at start and, when that fails, delete
    the link by that name: a host NIC, bond or bridge."""
    if have.links is None:
        return
    for label, dev, ours in have.config_targets:
        if ours and have.config is not None and target.type != have.config.type:
            continue   # the type change drops this NIC's old target (iface_xml.build_element)
        if dev.startswith(LIBVIRT_TARGET_PREFIXES) or dev in have.own_links or dev not in have.links:
            continue
        raise ValidationError("restart", True, "the config of domain %s names host interface %s as the target of "
                              "%s (<target dev='%s'/>); starting the domain would have libvirt create it and, if that "
                              "fails, delete the existing %s; remove the target from the domain's config first"
                              % (have.domain, dev, label, dev, dev))


def target_of(desired: Desired, have: im.HostState) -> im.Interface:
    """The interface the config should end up with."""
    base = have.config if have.persistent else have.live
    if base is None and have.live is not None:
        base = have.live   # hot-plugged by hand, not in the config yet
    want = desired.iface
    if base is None and want.mac is None:
        want = dataclasses.replace(want, mac=stable_mac(desired.domain, want.alias, set(have.host_macs)))
    return im.merge(want, base)


def live_changes(target: im.Interface, live: im.Interface) -> tuple:
    """(live-updatable field names, the others) between target and live."""
    diffs = im.differences(target, live)
    if "type" in diffs and not (target.type in BRIDGED and live.type in BRIDGED):
        return [], diffs
    hot = [d for d in diffs if d in im.LIVE_FIELDS or d == "type"]
    return hot, [d for d in diffs if d not in hot]


def boot_conversion(desired: Desired, have: im.HostState, target: im.Interface) -> tuple:
    """(conversion, note): what converting the domain's <os><boot dev>
    list gives when the task sets a boot order on a domain that uses it."""
    if desired.iface.boot_order is None or not have.os_boot or not have.persistent:
        return [], None
    conversion = ib.convert(have.os_boot, have.boot_devices, taken=set(have.boot_orders) | {target.boot_order})
    return conversion, ib.describe(have.os_boot, conversion, "interface %s" % target.mac, target.boot_order)


def plan(desired: Desired, have: im.HostState) -> tuple:
    """(Plan, Target)."""
    p = Plan()
    name = desired.domain
    if not have.exists:
        raise ValidationError("domain", name, "no such domain (virtual machine)")
    if desired.state == "absent":
        if have.live is not None:
            p.add("detach", "hot-unplug interface %s from running domain %s" % (_label(have.live), name), RESTART,
                  payload=have.live)
        if have.config is not None and have.persistent:
            p.add("undefine", "remove interface %s from the config of %s" % (_label(have.config), name), CONFIG)
        return p, Target(config=None, live=None, running=have.running, os_boot=have.os_boot,
                         boot_orders=dict(have.boot_orders))

    creating = have.config is None and have.live is None
    target = target_of(desired, have)
    _check_host(target, have, None if creating else (have.config if have.persistent and have.config
                                                     else have.live), ident=desired.iface)
    if desired.iface.boot_order is not None and have.kernel:
        # Not refused: libvirt keeps the order, and it counts once the
        # kernel is removed; but the user should know it does nothing now.
        p.warnings.append("domain %s boots a kernel directly (<os><kernel>), which QEMU starts before any boot device: "
                          "boot_order=%d is written but only takes effect once the domain no longer has a kernel"
                          % (name, desired.iface.boot_order))
    conversion, note = boot_conversion(desired, have, target)
    if note:
        p.warnings.append("domain %s: %s, since libvirt does not allow <os><boot dev> together with a per-device boot "
                          "order" % (name, note))
    predicted_live = have.live
    restart = False
    # What makes the guest renew its lease after a live move (None: no move).
    renew = None
    bounce = None
    if have.running:
        if have.live is None:
            if not have.acpi:
                if not (desired.restart and have.persistent):
                    raise VirtnetError(
                        "cannot hot-plug interface %s into running domain %s: the domain has no ACPI "
                        "(<features><acpi/>), which PCI hotplug on this machine type needs; shut the domain off, "
                        "or set restart=true to add it to the config and restart" % (_label(target), name),
                        option="type", domain=name)
                restart = True
            else:
                hot_nic = target
                if target.boot_order is not None and (note or have.live_os_boot):
                    # The running domain still boots by <os><boot dev>; the
                    # order is written to the config and counts from the next start.
                    hot_nic = dataclasses.replace(target, boot_order=None)
                    p.pending.append("boot_order")
                p.add("attach", "hot-plug %s interface %s into running domain %s" % (target.type, _label(target),
                                                                                     name), RESTART, payload=hot_nic)
                predicted_live = hot_nic
        else:
            hot, cold = live_changes(target, have.live)
            if cold and not have.persistent:
                raise ValidationError(cold[0], getattr(desired.iface, cold[0], None),
                                      "domain %s is transient (no config to write) and this cannot change live"
                                      % name)
            if "mac" in cold and not desired.restart:
                raise ValidationError("mac", desired.iface.mac,
                                      "the MAC of interface %s can only change while domain %s is shut off "
                                      "(or set restart=true)" % (_label(have.live), name))
            moved = "source" in hot or "type" in hot
            if moved:
                renew = "none" if desired.renew == "none" or target.link == "down" else desired.renew
            if cold and desired.restart or moved and renew == "restart":
                restart = True
                if moved:
                    renew = "restart"    # the guest starts again on the new network, whatever renew says
            else:
                if moved and renew == "link_bounce":
                    bounce = dataclasses.replace(have.live, **{f: getattr(target, f) for f in hot})
                if hot:
                    live_target = dataclasses.replace(have.live, **{f: getattr(target, f) for f in hot})
                    p.add("update", "change %s of interface %s live (%s)" % (
                        ", ".join(hot), _label(have.live), ", ".join(
                            "%s=%s" % (f, getattr(target, f)) for f in hot)), RESTART, payload=live_target)
                    predicted_live = live_target
                p.pending.extend(cold)
    if have.persistent and (have.config is None or im.differences(target, have.config)):
        changed = "new interface" if have.config is None else ", ".join(im.differences(target, have.config))
        p.add("define", "write interface %s to the config of %s (%s)%s" % (_label(target), name, changed,
                                                                           "; " + note if note else ""), CONFIG,
              payload=target)
    if bounce is not None:
        # After the define, so a refused define is rolled back before the
        # guest sees anything of the bounce.
        p.add("renew", "bounce the link of interface %s (down %ds, then up) so the guest renews its DHCP lease on "
              "%s %s" % (_label(bounce), desired.renew_down_time, bounce.type, bounce.source), RESTART,
              payload=bounce)
    if restart:
        _check_start(target, have)
        p.pending.clear()
        p.add("restart", "restart domain %s (shut down, destroy after %ds, start) to apply the interface change"
              % (name, desired.restart_timeout), REBOOT)
        predicted_live = target
    orders = dict(have.boot_orders)
    orders.update({order: label for label, _ref, order in conversion})
    return p, Target(config=target if have.persistent else None, live=predicted_live if have.running else None,
                     running=have.running, os_boot=() if note else have.os_boot, boot_orders=orders,
                     conversion=conversion, renewed=renew)


def _label(iface: im.Interface) -> str:
    return " ".join(x for x in (iface.alias, iface.mac) if x) or "(no MAC)"
