"""The execution environment's build context, as far as it can be tested
without a container engine or the base image (neither is available here):
`ansible-builder create` succeeds; the pinned ansible-core has a build for
the EE's Python (and none for the base image's platform Python 3.9, which is
why the EE names another); every Python requirement of the context installs
from a wheel for that Python; the collection installs from the context with
`ansible-galaxy collection install -r`; and the collection pushes no
hypervisor-side system or Python requirement into the EE."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
EE = yaml.safe_load((ROOT / "execution-environment.yml").read_text())
HYPERVISOR_SIDE = ("NetworkManager", "network-manager", "systemd", "iproute", "libvirt", "lxml", "netaddr")


def sh(*argv, cwd=None, check=True, env=None) -> subprocess.CompletedProcess:
    cp = subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=600,
                        env=dict(os.environ, **(env or {})))
    if check:
        assert cp.returncode == 0, f"{argv}: {cp.stdout[-2000:]}{cp.stderr[-2000:]}"
    return cp


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    if not (BIN / "ansible-builder").exists():
        pytest.skip("ansible-builder missing (pip install -r requirements-dev.txt)")
    out = ROOT / ".build" / "ee"
    out.mkdir(parents=True, exist_ok=True)
    sh(BIN / "ansible-galaxy", "collection", "build", "--force", "--output-path", out, ROOT, cwd=ROOT)
    ctx = tmp_path_factory.mktemp("ee") / "context"
    sh(BIN / "ansible-builder", "create", "-f", ROOT / "execution-environment.yml", "-c", ctx, cwd=ROOT)
    return ctx


def ee_python() -> str:
    path = EE["dependencies"]["python_interpreter"]["python_path"]
    m = re.search(r"python(\d+\.\d+)$", path)
    assert m, path
    return m.group(1)


def pip_download(dest: Path, python: str, *reqs: str, check: bool = True) -> subprocess.CompletedProcess:
    return sh(BIN / "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--python-version", python,
              "--platform", "manylinux2014_x86_64", "--implementation", "cp", "-d", dest, *reqs, check=check)


def test_the_tarball_named_in_the_ee_is_the_one_galaxy_yml_builds():
    version = yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]
    name = f"virtnet-networking-{version}.tar.gz"
    assert EE["additional_build_files"][0]["src"].endswith("/" + name)
    assert EE["dependencies"]["galaxy"]["collections"][0]["name"] == "collections/" + name


def test_ansible_core_has_a_build_for_the_ee_python_not_for_the_platform_python(context, tmp_path):
    # Dockerfile or Containerfile, after the container runtime ansible-builder assumes
    containerfile = next(p for p in context.iterdir() if p.name in ("Containerfile", "Dockerfile")).read_text()
    assert EE["dependencies"]["python_interpreter"]["python_path"] in containerfile
    pin = EE["dependencies"]["ansible_core"]["package_pip"]
    assert pip_download(tmp_path / "ok", ee_python(), pin).returncode == 0
    # CentOS Stream 9's platform python: the reason the EE names another one
    assert pip_download(tmp_path / "no", "3.9", pin, check=False).returncode != 0


def test_every_python_requirement_of_the_context_installs_for_the_ee_python(context, tmp_path):
    reqs = [EE["dependencies"]["ansible_core"]["package_pip"], EE["dependencies"]["ansible_runner"]["package_pip"]]
    extra = context / "_build" / "requirements.txt"
    if extra.exists():
        reqs += [ln.split("#")[0].strip() for ln in extra.read_text().splitlines() if ln.split("#")[0].strip()]
    for req in reqs:
        cp = pip_download(tmp_path, ee_python(), req, check=False)
        if cp.returncode != 0:   # pure-Python sdists are fine too
            cp = sh(BIN / "pip", "download", "-q", "--no-deps", "--no-binary=:none:", "-d", tmp_path, req,
                    check=False)
        assert cp.returncode == 0, (req, cp.stderr[-1500:])


def galaxy_install(context: Path, dest: Path) -> None:
    """As the EE build runs it: from _build, into an empty collections path
    (the only one configured, so a copy installed elsewhere on this machine
    cannot make it a no-op)."""
    sh(BIN / "ansible-galaxy", "collection", "install", "-r", "requirements.yml", "-p", dest,
       cwd=context / "_build", env={"ANSIBLE_COLLECTIONS_PATH": str(dest)})


def test_the_collection_installs_from_the_context(context, tmp_path):
    galaxy_install(context, tmp_path / "colls")
    manifest = tmp_path / "colls" / "ansible_collections" / "virtnet" / "networking" / "MANIFEST.json"
    assert manifest.exists()


def test_no_hypervisor_side_requirement_reaches_the_ee(context, tmp_path):
    """ansible-builder's introspection of the installed collection (what it
    runs in the build) finds no system or Python requirement of ours."""
    colls = tmp_path / "colls"
    galaxy_install(context, colls)
    cp = sh(BIN / "ansible-builder", "introspect", "--sanitize", colls)
    found = yaml.safe_load(cp.stdout) or {}
    lines = [str(x) for v in found.values() for x in (v or [])]
    assert not [ln for ln in lines if any(w in ln for w in HYPERVISOR_SIDE)], cp.stdout
    assert not (context / "_build" / "bindep.txt").exists() or not any(
        w in (context / "_build" / "bindep.txt").read_text() for w in HYPERVISOR_SIDE)
    shutil.rmtree(colls)
