# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Exceptions every engine raises; ``engine.run`` turns them into ``fail_json``."""

from __future__ import annotations

from typing import Any


class VirtnetError(Exception):
    """A failure to report to the user.

    ``details`` end up as extra keys of the failed result (a libvirt error
    code, the XML that was sent, the argv that failed, ...), so a user sees
    what and where without a traceback.
    """

    def __init__(self, msg: str, **details: Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.details = details


class ValidationError(VirtnetError):
    """Bad input, found before anything on the host was touched.

    The message always names the option (as a dotted path into the task's
    parameters, e.g. ``dhcp.hosts[2].mac``) and the offending value.
    """

    def __init__(self, option: str, value: Any, reason: str) -> None:
        super().__init__(
            "%s=%s: %s" % (option, _show(value), reason),
            option=option,
            value=value if isinstance(value, (str, int, float, bool, type(None))) else str(value),
        )
        self.option = option
        self.value = value
        self.reason = reason


def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    # Keep messages one line and bounded, whatever the user passed.
    text = text.replace("\n", "\\n")
    return text if len(text) <= 200 else text[:197] + "..."
