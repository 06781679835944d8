"""The ASGI entry point: ``uvicorn app_servers.main_scheduler:app``. It wires the mail's
templates (a presenter) into the scheduler, which may not import presenters itself."""

from aerie.settings import Settings
from aerie.startup_heap import freeze_startup_heap
from app_servers.scheduler import create_app
from presenters.mail import TemplateMail

settings = Settings()
app = create_app(settings, TemplateMail(settings))
freeze_startup_heap()
