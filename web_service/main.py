"""The ASGI entry point: ``uvicorn web_service.main:app``."""

from aerie.settings import Settings
from aerie.startup_heap import freeze_startup_heap
from web_service.app import create_app

app = create_app(Settings())
freeze_startup_heap()
