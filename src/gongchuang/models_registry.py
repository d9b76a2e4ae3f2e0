"""Imports every module's tables so that Alembic and `create_all` see the whole schema."""

from __future__ import annotations

import importlib

from gongchuang.modules import manifests


def model_modules() -> list[str]:
    return ["gongchuang.core.models", *(module.models for module in manifests())]


def load_all_models() -> None:
    for name in model_modules():
        importlib.import_module(name)
