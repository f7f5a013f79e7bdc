import os
import sys

# Import the collection as Ansible does: ansible_collections.sre.incident... via the repo's collections/ symlink.
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "collections"))
