# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""NetworkManager checkpoints (create / destroy / rollback) over D-Bus.

Why ``busctl`` and not a Python D-Bus binding: the checkpoint calls are three
plain method calls, ``busctl`` ships with systemd (present wherever
NetworkManager runs as a system service) so the managed host needs no extra
Python package (dbus-python and pydbus need compiled bindings or GObject
introspection in the interpreter Ansible picked), it goes through the same
argv-only :class:`CommandRunner` as nmcli, and ``--json=short`` gives output
that needs no ad-hoc parsing.  ``nmcli`` itself has no checkpoint command.

A checkpoint is created with a rollback timeout *before* any change: if the
module dies or loses the host (the SSH connection went with the old
address), NetworkManager restores the previous state by itself when the
timeout expires.  It is destroyed only after the new state is verified, and
rolled back explicitly when verification fails.
"""

from __future__ import annotations

import json

from ansible_collections.virtnet.networking.plugins.module_utils.errors import VirtnetError
from ansible_collections.virtnet.networking.plugins.module_utils.runner import CommandRunner

NM_SERVICE = "org.freedesktop.NetworkManager"
NM_PATH = "/org/freedesktop/NetworkManager"
# NMCheckpointCreateFlags: DELETE_NEW_CONNECTIONS (0x2) so a rollback also
# removes the profiles we added; DISCONNECT_NEW_DEVICES (0x4) so the new
# bridge / bond go down with it.
CREATE_FLAGS = 0x2 | 0x4
# NMRollbackResult codes.
ROLLBACK_RESULTS = {0: "ok", 1: "error: device no longer exists", 2: "error: device unmanaged",
                    3: "error: failed"}


def _data(out: str):
    try:
        doc = json.loads(out or "null")
    except ValueError:
        raise VirtnetError("busctl printed something that is not JSON", stdout=out)
    return (doc or {}).get("data")


class Checkpoint:
    """One checkpoint's lifecycle; ``path`` is its D-Bus object path."""

    def __init__(self, module, *, runner: CommandRunner | None = None) -> None:
        self.runner = runner or CommandRunner(module, "busctl")
        self.path: str | None = None
        self.log: list = []   # what happened, for the module's result

    def _call(self, method: str, signature: str, *args: str) -> object:
        argv = ["--system", "--json=short", "call", NM_SERVICE, NM_PATH, NM_SERVICE, method, signature] + list(args)
        return _data(self.runner.run(argv).out)

    def create(self, timeout: int) -> str:
        # "ao" with 0 elements = every device.
        try:
            data = self._call("CheckpointCreate", "aouu", "0", str(int(timeout)), str(CREATE_FLAGS))
        except VirtnetError as err:
            raise VirtnetError("could not create a NetworkManager checkpoint, so nothing was changed: %s "
                               "(an older checkpoint from an interrupted run may still exist; NetworkManager "
                               "drops it when its rollback timeout expires)" % err.msg, **err.details)
        self.path = data[0] if isinstance(data, list) else data
        self.log.append("checkpoint %s created (automatic rollback after %d s)" % (self.path, timeout))
        return self.path

    def adjust(self, timeout: int) -> None:
        """Restart the rollback timer: NetworkManager rolls back ``timeout``
        seconds from now unless destroyed (a long run keeps its checkpoint)."""
        if self.path:
            self._call("CheckpointAdjustRollbackTimeout", "ou", self.path, str(int(timeout)))

    def destroy(self) -> None:
        if self.path:
            self._call("CheckpointDestroy", "o", self.path)
            self.log.append("checkpoint %s destroyed: the new state is kept" % self.path)
            self.path = None

    def rollback(self) -> dict:
        """Restore the state of the checkpoint; returns device -> result text."""
        if not self.path:
            return {}
        data = self._call("CheckpointRollback", "o", self.path)
        results = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else (data or {})
        text = {dev: ROLLBACK_RESULTS.get(code, str(code)) for dev, code in results.items()}
        self.log.append("checkpoint %s rolled back: %s" % (
            self.path, ", ".join("%s %s" % (d.rsplit("/", 1)[-1], r) for d, r in sorted(text.items())) or "no device"))
        self.path = None
        return text
