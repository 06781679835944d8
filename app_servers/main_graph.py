"""The ASGI entry point: ``uvicorn app_servers.main_graph:app``."""

from aerie.settings import Settings
from aerie.startup_heap import freeze_startup_heap
from app_servers.graph import create_app

app = create_app(Settings())
freeze_startup_heap()
