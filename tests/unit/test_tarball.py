"""What `ansible-galaxy collection build` ships: what a user needs (modules,
module_utils, doc fragments, roles, the user playbooks and example inventory,
meta, docs, COPYING, README, the changelog, the execution environment files)
and nothing of the development tooling (sandbox, bench, dev, molecule, test
stages, integration tests, the demo), no cache or virtualenv at any depth,
and no shipped text pointing at a file that is not shipped.

The build runs on a copy of the files git knows about (with their working
tree content), plus the litter a developer's checkout gathers: pytest, mypy
and Python caches and a virtualenv nested below the top, a stray file."""
from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
import sys
import tarfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Every shipped file must match one of these (fnmatch: "*" also matches "/").
ALLOWED = [
    "MANIFEST.json", "FILES.json", "COPYING", "CHANGELOG.rst",
    "bindep.txt", "requirements.txt", "execution-environment.yml", "meta/execution-environment.yml",
    "meta/runtime.yml",
    "changelogs/changelog.yaml", "changelogs/config.yaml",
    "plugins/modules/*.py", "plugins/module_utils/*.py", "plugins/doc_fragments/*.py",
    "plugins/filter/*.py", "plugins/filter/*.yml", "plugins/plugin_utils/*.py",
    "roles/*/README.md", "roles/*/defaults/main.yml", "roles/*/meta/main.yml",
    "roles/*/meta/argument_specs.yml", "roles/*/tasks/*.yml", "roles/*/handlers/*.yml",
    "roles/*/templates/*", "roles/*/vars/*.yml",
    "playbooks/site.yml", "playbooks/verify.yml", "playbooks/pxe.yml", "playbooks/report.yml", "playbooks/export.yml",
    "playbooks/templates/*.j2",
    "playbooks/inventory/example/*.yml",
    "docs/*.md", "docs/docsite/*.yml", "docs/docsite/rst/*.rst", "docs/images/*.png",
    # ansible-test reads the modules' Python floor from it (sanity of the installed tree)
    "tests/config.yml", "tests/sanity/ignore-*.txt",
]
REQUIRED = [
    "docs/README.md", "COPYING", "meta/runtime.yml", "changelogs/changelog.yaml",
    "playbooks/site.yml", "playbooks/verify.yml", "playbooks/inventory/example/hosts.yml",
    "tests/config.yml",
]
# Paths of the source tree that are not shipped: no shipped text may point at them.
UNSHIPPED_REFS = re.compile(
    r"sandbox/|bench/|\./dev\b|molecule/|tests/(integration|unit|stages|run-all)|playbooks/demo|inventory/demo"
    r"|requirements-dev")
LITTER = [
    "plugins/modules/__pycache__/virt_network.cpython-311.pyc",
    "plugins/module_utils/stray.pyc",
    "roles/bonded_bridge/.pytest_cache/v/cache/nodeids",
    "playbooks/.venv/bin/python",
    "tests/.pytest_cache/README.md",
    "plugins/.mypy_cache/3.11/x.json",
    "plugins/modules/guest.qcow2",
    "roles/bonded_bridge/tasks/converge.log",
]


def _git_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                         capture_output=True, check=True).stdout.decode()
    return [p for p in out.split("\0") if p and os.path.isfile(os.path.join(ROOT, p))]


@pytest.fixture(scope="module")
def shipped(tmp_path_factory) -> dict[str, bytes]:
    base = tmp_path_factory.mktemp("tarball")
    src = base / "src"
    for rel in _git_files():
        dest = src / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(os.path.join(ROOT, rel), dest)
    for rel in LITTER:
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text("litter\n")
    out = base / "out"
    cp = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-galaxy"), "collection", "build",
                         "--output-path", str(out), str(src)], capture_output=True, text=True, check=False)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    (tarball,) = out.glob("virtnet-networking-*.tar.gz")
    with tarfile.open(tarball) as tf:
        return {m.name: tf.extractfile(m).read() for m in tf.getmembers() if m.isfile()}


