"""Registers the mailtls plugin so that `pytest --inventory=FILE` works from the repo root.

After `pip install -e .` pytest loads the plugin through its `pytest11` entry point (which also
makes `--inventory FILE`, with a space, work); without the install, this file registers it.
"""

import importlib.metadata
import os

_ENTRY_POINTS = {ep.value for ep in importlib.metadata.entry_points(group="pytest11")}
if "mailtls.plugin" not in _ENTRY_POINTS or os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
    pytest_plugins = ["mailtls.plugin"]
