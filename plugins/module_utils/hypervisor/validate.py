# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The declaration as a whole, before anything on the host is read: every
item against its module's own options (unknown keys, types, choices named
with the list and the index), one object declared once, and what
``state: overridden`` may prune."""

from __future__ import annotations

import re
from typing import Any

from ansible_collections.virtnet.networking.plugins.module_utils.errors import ValidationError
from ansible_collections.virtnet.networking.plugins.module_utils.hypervisor import spec as hs
from ansible_collections.virtnet.networking.plugins.module_utils.hypervisor.model import Item

try:
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
except ImportError:  # pragma: no cover - ansible-core < 2.11 is not supported
    ArgumentSpecValidator = None


def label(name: str, params: dict) -> str:
    if name == "vm_interfaces":
        return "%s %s" % (params.get("domain"), params.get("alias") or params.get("mac"))
    return str(params.get(hs.KEYS[name][0]))


def _item(name: str, index: int, raw: Any, top: dict) -> Item:
    where = "%s[%d]" % (name, index)
    if not isinstance(raw, dict):
        raise ValidationError(where, raw, "each item of %s is a dict of %s's options" % (name, hs.SOURCES[name][1]))
    spec_module, module_name = hs.SOURCES[name]
    result = ArgumentSpecValidator(hs.item_spec(name), **spec_module.CONSTRAINTS).validate(dict(raw))
    unsupported = sorted(result.unsupported_parameters, key=str)
    if unsupported:
        key = unsupported[0]
        parts = list(key) if isinstance(key, tuple) else [key]
        # through lists too: ips[1].dhcp.ranges[0].bogus, not ips.dhcp.ranges.bogus
        path, value = _walk(raw, parts)
        if value is _MISSING:
            path, value = ".".join(parts), None
        raise ValidationError("%s.%s" % (where, path), value,
                              "unsupported option: %s items take the options of virtnet.networking.%s "
                              "(except uri): %s" % (name, module_name, ", ".join(sorted(hs.item_spec(name)))))
    if result.error_messages:
        err = result.errors.errors[0]
        option, value = _located(err, raw)
        raise ValidationError("%s%s" % (where, "." + option if option else ""), value,
                              "%s (the options of virtnet.networking.%s)" % (err, module_name))
    params = result.validated_parameters
    for option in hs.INHERITED:
        if option in params and params[option] is None:
            params[option] = top.get(option)
    params["uri"] = top["uri"]
    return Item(list=name, index=index, params=params, label=label(name, params))


_NAMED = re.compile(r"^(?:argument '(?P<arg>[^']+)'|value of (?P<choice>\S+) must be one of)")
_PARENT = re.compile(r" found in '?(?P<parent>[^'.]+?)'?(?:\.| and |$)")


def _located(err: Any, raw: dict) -> tuple:
    """(path of the option an argument-spec error is about, its value): Ansible's
    type and choice errors name only the option (``argument 'mtu'``, ``value of
    mode``) and its parents (``found in ips -> dhcp``), without list indexes.
    ``("", raw)`` when the error names no option (required_one_of...)."""
    text = str(err)
    name = getattr(err, "name", None)
    if not name:
        m = _NAMED.match(text)
        name = m and (m.group("arg") or m.group("choice"))
    if not name:
        return "", raw
    m = _PARENT.search(text)
    parts = [p.strip() for p in m.group("parent").split("->")] if m else []
    return _walk(raw, parts + [name])


def _walk(value: Any, parts: list) -> tuple:
    """Follow ``parts`` through dicts; in a list, the first element that has
    the rest of the path (its index becomes part of the path)."""
    if not parts:
        return "", value
    if isinstance(value, list):
        for index, element in enumerate(value):
            sub, found = _walk(element, parts)
            if found is not _MISSING:
                return "[%d]%s" % (index, _join(sub)), found
        return "", _MISSING
    if not isinstance(value, dict) or parts[0] not in value:
        return "", _MISSING
    sub, found = _walk(value[parts[0]], parts[1:])
    if found is _MISSING:
        return "", _MISSING
    return parts[0] + _join(sub), found


def _join(sub: str) -> str:
    return "." + sub if sub and not sub.startswith("[") else sub


class _Missing:
    def __repr__(self) -> str:
        return "(not given)"


_MISSING = _Missing()


def fill(name: str, params: dict, top: dict) -> dict:
    """The options of an item the run makes itself (a removal of
    ``state: overridden``), defaults filled in like a declared item's."""
    return _item(name, 0, params, top).params


# sriov_vf attaches one VF per task; the whole-host declaration gives a PF's
# other VFs to more VMs as VM interfaces.
ONE_PF = ("; its item's attach gives one VF to one VM, so give another VM a VF of the same PF with a "
          "vm_interfaces item of type hostdev whose source is the VF's PCI address (sriov_vf returns the "
          "VFs as vfs)")


def items_from_params(params: dict) -> list:
    """[Item] of every list, in dependency order; refuses a malformed item
    and an object declared twice."""
    if ArgumentSpecValidator is None:  # pragma: no cover
        raise ValidationError("ansible-core", "< 2.11", "hypervisor needs ansible-core 2.11 or later on the host")
    items = []
    for name in hs.LISTS:
        seen: dict = {}
        for index, raw in enumerate(params.get(name) or ()):
            item = _item(name, index, raw, params)
            for key in _keys(name, item.params):
                if key in seen:
                    raise ValidationError("%s[%d].%s" % (name, index, key[0]), item.params[key[0]],
                                          "already declared by %s[%d]: one object, one item%s"
                                          % (name, seen[key], ONE_PF if name == "sriov_vfs" else ""))
                seen[key] = index
            items.append(item)
    _check_managed(params)
    return items


def _keys(name: str, p: dict) -> list:
    if name == "vm_interfaces":
        # libvirt stores a MAC in lower case: 52:54:00:AA:.. and 52:54:00:aa:.. are one NIC
        return [(k, p["domain"], p[k].lower() if k == "mac" else p[k]) for k in ("alias", "mac") if p.get(k)]
    key = hs.KEYS[name][0]
    return [(key, p[key])]


def _check_managed(params: dict) -> None:
    managed = params.get("managed") or {}
    if params.get("state") != "overridden":
        if managed.get("lists") or managed.get("prefix"):
            raise ValidationError("managed", managed, "only state=overridden removes anything; with state=merged "
                                  "managed has no effect")
        return
    if not managed.get("lists"):
        raise ValidationError("managed.lists", managed.get("lists"),
                              "state=overridden removes what the task does not list, so name which lists it manages "
                              "(any of %s)" % ", ".join(hs.PRUNABLE))
