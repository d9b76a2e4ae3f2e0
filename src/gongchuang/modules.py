"""The domain modules this installation runs. Each registers its routes, templates, permissions,
event subscribers and jobs when loaded."""

from __future__ import annotations

import importlib

from fastapi import FastAPI

# Domain packages are appended here as they land, e.g. "gongchuang.points".
DOMAIN_MODULES: list[str] = [
    "gongchuang.points",
    "gongchuang.volunteer",
    "gongchuang.emergency",
    "gongchuang.training",
]


def load_modules(app: FastAPI | None = None) -> None:
    for name in DOMAIN_MODULES:
        module = importlib.import_module(name)
        if hasattr(module, "register"):
            module.register()  # permissions, event topics, job handlers: also for workers
        if app is not None and hasattr(module, "install"):
            module.install(app)
