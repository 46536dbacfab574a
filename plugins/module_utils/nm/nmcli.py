# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading and driving NetworkManager through ``nmcli`` (argv lists only).

Two terse formats, two parsers, because nmcli escapes differently:

* tabular output (``nmcli -t -f NAME,UUID con show``): fields are separated
  by ``:``; a ``:`` inside a value is written ``\\:`` and a backslash
  ``\\\\``  -> :func:`split_terse_row`;
* one connection's properties (``nmcli -t con show UUID``): one
  ``key:value`` per line, the value is *not* escaped (``ipv4.dns-search:a:b``
  is the value ``a:b``) -> :func:`parse_properties` splits at the first ``:``.

Property names changed in NetworkManager 1.46 (``master`` ->
``controller``, ``slave-type`` -> ``port-type``, ``autoconnect-slaves`` ->
``autoconnect-ports``); :class:`Names` picks the spelling the host's nmcli
understands, so the rest of the code uses one vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ansible_collections.virtnet.networking.plugins.module_utils.runner import CommandRunner


def split_terse_row(line: str) -> list:
    """Split one row of ``nmcli -t`` tabular output, undoing its escapes."""
    fields, cur, i = [], [], 0
    while i < len(line):
        ch = line[i]
        if ch == "\\" and i + 1 < len(line):
            cur.append(line[i + 1])
            i += 2
            continue
        if ch == ":":
            fields.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    fields.append("".join(cur))
    return fields


def parse_properties(text: str) -> dict:
    """``key:value`` lines of ``nmcli -t con show ID`` into a dict.

    Keys never contain ``:``; values are kept verbatim.  Repeated keys (not
    produced for settings, only for some GENERAL/IP4 lists) keep the first.
    """
    props: dict = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key not in props:
            props[key] = value
    return props


@dataclass(frozen=True)
class Names:
    """Property spellings for the host's NetworkManager version."""

    controller: str = "connection.master"
    port_type: str = "connection.slave-type"
    autoconnect_ports: str = "connection.autoconnect-slaves"

    @classmethod
    def for_version(cls, version: tuple) -> "Names":
        if version >= (1, 46):
            return cls("connection.controller", "connection.port-type", "connection.autoconnect-ports")
        return cls()


def parse_version(text: str) -> tuple:
    """``nmcli tool, version 1.42.4`` -> (1, 42, 4)."""
    for word in text.split():
        parts = word.split(".")
        if len(parts) >= 2 and all(p.isdigit() for p in parts):
            return tuple(int(p) for p in parts)
    return (0, 0)


@dataclass
class Profile:
    """One NetworkManager connection profile, as read back from nmcli."""

    uuid: str
    name: str
    type: str
    ifname: str
    props: dict = field(default_factory=dict)
    device: str = ""     # the device it is active on, "" when inactive
    state: str = ""      # activated / activating / deactivating / ""

    @property
    def active(self) -> bool:
        return self.state == "activated"


# nmcli reports an ethernet profile with its setting name.
TYPE_ALIASES = {"802-3-ethernet": "ethernet"}


class Nmcli:
    """The nmcli runner plus the few reads every engine needs."""

    def __init__(self, module) -> None:
        self.runner = CommandRunner(module, "nmcli")
        self._names: Names | None = None
        self.commands: list = []   # argv lists run so far (for the report)

    def run(self, args: list, *, check: bool = True):
        self.commands.append(list(args))
        return self.runner.run(args, check=check)

    @property
    def names(self) -> Names:
        if self._names is None:
            out = self.runner.run(["--version"]).out
            self._names = Names.for_version(parse_version(out))
        return self._names

    def profiles(self) -> list:
        """Every profile with its active state, properties read lazily."""
        out = self.runner.run(["-t", "-f", "NAME,UUID,TYPE,DEVICE,STATE", "connection", "show"]).out
        result = []
        for line in out.splitlines():
            if not line:
                continue
            name, uuid, ctype, device, state = (split_terse_row(line) + [""] * 5)[:5]
            result.append(Profile(uuid=uuid, name=name, type=TYPE_ALIASES.get(ctype, ctype), ifname="",
                                  device=device, state=state))
        for p in result:
            p.props = self.properties(p.uuid)
            p.ifname = p.props.get("connection.interface-name", "")
        return result

    def properties(self, uuid: str) -> dict:
        # --show-secrets is not wanted: we manage no secret.
        out = self.runner.run(["-t", "connection", "show", "uuid", uuid]).out
        return parse_properties(out)

    def device_states(self) -> dict:
        """ifname -> (state, connection name) for every device NM knows."""
        out = self.runner.run(["-t", "-f", "DEVICE,TYPE,STATE,CONNECTION", "device", "status"]).out
        states = {}
        for line in out.splitlines():
            dev, dtype, state, con = (split_terse_row(line) + [""] * 4)[:4]
            if dev:
                states[dev] = {"type": dtype, "state": state, "connection": con}
        return states
