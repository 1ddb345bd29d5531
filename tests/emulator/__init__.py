"""A Proxmox VE API emulator for the firewall endpoints (test and demo asset, not shipped).

See README.md beside this file. ``pve_emulator.py`` is the command line entry point;
``app.Emulator`` runs it in-process; ``fixtures.py`` has the pytest fixtures.
"""
