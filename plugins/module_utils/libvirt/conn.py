# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One way to talk to libvirt: open, look up, call, and turn errors into
:class:`VirtnetError` carrying libvirt's code, message and the XML sent."""

from __future__ import annotations

import traceback
from typing import Any, Callable

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.virtnet.networking.plugins.module_utils.errors import VirtnetError
from ansible_collections.virtnet.networking.plugins.module_utils.libvirt.host import is_local

try:
    import libvirt
except ImportError:
    libvirt = None
    LIBVIRT_IMPORT_ERROR = traceback.format_exc()
else:
    LIBVIRT_IMPORT_ERROR = None

DEFAULT_URI = "qemu:///system"


def require_libvirt(module: Any) -> None:
    """Fail with the standard Ansible message when libvirt-python is missing."""
    if libvirt is None:
        module.fail_json(msg=missing_required_lib("libvirt-python"), exception=LIBVIRT_IMPORT_ERROR)


def _silence(_ctx: Any, _err: Any) -> None:
    """libvirt prints every error to stderr unless a handler is registered,
    even those we catch and report properly."""


def libvirt_error(what: str, err: Any, xml: str | None = None) -> VirtnetError:
    details: dict = {
        "libvirt_code": err.get_error_code(),
        "libvirt_message": err.get_error_message(),
    }
    if xml is not None:
        details["xml"] = xml
    return VirtnetError("libvirt: %s failed: %s" % (what, err.get_error_message()), **details)


class Libvirt:
    """A connection plus the few helpers every engine needs."""

    def __init__(self, uri: str = DEFAULT_URI) -> None:
        self.uri = uri
        self._conn = None

    @property
    def is_local(self) -> bool:
        """True when libvirt runs on the machine this code runs on (its
        host links can be read under /sys)."""
        return is_local(self.uri)

    @property
    def conn(self) -> Any:
        if self._conn is None:
            if libvirt is None:
                raise VirtnetError(missing_required_lib("libvirt-python"))
            libvirt.registerErrorHandler(_silence, None)
            try:
                self._conn = libvirt.open(self.uri)
            except libvirt.libvirtError as err:
                raise VirtnetError(
                    "cannot connect to libvirt at uri=%r: %s" % (self.uri, err.get_error_message()),
                    libvirt_code=err.get_error_code(),
                    uri=self.uri,
                )
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001 - closing must never mask the real result
                pass
            self._conn = None

    def call(self, what: str, fn: Callable, *args: Any, xml: str | None = None) -> Any:
        """Call a libvirt function; a libvirtError becomes a VirtnetError."""
        try:
            return fn(*args)
        except libvirt.libvirtError as err:
            raise libvirt_error(what, err, xml=xml)

    def _lookup(self, fn: Callable, name: str, missing_code: int) -> Any:
        try:
            return fn(name)
        except libvirt.libvirtError as err:
            if err.get_error_code() == missing_code:
                return None
            raise libvirt_error("lookup of %r" % name, err)

    def network(self, name: str) -> Any:
        """The virNetwork called ``name``, or None."""
        return self._lookup(self.conn.networkLookupByName, name, libvirt.VIR_ERR_NO_NETWORK)

    def domain(self, name: str) -> Any:
        """The virDomain called ``name``, or None."""
        return self._lookup(self.conn.lookupByName, name, libvirt.VIR_ERR_NO_DOMAIN)

    def networks(self) -> list:
        return self.call("listing networks", self.conn.listAllNetworks, 0)

    def domains(self) -> list:
        return self.call("listing domains", self.conn.listAllDomains, 0)

    def __enter__(self) -> "Libvirt":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def flag(name: str, default: int = 0) -> int:
    """A libvirt constant by name, or ``default`` on older bindings."""
    if libvirt is None:
        return default
    return getattr(libvirt, name, default)


# The flags the engines pass, defined once.  libvirt gives the domain and the
# network update calls the same values (VIR_DOMAIN_AFFECT_LIVE ==
# VIR_NETWORK_UPDATE_AFFECT_LIVE == 1, ..._CONFIG == 2).
AFFECT_LIVE = flag("VIR_DOMAIN_AFFECT_LIVE", 1)
AFFECT_CONFIG = flag("VIR_DOMAIN_AFFECT_CONFIG", 2)
NETWORK_XML_INACTIVE = flag("VIR_NETWORK_XML_INACTIVE", 1)
DOMAIN_XML_INACTIVE = flag("VIR_DOMAIN_XML_INACTIVE", 2)


def xml_yes(value: str | None) -> bool | None:
    """A libvirt XML yes/no (or on/off) attribute as a bool; None when unset."""
    return None if value is None else value in ("yes", "on")