def test_only_what_a_user_needs_ships(shipped):
    stray = sorted(f for f in shipped if not any(fnmatch.fnmatch(f, p) for p in ALLOWED))
    assert not stray, stray


def test_what_a_user_needs_is_there(shipped):
    missing = [f for f in REQUIRED if f not in shipped]
    modules = sorted(f for f in os.listdir(os.path.join(ROOT, "plugins", "modules")) if f.endswith(".py"))
    missing += ["plugins/modules/" + m for m in modules if "plugins/modules/" + m not in shipped]
    for role in os.listdir(os.path.join(ROOT, "roles")):
        for f in ("README.md", "meta/argument_specs.yml", "tasks/main.yml"):
            if "roles/%s/%s" % (role, f) not in shipped:
                missing.append("roles/%s/%s" % (role, f))
    assert not missing, missing


def test_no_cache_or_litter_at_any_depth(shipped):
    litter = sorted(f for f in shipped if re.search(
        r"(^|/)(__pycache__|\.pytest_cache|\.mypy_cache|\.venv|\.tox)/|\.py[co]$|\.(qcow2|log)$", f))
    assert not litter, litter


def _pointers(shipped, files) -> list[str]:
    hits = []
    for name in files:
        if name in ("FILES.json", "MANIFEST.json"):
            continue
        for n, line in enumerate(shipped[name].decode("utf-8", "replace").splitlines(), 1):
            if UNSHIPPED_REFS.search(line):
                hits.append("%s:%d: %s" % (name, n, line.strip()[:120]))
    return hits


def test_no_shipped_file_points_at_unshipped_files(shipped):
    hits = _pointers(shipped, list(shipped))
    assert not hits, "\n".join(hits)


def test_the_users_readme_ships_and_the_developers_does_not(shipped):
    # galaxy.yml's readme is docs/README.md; README.md is the source tree's
    # front page (the sandbox, ./dev, figures), which a user cannot run.
    info = __import__("json").loads(shipped["MANIFEST.json"])["collection_info"]
    assert info["readme"] == "docs/README.md"
    assert "README.md" not in shipped and "docs/README.md" in shipped


def test_licence_matches_the_headers_and_no_placeholder_urls(shipped):
    import json

    info = json.loads(shipped["MANIFEST.json"])["collection_info"]
    assert info["license"] == ["GPL-3.0-or-later"]
    text = shipped["COPYING"].decode()
    assert "GNU GENERAL PUBLIC LICENSE" in text and "Version 3, 29 June 2007" in text
    # the source headers say "GNU General Public License v3.0+"
    header = shipped["plugins/modules/virt_network.py"].decode()
    assert "GNU General Public License v3.0+" in header
    for key in ("repository", "documentation", "homepage", "issues"):
        url = info.get(key) or ""
        assert not re.search(r"\.(invalid|example|test|localhost)(/|$)|example\.(com|org|net)", url), (key, url)


SEED = re.compile(r"\bseed\b", re.I)


def _seeds(shipped, files) -> list[str]:
    return ["%s:%d: %s" % (name, n, line.strip()[:120])
            for name in sorted(files)
            for n, line in enumerate(shipped[name].decode("utf-8", "replace").splitlines(), 1) if SEED.search(line)]


def test_no_seed_in_shipped_text(shipped):
    # Users cannot know what "the seed" is: shipped text names the RHEL
    # document by title and section instead.
    hits = _seeds(shipped, list(shipped))
    assert not hits, "\n".join(hits)


def test_no_seed_in_changelog_fragments():
    # The fragments become the shipped changelog at release.
    base = os.path.join(ROOT, "changelogs", "fragments")
    hits = []
    for name in sorted(os.listdir(base)):
        with open(os.path.join(base, name)) as f:
            hits += ["%s:%d" % (name, n) for n, line in enumerate(f, 1) if SEED.search(line)]
    assert not hits, hits
