"""meta/runtime.yml's action groups: every module of a group accepts every
option users are told to set for it in module_defaults (else each task of the
other modules in the play fails "Unsupported parameters"), and each module's
documented action_group membership is what runtime.yml really does (the
membership ansible-doc shows is what a user reads)."""
from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, ".build")
FQ = "virtnet.networking."
# group -> the options the documentation tells users to set for it
GROUP_OPTIONS = {"libvirt": {"uri"}, "virtnet": {"uri"}}


def _runtime_groups() -> dict[str, set[str]]:
    with open(os.path.join(ROOT, "meta", "runtime.yml")) as f:
        raw = yaml.safe_load(f)["action_groups"]

    def members(group: str, seen: tuple = ()) -> set[str]:
        assert group not in seen, "extend_group loop: %s" % (seen,)
        out = set()
        for item in raw[group]:
            if isinstance(item, dict):
                for ext in item["metadata"]["extend_group"]:
                    assert ext.startswith(FQ), "%s extends %s: outside this collection" % (group, ext)
                    out |= members(ext[len(FQ):], seen + (group,))
            else:
                out.add(item)
        return out

    return {g: members(g) for g in raw}


def _modules() -> list[str]:
    return sorted(f[:-3] for f in os.listdir(os.path.join(ROOT, "plugins", "modules"))
                  if f.endswith(".py") and not f.startswith("_"))


def test_every_group_documents_what_users_may_set():
    assert set(_runtime_groups()) == set(GROUP_OPTIONS)


def test_every_member_accepts_the_groups_options():
    for group, members in _runtime_groups().items():
        assert members, group
        for name in sorted(members):
            mod = importlib.import_module("ansible_collections.virtnet.networking.plugins.modules." + name)
            missing = GROUP_OPTIONS[group] - set(mod.argument_spec())
            assert not missing, "group/%s%s: %s does not take %s" % (FQ, group, name, sorted(missing))


def test_modules_with_uri_are_in_the_libvirt_group():
    groups = _runtime_groups()
    with_uri = set()
    for name in _modules():
        mod = importlib.import_module("ansible_collections.virtnet.networking.plugins.modules." + name)
        if "uri" in mod.argument_spec():
            with_uri.add(name)
    assert with_uri == groups["libvirt"]
    assert groups["virtnet"] == groups["libvirt"]   # the 0.1.0 name: same modules


def test_documented_membership_matches_runtime():
    groups = _runtime_groups()
    names = [FQ + m for m in _modules()]
    cp = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-doc"), "-j", *names],
                        capture_output=True, text=True, check=False,
                        env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=BUILD))
    assert cp.returncode == 0, cp.stderr
    docs = json.loads(cp.stdout)
    for fq in names:
        short = fq[len(FQ):]
        attr = docs[fq]["doc"]["attributes"].get("action_group")
        assert attr, "%s documents no action_group attribute" % short
        want = sorted(FQ + g for g, members in groups.items() if short in members)
        assert sorted(attr["membership"]) == want, short
        assert attr["support"] == ("full" if want else "none"), short
