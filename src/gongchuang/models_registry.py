"""Imports every module's tables so that Alembic and `create_all` see the whole schema."""

from __future__ import annotations

import importlib

MODEL_MODULES = [
    "gongchuang.core.models",
    "gongchuang.points.models",
    "gongchuang.volunteer.models",
    "gongchuang.emergency.models",
    "gongchuang.training.models",
]


def load_all_models() -> None:
    for name in MODEL_MODULES:
        importlib.import_module(name)
