"""The ASGI entry point: ``uvicorn api_service.main:app``."""

from aerie.settings import Settings
from aerie.startup_heap import freeze_startup_heap
from api_service.app import create_app

app = create_app(Settings())
freeze_startup_heap()
