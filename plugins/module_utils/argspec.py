# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argument spec pieces written once (documented in doc_fragments/)."""

from __future__ import annotations

from ansible_collections.virtnet.networking.plugins.module_utils.libvirt.conn import DEFAULT_URI


def libvirt_argspec(**options: dict) -> dict:
    """The ``uri`` option every libvirt-facing module takes, plus ``options``."""
    spec = {"uri": {"type": "str", "default": DEFAULT_URI}}
    spec.update(options)
    return spec
