"""The ASGI entry point: ``uvicorn app_servers.main_scheduler:app``."""

from aerie.settings import Settings
from app_servers.scheduler import create_app

app = create_app(Settings())
