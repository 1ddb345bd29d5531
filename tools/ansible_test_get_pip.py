"""Let ansible-test bootstrap pip in its sanity virtualenvs on a machine that reaches PyPI only.

ansible-test creates every sanity-test virtualenv without pip and then bootstraps pip with a
``get-pip.py`` script that it downloads from its own file host (not a package registry). It
looks for a cached copy first, at ``~/.ansible/test/cache/get_pip_<version>.py``. This tool
writes a stand-in there (unless a file is already present) that does what ``get-pip.py`` does
for ansible-test: install the pinned pip version, from PyPI, into the virtualenv. The
resulting virtualenvs hold exactly the packages ansible-test pins.

Run it with the Python that has ansible-core installed: ``python tools/ansible_test_get_pip.py``.
"""

from __future__ import annotations

import os
import sys
import types

STAND_IN = '''"""Stand-in for get-pip.py, written by pve.firewall's tools/ansible_test_get_pip.py."""

import subprocess
import sys

FLAGS = ("--no-setuptools", "--no-wheel")


def main():
    """Install pip with ensurepip, then the requested packages (the pinned pip) from PyPI."""
    args = [arg for arg in sys.argv[1:] if arg not in FLAGS]
    subprocess.run([sys.executable, "-m", "ensurepip", "--default-pip"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet"] + args, check=True)
    if "--no-setuptools" in sys.argv:
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "--quiet", "--yes", "setuptools"], check=False)


if __name__ == "__main__":
    main()
'''


def pip_version() -> str:
    """Return the pip version that the installed ansible-test bootstraps for this Python."""
    # pylint: disable-next=import-outside-toplevel
    from ansible_test._internal.python_requirements import get_venv_packages

    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    return get_venv_packages(types.SimpleNamespace(version=version))["pip"]


def main() -> int:
    """Write the stand-in to ansible-test's cache unless a bootstrap script is already there."""
    version = pip_version()
    path = os.path.expanduser(f"~/.ansible/test/cache/get_pip_{version.replace('.', '_')}.py")
    if os.path.exists(path):
        return 0
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        handle.write(STAND_IN)
    os.replace(path + ".tmp", path)
    print(f"ansible-test pip {version} bootstrap: wrote stand-in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
