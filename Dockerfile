# One image for every Aerie role; the command picks the role.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY aerie aerie
COPY api_service api_service
COPY web_service web_service
COPY app_servers app_servers
COPY interactor interactor
COPY presenters presenters
COPY rpc rpc
COPY templates templates
# Editable, so the top-level templates/ folder is found beside the code.
RUN pip install --no-cache-dir -e .
EXPOSE 8000 8001
CMD ["aerie", "up"]
