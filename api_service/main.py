"""The ASGI entry point: ``uvicorn api_service.main:app``."""

from aerie.settings import Settings
from api_service.app import create_app

app = create_app(Settings())
