# Make the checkout importable as ansible_collections.virtnet.networking,
# the way Ansible itself imports the collection, without installing it.
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, ".build")
LINK = os.path.join(BUILD, "ansible_collections", "virtnet", "networking")

if not os.path.islink(LINK):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    try:
        os.symlink(ROOT, LINK)
    except FileExistsError:
        pass
if BUILD not in sys.path:
    sys.path.insert(0, BUILD)
sys.path.insert(0, os.path.join(ROOT, "tests"))
