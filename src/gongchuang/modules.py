"""The domain modules this installation runs: the one list. Each package's manifest
(`<package>.module`, `MODULE`) says what the module adds to the platform; see core/modules.py."""

from __future__ import annotations

import importlib
from functools import cache

from fastapi import FastAPI

from gongchuang.core.modules import Module, activate, install

# Domain packages are appended here as they land.
DOMAIN_MODULES: list[str] = [
    "gongchuang.points",
    "gongchuang.volunteer",
    "gongchuang.emergency",
    "gongchuang.training",
    "gongchuang.adoption",
    "gongchuang.charity",
]


@cache
def manifests() -> tuple[Module, ...]:
    return tuple(importlib.import_module(f"{name}.module").MODULE for name in DOMAIN_MODULES)


def load_modules(app: FastAPI | None = None) -> None:
    """Activate every module (permissions, topics, subscribers, jobs: what a job worker needs
    too) and, given the web app, install its routes, templates and home-page entry."""
    for module in manifests():
        activate(module)
        if app is not None:
            install(app, module)
