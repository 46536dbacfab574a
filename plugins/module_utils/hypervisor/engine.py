# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine of ``hypervisor``: the whole virtual networking of one host in
one run, built from the component engines (the same planners the single
modules use; no second implementation of any of them).

1. Plan every item in dependency order against the host *as the plans so far
   leave it* (:class:`PlanningLibvirt` and :class:`SimHost` show a later
   planner the network or the bridge an earlier plan creates).  Nothing is
   written: this is check mode's whole answer, and a real run's validation of
   everything before the first change.
2. Real run: converge, in the same order, each item whose plan has actions
   (read again, plan again, apply, verify), all into one undo journal, under
   one NetworkManager checkpoint, over one libvirt connection.  A failure at
   any step undoes every earlier step of this run, newest first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ansible_collections.virtnet.networking.plugins.module_utils.engine import Undo, converge
from ansible_collections.virtnet.networking.plugins.module_utils.engine import run as run_engine
from ansible_collections.virtnet.networking.plugins.module_utils.errors import ValidationError, VirtnetError
from ansible_collections.virtnet.networking.plugins.module_utils.fsroot import FsRoot
from ansible_collections.virtnet.networking.plugins.module_utils.hypervisor import plan as hplan
from ansible_collections.virtnet.networking.plugins.module_utils.hypervisor import validate as hval
from ansible_collections.virtnet.networking.plugins.module_utils.hypervisor.model import Item, SimHost
from ansible_collections.virtnet.networking.plugins.module_utils.iface.engine import IfaceEngine
from ansible_collections.virtnet.networking.plugins.module_utils.libvirt.conn import Libvirt
from ansible_collections.virtnet.networking.plugins.module_utils.libvirt.restart import attached_interfaces
from ansible_collections.virtnet.networking.plugins.module_utils.network.engine import HostReads, NetworkEngine
from ansible_collections.virtnet.networking.plugins.module_utils.nm.checkpoint import Checkpoint
from ansible_collections.virtnet.networking.plugins.module_utils.nm.engine import NmBondBridge
from ansible_collections.virtnet.networking.plugins.module_utils.nm.nmcli import Nmcli
from ansible_collections.virtnet.networking.plugins.module_utils.pxe.engine import PxeEngine
from ansible_collections.virtnet.networking.plugins.module_utils.sriov.engine import SriovEngine

try:
    from lxml import etree
except ImportError:  # pragma: no cover - require_libs reports it
    etree = None

ENGINES = {"bridges": NmBondBridge, "sriov_vfs": SriovEngine, "networks": NetworkEngine,
           "pxe_networks": PxeEngine, "vm_interfaces": IfaceEngine}


class ItemModule:
    """The Ansible module as one item's engine sees it: the item's options
    as ``params``; everything else (check mode, commands, warnings) is the
    real module's."""

    def __init__(self, module: Any, params: dict) -> None:
        self._module = module
        self.params = params

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)


# -- the host as planning sees it -----------------------------------------------

class _Memo:
    """A libvirt object whose answers are read once: planning writes
    nothing, so a second read of the same object gives the same answer."""

    def __init__(self, obj: Any) -> None:
        self._obj = obj
        self._memo: dict = {}

    def __getattr__(self, attr: str) -> Any:
        fn = getattr(self._obj, attr)
        if not callable(fn):
            return fn

        def memo(*args: Any) -> Any:
            key = (attr, args)
            if key not in self._memo:
                self._memo[key] = fn(*args)
            return self._memo[key]
        return memo


class _SimNet:
    """A network an earlier plan of this run defines (or starts)."""

    def __init__(self, sim: Any) -> None:
        self._sim = sim

    def name(self) -> str:
        return self._sim.name

    def XMLDesc(self, flags: int = 0) -> str:  # noqa: N802 - libvirt's name
        return self._sim.xml

    def isActive(self) -> int:  # noqa: N802
        return int(self._sim.active)

    def isPersistent(self) -> int:  # noqa: N802
        return int(self._sim.persistent)

    def autostart(self) -> int:
        return int(self._sim.autostart)


