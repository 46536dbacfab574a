# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run external tools as argv lists, in the C locale, with structured failures.

Never a shell and never a command string: every argument reaches the tool as
one argv element, whatever quotes or newlines a user put in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ansible_collections.virtnet.networking.plugins.module_utils.errors import VirtnetError

C_LOCALE = {"LC_ALL": "C", "LANG": "C", "LANGUAGE": "C"}


@dataclass
class CommandResult:
    argv: list
    rc: int
    out: str
    err: str

    @property
    def ok(self) -> bool:
        return self.rc == 0


class CommandRunner:
    """A runner for one tool (``nmcli``, ``udevadm``, ``grubby``...).

    ``module`` only needs ``get_bin_path`` and ``run_command`` (an
    AnsibleModule, or a fake in unit tests).
    """

    def __init__(self, module: Any, tool: str, *, required: bool = True, environ: dict | None = None) -> None:
        self.module = module
        self.tool = tool
        self.path = module.get_bin_path(tool, required=False)
        if self.path is None and required:
            raise VirtnetError("the command %r was not found on the host; install it first" % tool, tool=tool)
        self.environ = dict(C_LOCALE)
        if environ:
            self.environ.update(environ)

    @property
    def available(self) -> bool:
        return self.path is not None

    def run(self, args: list, *, check: bool = True, data: str | None = None) -> CommandResult:
        if any(not isinstance(a, str) for a in args):
            raise TypeError("argv elements must be str: %r" % (args,))
        if self.path is None:
            raise VirtnetError("the command %r was not found on the host; install it first" % self.tool, tool=self.tool)
        argv = [self.path] + list(args)
        rc, out, err = self.module.run_command(argv, environ_update=self.environ, data=data,
                                               check_rc=False)
        result = CommandResult(argv=argv, rc=rc, out=out or "", err=err or "")
        if check and rc != 0:
            raise VirtnetError(
                "%s failed (rc=%d): %s"
                % (" ".join([self.tool] + list(args)), rc, (result.err or result.out).strip()),
                argv=argv, rc=rc, stdout=result.out, stderr=result.err,
            )
        return result
