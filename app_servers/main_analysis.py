"""The ASGI entry point: ``uvicorn app_servers.main_analysis:app``."""

from aerie.settings import Settings
from app_servers.analysis import create_app

app = create_app(Settings())