class PlanningLibvirt:
    """The libvirt connection for planning: reads go to the host once each,
    and the networks earlier plans of this run define, start or remove
    are seen as planned."""

    def __init__(self, lv: Libvirt, sim: SimHost) -> None:
        self._lv = lv
        self._sim = sim
        self._networks: list | None = None
        self._domains: list | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._lv, name)

    def close(self) -> None:
        """The connection is the run's, not a step's."""

    def _real_networks(self) -> list:
        if self._networks is None:
            self._networks = [_Memo(n) for n in self._lv.networks()]
        return self._networks

    def networks(self) -> list:
        sim = self._sim
        out = [n for n in self._real_networks() if n.name() not in sim.networks and n.name() not in sim.gone_networks]
        return out + [_SimNet(n) for n in sim.networks.values()]

    def network(self, name: str) -> Any:
        if name in self._sim.networks:
            return _SimNet(self._sim.networks[name])
        if name in self._sim.gone_networks:
            return None
        return next((n for n in self._real_networks() if n.name() == name), None)

    def domains(self) -> list:
        if self._domains is None:
            self._domains = [_Memo(d) for d in self._lv.domains()]
        return self._domains

    def domain(self, name: str) -> Any:
        return next((d for d in self.domains() if d.name() == name), None)


class _PlanningHost(HostReads):
    """The host's routes, links and addresses read once for every network
    planned, with the bridges planned so far added."""

    def __init__(self, module: Any, fs: FsRoot, sim: SimHost) -> None:
        super().__init__(module, fs)
        self._sim = sim
        self._memo: dict = {}

    def _once(self, key: Any, fn: Any) -> Any:
        if key not in self._memo:
            self._memo[key] = fn()
        return self._memo[key]

    def routes(self) -> list:
        return self._once("routes", super().routes)

    def links(self) -> dict | None:
        return self._sim.overlay_links(self._once("links", super().links))

    def link_info(self) -> dict:
        return self._once("link_info", super().link_info)

    def addresses(self) -> dict | None:
        return self._once("addresses", super().addresses)

    def claims(self, live_xml: str, config_xml: str | None) -> list:
        # Every network planned compares itself with every other one: parse
        # each other network once per run, not once per network planned.
        parse = super().claims
        return self._once(("claims", live_xml, config_xml), lambda: parse(live_xml, config_xml))


class _SharedLibvirt(Libvirt):
    """The run's one connection: the steps' engines do not close it."""

    def close(self) -> None:
        pass

    def really_close(self) -> None:
        Libvirt.close(self)


class _SharedCheckpoint:
    """One NetworkManager checkpoint for every bridge of the run, created
    before the first NetworkManager change and kept (its rollback timer
    restarted after each step) until the whole run is verified."""

    def __init__(self, module: Any) -> None:
        self._cp = Checkpoint(module)
        self.timeout = 0

    @property
    def log(self) -> list:
        return self._cp.log

    @property
    def path(self) -> str | None:
        return self._cp.path

    def create(self, timeout: int) -> str:
        self.timeout = max(self.timeout, int(timeout))
        if self._cp.path is None:
            return self._cp.create(self.timeout)
        self._cp.adjust(self.timeout)
        return self._cp.path

    def keep_alive(self, budget: int = 0) -> None:
        """Restart the rollback timer before the next step: the bridges'
        own timeout plus that step's time budget, so NetworkManager never
        rolls back on its own while a later step (a VM restart) still runs."""
        if self._cp.path:
            self._cp.adjust(self.timeout + int(budget))

    def destroy(self) -> None:
        """A step's commit: the run commits at its end (:meth:`commit`)."""

    def commit(self) -> None:
        self._cp.destroy()

    def rollback(self) -> dict:
        return self._cp.rollback()


class _Journal(Undo):
    """The run's one undo journal: a step's success does not clear it."""

    def clear(self) -> None:
        pass

    def commit(self) -> None:
        Undo.clear(self)


