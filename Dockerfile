# Two images from one build: `app` runs every Aerie role (the command picks the
# role), `nginx` is the front proxy with the static files and its configuration
# rendered from deploy/nginx.conf.template for docker-compose.yml's services.
#   docker build --target app -t aerie .     docker build --target nginx -t aerie-nginx .

FROM python:3.11-slim AS app
WORKDIR /app
COPY pyproject.toml README.md ./
COPY aerie aerie
COPY api_service api_service
COPY web_service web_service
COPY app_servers app_servers
COPY interactor interactor
COPY presenters presenters
COPY rpc rpc
COPY ops ops
COPY deploy deploy
COPY templates templates
COPY static static
# Editable, so the top-level templates/ and static/ folders are found beside the code.
RUN pip install --no-cache-dir -e . \
    && python -m deploy.nginx compose > /app/nginx.compose.conf \
    && find static -type f \( -name '*.css' -o -name '*.js' -o -name '*.svg' \) \
        -exec gzip -9 -k -n {} \;
# X-Forwarded-For/-Proto are believed only from AERIE_TRUSTED_PROXIES (default
# 127.0.0.1): set it to the proxy's address where the image runs (docker-compose.yml does).
RUN useradd --system --home-dir /app aerie && mkdir -p /app/var && chown aerie /app/var
USER aerie
# Only the web app and the API: the app servers (8010-8030) are for the other copies on the
# private network (docker-compose.yml binds each to its own service name), never published.
EXPOSE 8000 8001 8002 8003
CMD ["aerie", "up"]

FROM nginx:1.27 AS nginx
COPY --from=app /app/static /srv/aerie/static
COPY --from=app /app/nginx.compose.conf /etc/nginx/nginx.conf
EXPOSE 80
