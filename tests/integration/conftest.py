"""Fixtures for integration tests against the real thing: a sandbox
hypervisor (libvirtd, dnsmasq, qemu, optionally NetworkManager) in private
network namespaces, driven from here through `sandbox/vnsb.py`.

- ``sandbox``: one instance per pytest session (per xdist worker).
- ``sandbox_nm``: the same with a private D-Bus + NetworkManager.
- ``sandbox_factory``: make more instances (torn down at session end).

Environment:
  VIRTNET_SANDBOX_NAME  use this instance name (if it is already up, it is
                        reused as is and left running afterwards).
  VIRTNET_SANDBOX_KEEP=1  do not tear the instances down at the end.
  VIRTNET_SANDBOX_SHAPE=classic|rhel10|rhel9  the hypervisor shape of every
                        instance (sandbox/vnsb.py SHAPES): classic (monolithic
                        libvirtd, iptables; the default), rhel10 (modular
                        daemons, nftables backend), rhel9 (modular daemons,
                        firewalld). `./dev test-rhel-shapes` runs all three.

Tests that need it are skipped, with the reason, when not root or when the
sandbox's packages are missing (run `sandbox/install-packages.sh`).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "sandbox"))

import vnsb  # noqa: E402


def missing_requirements(with_nm: bool = False) -> str | None:
    return vnsb.missing_requirements(with_nm, vnsb.default_shape())


def pytest_configure(config):
    config.addinivalue_line("markers", "sandbox: needs the sandbox hypervisor (root + packages)")


def pytest_report_header(config):
    return "sandbox shape: %s (VIRTNET_SANDBOX_SHAPE)" % vnsb.default_shape()


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "sandbox" in item.fixturenames or "sandbox_nm" in item.fixturenames \
                or "sandbox_factory" in item.fixturenames:
            item.add_marker(pytest.mark.sandbox)


def _base_name() -> str:
    env = os.environ.get("VIRTNET_SANDBOX_NAME")
    if env:
        return env
    # Short and unique per process, so parallel runs and xdist workers never
    # share namespaces: t<pid>[<worker>]. VIRTNET_SANDBOX_PREFIX replaces the
    # "t" (sandbox/libvirt9/run sets l9, so its instances are told apart).
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    prefix = os.environ.get("VIRTNET_SANDBOX_PREFIX", "t")
    return "%s%d%s" % (prefix, os.getpid(), worker.replace("gw", "w"))


class _Factory:
    def __init__(self) -> None:
        self.started: list[vnsb.Sandbox] = []

    def get(self, name: str, *, with_nm: bool = False) -> vnsb.Sandbox:
        reason = missing_requirements(with_nm)
        if reason:
            pytest.skip(reason)
        sb = vnsb.Sandbox(name, with_nm=with_nm)  # shape: $VIRTNET_SANDBOX_SHAPE
        env = os.environ.get("VIRTNET_SANDBOX_NAME")
        if env and name in (env, env + "n") and bool(sb.meta.get("with_nm")) == with_nm \
                and sb.meta.get("shape", "classic") == sb.shape and sb.healthy():
            return sb  # the developer's long-running instance: reuse, never tear down
        self.started.append(sb)  # registered first: a failed up is cleaned too
        sb.up()
        return sb

    def close(self) -> None:
        if os.environ.get("VIRTNET_SANDBOX_KEEP") == "1":
            return
        for sb in reversed(self.started):
            sb.down()


@pytest.fixture(scope="session")
def sandbox_factory():
    f = _Factory()
    yield f
    f.close()


@pytest.fixture(scope="session")
def sandbox(sandbox_factory) -> vnsb.Sandbox:
    return sandbox_factory.get(_base_name())


@pytest.fixture(scope="session")
def sandbox_nm(sandbox_factory) -> vnsb.Sandbox:
    return sandbox_factory.get(_base_name() + "n", with_nm=True)