@dataclass
class Step:
    item: Item
    plan: Any
    export: Any
    before: Any = None


# -- the engine -----------------------------------------------------------------

class HypervisorEngine:
    result_key = "hypervisor"

    def __init__(self, module: Any, *, fs: FsRoot | None = None) -> None:
        self.module = module
        self.params = module.params
        self.fs = fs or FsRoot("/")
        self.lv = _SharedLibvirt(self.params["uri"])
        self.journal = _Journal()
        self.checkpoint: _SharedCheckpoint | None = None

    # -- the steps' engines ----------------------------------------------------
    def _engine(self, item: Item, lv: Any, host: Any = None) -> Any:
        sub = ItemModule(self.module, item.params)
        if item.list == "networks":
            return NetworkEngine(sub, fs=self.fs, lv=lv, host=host)
        if item.list == "vm_interfaces":
            return IfaceEngine(sub, fs=self.fs, lv=lv)
        if item.list == "pxe_networks":
            return PxeEngine(sub, fs=self.fs, lv=lv)
        if item.list == "sriov_vfs":
            return SriovEngine(sub, lv=lv)
        if self.checkpoint is None:
            self.checkpoint = _SharedCheckpoint(self.module)
        return NmBondBridge(sub, fs=self.fs, checkpoint=self.checkpoint)

    @staticmethod
    def _named(item: Item, err: VirtnetError) -> VirtnetError:
        """The error with the item it is about: ``networks[2].bridge.name``."""
        if isinstance(err, ValidationError) and item.index is not None:
            named = ValidationError("%s.%s" % (item.where, err.option), err.value, err.reason)
        else:
            named = VirtnetError("%s (%s): %s" % (item.where, item.label, err.msg), **err.details)
        named.details.setdefault("item", item.where)
        for key, value in err.details.items():
            if key not in ("option", "value"):
                named.details.setdefault(key, value)
        return named

    # -- 1. plan everything (check mode's answer) -------------------------------
    def plan_all(self, items: list) -> list:
        sim = SimHost()
        plv = PlanningLibvirt(self.lv, sim)
        host = _PlanningHost(self.module, self.fs, sim)
        steps = []
        for item in items:
            steps.append(self._plan_one(item, plv, host, sim))
        if self.params["state"] == "overridden":
            managed = self.params.get("managed") or {}
            removals = hplan.removals(items, self._inventory(plv, managed["lists"]), lists=managed["lists"],
                                      prefix=managed.get("prefix"), force=self.params["force"])
            for item in removals:
                item.params = hval.fill(item.list, item.params, self.params)
                steps.append(self._plan_one(item, plv, host, sim))
        return steps

    def _plan_one(self, item: Item, plv: PlanningLibvirt, host: _PlanningHost, sim: SimHost) -> Step:
        if hplan.restart_is_free(item, sim):
            item.params = dict(item.params, restart=True)
        eng = self._engine(item, plv, host)
        try:
            want = eng.want()
            have = eng.have()
            if item.list in ("networks", "vm_interfaces") and getattr(have, "links", None) is not None:
                have.links = sim.overlay_links(have.links)
            plan = eng.plan(want, have)
            predicted = eng.predict(want, have, plan)
            exported = eng.export(predicted)
            before = eng.export(have) if plan.actions else None
        except VirtnetError as err:
            raise self._named(item, err)
        hplan.record(sim, item, plan, predicted, getattr(have, "config_xml", None))
        return Step(item=item, plan=plan, export=exported, before=before)

    def _inventory(self, plv: PlanningLibvirt, lists: list) -> hplan.Inventory:
        inv = hplan.Inventory()
        if "networks" in lists or "pxe_networks" in lists:
            for net in self.lv.networks():
                name = net.name()
                guests = sorted({d.name() for d, _i in attached_interfaces(plv, name)}) if net.isActive() else []
                inv.networks[name] = guests
                root = etree.fromstring(net.XMLDesc(0).encode())
                if root.find("ip/tftp") is not None or root.find("ip/dhcp/bootp") is not None:
                    inv.pxe_networks.append(name)
        if "vm_interfaces" in lists:
            for dom in plv.domains():
                if not dom.isPersistent():
                    continue
                root = etree.fromstring(dom.XMLDesc(2).encode())   # VIR_DOMAIN_XML_INACTIVE
                for iface in root.findall("devices/interface"):
                    mac = iface.find("mac")
                    alias = iface.find("alias")
                    if mac is not None:
                        inv.vm_interfaces.append((dom.name(), mac.get("address"),
                                                  alias.get("name") if alias is not None else None))
        if "bridges" in lists:
            inv.bridges = sorted(p.name for p in Nmcli(self.module).profiles() if p.type == "bridge")
        return inv

    # -- 2. apply, all or nothing ------------------------------------------------
    def apply_all(self, steps: list) -> list:
        done = []
        host = HostReads(self.module, self.fs)
        for step in steps:
            if not step.plan.actions:
                continue
            if self.checkpoint is not None and step.item.list != "bridges":
                self.checkpoint.keep_alive(_budget(step.item))
            eng = self._engine(step.item, self.lv, host)
            eng.undo = self.journal
            sub = eng.module
            try:
                result = converge(sub, eng, commit=False)
            except VirtnetError as err:
                raise self._named(step.item, err)
            done.append((step, result))
            if self.checkpoint is not None:
                self.checkpoint.keep_alive()
        return done

    def run(self) -> dict:
        items = hval.items_from_params(self.params)
        steps = self.plan_all(items)
        planned = [self._action(s.item, a.as_dict()) for s in steps for a in s.plan.actions]
        result: dict = {"changed": bool(planned), "actions": planned,
                        "restart_required": any(s.plan.restart_required for s in steps)}
        per_item = {s.item.where: s.export for s in steps}
        if not self.module.check_mode and planned:
            try:
                done = self.apply_all(steps)
            except Exception as err:
                undone = self.journal.run()
                if undone:
                    if isinstance(err, VirtnetError):
                        err.details.setdefault("rolled_back", undone)
                    else:
                        err.rolled_back = undone  # type: ignore[attr-defined]
                raise
            if self.checkpoint is not None:
                self.checkpoint.commit()
                result["checkpoint"] = self.checkpoint.log
            self.journal.commit()
            result["actions"] = [self._action(s.item, a) for s, r in done for a in r["actions"]]
            result["changed"] = bool(result["actions"])
            result["restart_required"] = any(r.get("restart_required") for _s, r in done)
            for s, r in done:
                per_item[s.item.where] = r.get(s_key(s.item))
                known = ("changed", "actions", "restart_required", "diff", s_key(s.item))
                extra = {k: v for k, v in r.items() if k not in known}
                if extra:
                    result.setdefault("reports", {})[s.item.where] = extra
        result["states"] = per_item
        if getattr(self.module, "_diff", False):
            changed = [s for s in steps if s.plan.actions]
            result["diff"] = {"before": {s.item.where: s.before or {} for s in changed},
                              "after": {s.item.where: per_item[s.item.where] or {} for s in changed}}
        pending = [p for s in steps for p in s.plan.pending]
        if pending:
            result["pending"] = pending
        for s in steps:
            for warning in s.plan.warnings:
                self.module.warn("%s: %s" % (s.item.where, warning))
        return result

    @staticmethod
    def _action(item: Item, action: dict) -> dict:
        return dict({"item": item.where, "name": item.label}, **action)

    def cleanup(self) -> None:
        self.lv.really_close()


def _budget(item: Item) -> int:
    """Seconds a step may take at most (a VM restart waits restart_timeout
    for the guest to stop; a VF count waits wait_timeout)."""
    p = item.params
    return 120 + int(p.get("restart_timeout") or 0) + int(p.get("wait_timeout") or 0)


def s_key(item: Item) -> str:
    return ENGINES[item.list].result_key


def run(module: Any) -> None:
    engine = HypervisorEngine(module)
    run_engine(module, engine, drive=engine.run)
