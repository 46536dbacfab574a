# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""File and sysfs access below an injectable root.

The same code reads ``/sys/class/net/...`` on a real host and a fake tree in
the tests (``FsRoot('/tmp/fake')``).  Paths given to it are absolute host
paths; they may not climb out of the root.
"""

from __future__ import annotations

import os
import stat
import tempfile

from ansible_collections.virtnet.networking.plugins.module_utils.errors import VirtnetError


class FsRoot:
    def __init__(self, root: str = "/") -> None:
        self.root = os.path.abspath(root or "/")

    def path(self, host_path: str) -> str:
        """The real path of ``host_path`` below the root."""
        if not host_path.startswith("/"):
            raise VirtnetError("internal: not an absolute path: %r" % host_path)
        parts = [p for p in host_path.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise VirtnetError("path %r climbs with '..'; refused" % host_path, path=host_path)
        return os.path.join(self.root, *parts) if parts else self.root

    def exists(self, p: str) -> bool:
        return os.path.exists(self.path(p))

    def isdir(self, p: str) -> bool:
        return os.path.isdir(self.path(p))

    def islink(self, p: str) -> bool:
        return os.path.islink(self.path(p))

    def listdir(self, p: str) -> list:
        try:
            return sorted(os.listdir(self.path(p)))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def net_interfaces(self) -> list:
        """The network interfaces in /sys/class/net: its directories only.
        bonding.ko adds a plain file there (``bonding_masters``, the list of
        bonds), which is no interface."""
        return [n for n in self.listdir("/sys/class/net") if self.isdir("/sys/class/net/" + n)]

    def readlink(self, p: str) -> str:
        return os.readlink(self.path(p))

    def read(self, p: str, default: str | None = None) -> str | None:
        try:
            with open(self.path(p), "r", encoding="utf-8") as f:
                return f.read()
        except (FileNotFoundError, NotADirectoryError):
            if default is not None:
                return default
            return None

    def read_value(self, p: str) -> str | None:
        """A sysfs attribute, stripped; None when absent."""
        text = self.read(p)
        return None if text is None else text.strip()

    def write(self, p: str, data: str) -> None:
        """A plain write (sysfs attributes must not be replaced by rename).
        OSError is left to the caller, which knows what EBUSY means there."""
        with open(self.path(p), "w", encoding="utf-8") as f:
            f.write(data)

    def write_atomic(self, p: str, data: str, mode: int = 0o644) -> None:
        """Write a config file so that no reader ever sees half of it."""
        target = self.path(p)
        directory = os.path.dirname(target)
        fd, tmp = tempfile.mkstemp(prefix=".virtnet-", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def remove(self, p: str) -> bool:
        try:
            os.unlink(self.path(p))
            return True
        except FileNotFoundError:
            return False

    def mode(self, p: str) -> int | None:
        try:
            return stat.S_IMODE(os.stat(self.path(p)).st_mode)
        except FileNotFoundError:
            return None
