# FleetQL gateway image (docs/deploy.md).
#
#   docker build -t fleetql .                              # add tracing: --build-arg EXTRAS=tracing
#   docker run -p 8000:8000 -v "$PWD/fleet.toml:/etc/fleetql/fleet.toml:ro" \
#     -e DATAPACKET_TOKEN=... fleetql
#
# Configuration: one TOML file mounted at $FLEETQL_CONFIG; secrets come from the environment
# variables the file names (token_env = "DATAPACKET_TOKEN", ...), never from the image.
# Set FLEETQL_CONFIG to an empty value to run the embedded demo instead.

FROM python:3.11-slim AS build
ARG EXTRAS=""
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/fleetql
WORKDIR /src
COPY pyproject.toml constraints.txt README.md schema.graphql ./
# gateway/ includes GraphiQL's vendored assets (gateway/graphiql/static), served offline.
COPY errors errors
COPY gateway gateway
COPY schema schema
COPY resolvers resolvers
COPY providers providers
# The embedded demo (FLEETQL_CONFIG empty) and `fleetql emulate` serve the emulators.
COPY emulators emulators
RUN /opt/fleetql/bin/pip install -c constraints.txt ".${EXTRAS:+[$EXTRAS]}"
# From /, so the installed package is checked, not /src: GraphiQL's page and every asset it names.
RUN cd / && /opt/fleetql/bin/python -c "from gateway.graphiql import graphiql_page; graphiql_page(None)"

FROM python:3.11-slim
ENV PATH=/opt/fleetql/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    FLEETQL_CONFIG=/etc/fleetql/fleet.toml
COPY --from=build /opt/fleetql /opt/fleetql
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin fleetql \
    && mkdir -p /etc/fleetql
USER 10001
EXPOSE 8000
# Liveness only: /healthz never calls a provider (readiness, /readyz, is for the load balancer).
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
# Exec form: uvicorn is PID 1 and gets SIGTERM; in-flight requests then have
# server.shutdown_timeout seconds (give `docker stop -t` / the orchestrator a little more).
STOPSIGNAL SIGTERM
CMD ["fleetql", "serve", "--host", "0.0.0.0", "--port", "8000"]
