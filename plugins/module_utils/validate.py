# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validators shared by every module's *want* step.

Each returns the normalized value or raises :class:`ValidationError` naming
the option and the value.
"""

from __future__ import annotations

import random
import re
from typing import Any

from ansible_collections.virtnet.networking.plugins.module_utils.errors import ValidationError

from ansible_collections.virtnet.networking.plugins.module_utils.thirdparty import netaddr

_MAC_RE = re.compile(r"^[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(\1[0-9a-fA-F]{2}){4}$")
# Interface names: the kernel allows 15 bytes, no '/', no whitespace, not '.'/'..'.
_IFNAME_RE = re.compile(r"^[A-Za-z0-9_.:@+-]{1,15}$")
# libvirt object names: we are stricter than libvirt (which allows almost
# anything but '/'), because these names end up in file names, bridge
# names and nmcli arguments.
_OBJNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")

LIBVIRT_OUI = "52:54:00"


def mac(option: str, value: Any, *, allow_multicast: bool = False) -> str:
    """A unicast MAC in lowercase colon form."""
    if not isinstance(value, str) or not _MAC_RE.fullmatch(value.strip()):
        raise ValidationError(option, value, "not a MAC address (expected six hex pairs like 52:54:00:12:34:56)")
    norm = value.strip().lower().replace("-", ":")
    first = int(norm[:2], 16)
    if not allow_multicast and first & 1:
        raise ValidationError(option, value, "is a multicast MAC address; an interface needs a unicast one")
    if norm == "00:00:00:00:00:00":
        raise ValidationError(option, value, "the all-zero MAC address is not usable")
    return norm


def random_libvirt_mac(key: str | None = None) -> str:
    """A MAC in libvirt's 52:54:00 range; deterministic for a given key."""
    rng = random.Random(key)
    return "%s:%02x:%02x:%02x" % (LIBVIRT_OUI, rng.randrange(256), rng.randrange(256), rng.randrange(256))


def ifname(option: str, value: Any) -> str:
    if not isinstance(value, str) or not _IFNAME_RE.fullmatch(value) or value in (".", ".."):
        raise ValidationError(option, value,
                              "not a valid interface name (1-15 characters from letters, digits and _.:@+-)")
    return value


def objname(option: str, value: Any) -> str:
    if not isinstance(value, str) or not _OBJNAME_RE.fullmatch(value):
        raise ValidationError(option, value,
                              "not a valid name (start with a letter or digit; then up to 63 of letters, "
                              "digits and _.+-)")
    return value


def ip_address(option: str, value: Any, *, version: int | None = None) -> Any:
    try:
        addr = netaddr.IPAddress(str(value).strip())
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise ValidationError(option, value, "not an IP address")
    if version and addr.version != version:
        raise ValidationError(option, value, "not an IPv%d address" % version)
    return addr


def ip_interface(option: str, value: Any, *, version: int | None = None) -> Any:
    """``192.0.2.1/24`` -> IPNetwork with the host address kept."""
    text = str(value).strip()
    if "/" not in text:
        raise ValidationError(option, value, "needs a prefix length, like 192.0.2.1/24")
    try:
        net = netaddr.IPNetwork(text)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise ValidationError(option, value, "not an address with prefix (like 192.0.2.1/24)")
    if version and net.version != version:
        raise ValidationError(option, value, "not an IPv%d address" % version)
    return net


def prefix_len(option: str, value: Any, *, version: int = 4) -> int:
    """A prefix length, also from a dotted netmask (``255.255.255.0``)."""
    maxlen = 32 if version == 4 else 128
    if isinstance(value, str) and "." in value and version == 4:
        try:
            mask = netaddr.IPAddress(value)
            if not mask.is_netmask():
                raise ValueError
            return mask.netmask_bits()
        except (netaddr.AddrFormatError, ValueError):
            raise ValidationError(option, value, "not a netmask")
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise ValidationError(option, value, "not a prefix length")
    if not 0 <= n <= maxlen:
        raise ValidationError(option, value, "prefix length must be 0 to %d" % maxlen)
    return n


def port(option: str, value: Any) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise ValidationError(option, value, "not a port number")
    if not 1 <= n <= 65535:
        raise ValidationError(option, value, "port must be 1 to 65535")
    return n


def one_of(option: str, value: Any, choices: Any) -> Any:
    if value not in choices:
        raise ValidationError(option, value, "must be one of %s" % ", ".join(str(c) for c in choices))
    return value
