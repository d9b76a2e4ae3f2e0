"""ASGI entry point for uvicorn: `gongchuang.asgi:app`."""

from gongchuang.app import create_app

app = create_app()
