"""Command-line plumbing shared by `python -m etl` and `python -m metrics`."""

from __future__ import annotations

import importlib


def register_commands(subparsers, module_names: list[str]) -> None:
    """Let each module in `module_names` add its sub-command (its `register(subparsers)`); a module that is
    not installed is skipped, while an import error inside an installed module is raised."""
    for module_name in module_names:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.register(subparsers)
