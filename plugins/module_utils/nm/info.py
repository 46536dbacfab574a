# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the nm _info module returns: read only, never changes the host."""

from __future__ import annotations

from ansible_collections.virtnet.networking.plugins.module_utils.nm import plan as nm_plan
from ansible_collections.virtnet.networking.plugins.module_utils.nm import verify as nm_verify
from ansible_collections.virtnet.networking.plugins.module_utils import validate as v
from ansible_collections.virtnet.networking.plugins.module_utils.fsroot import FsRoot
from ansible_collections.virtnet.networking.plugins.module_utils.nm.nmcli import Nmcli


def read_info(module, *, fs: FsRoot | None = None, nmcli: Nmcli | None = None) -> dict:
    """Every NM bridge (or the one named) with its ports, bond and kernel status."""
    if module.params.get("name") is not None:
        # a bridge is an interface: a name no interface can have is a typo, not "no such bridge"
        v.ifname("name", module.params["name"])
    nm = nmcli or Nmcli(module)
    fs = fs or FsRoot("/")
    profiles, devices = nm.profiles(), nm.device_states()
    names = sorted({p.ifname or p.name for p in profiles if p.type == "bridge"})
    if module.params.get("name"):
        names = [n for n in names if n == module.params["name"]]
    bridges = {}
    for n in names:
        have = nm_plan.read_have(profiles, devices, nm.names, n, [])
        have = nm_plan.read_have(profiles, devices, nm.names, n, sorted(have.ports))
        view = nm_plan.export_have(have, sorted(have.ports))
        t = have.topology
        view["profiles"] = {"bridge": have.bridge.name, "bond": have.bond.name if have.bond else None,
                            "ports": {i: p.name for i, p in sorted(have.ports.items())}}
        view["status"] = nm_verify.status(fs, n, t.bond.name if t and t.bond else None)
        bridges[n] = view
    return {"bridges": bridges}
