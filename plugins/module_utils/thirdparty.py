# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The third-party libraries (lxml, netaddr), imported once for every module_utils file.

lxml and netaddr may be missing on a managed host; the modules then fail
with Ansible's standard "missing required library" message (``require_libs``)
instead of an ImportError traceback.
"""

from __future__ import annotations

import traceback
from typing import Any

from ansible.module_utils.basic import missing_required_lib

try:
    from lxml import etree
except ImportError:
    etree = None
    LXML_IMPORT_ERROR = traceback.format_exc()
else:
    LXML_IMPORT_ERROR = None

try:
    import netaddr
except ImportError:
    netaddr = None


def require_libs(module: Any) -> None:
    """Fail with Ansible's standard message when lxml or netaddr is missing."""
    if etree is None:
        module.fail_json(msg=missing_required_lib("lxml"), exception=LXML_IMPORT_ERROR)
    if netaddr is None:
        module.fail_json(msg=missing_required_lib("netaddr"))
