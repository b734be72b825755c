# FleetQL gateway image. Configuration: mount a TOML file and set FLEETQL_CONFIG to its path;
# give secrets through the environment variables the file names (token_env = "...").
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md schema.graphql ./
COPY gateway gateway
COPY schema schema
COPY resolvers resolvers
COPY providers providers
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
COPY --from=build /install /usr/local
RUN useradd --create-home --uid 10001 fleetql
USER fleetql
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)" || exit 1
CMD ["fleetql", "serve", "--host", "0.0.0.0", "--port", "8000"]
