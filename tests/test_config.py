"""Configuration errors stop start-up with one line naming the file and the key."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.demo import start_demo_backends
from gateway.settings import ConfigError, Settings, configuration_table, load_settings

VALID = """
[[providers]]
id = "dp"
kind = "datapacket"
token = "upstream-secret"

[[tokens]]
name = "ops"
scope = "full-access"
token = "client-secret"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fleet.toml"
    path.write_text(text)
    return path


def test_valid_config_loads_with_defaults(tmp_path):
    settings = load_settings(write(tmp_path, VALID))
    provider = settings.providers[0]
    assert provider.base_url == "https://api.datapacket.com/v0/graphql"
    assert provider.prefix == "DP"
    assert provider.credentials == {"token": "upstream-secret"}
    assert (settings.host, settings.port, settings.graphiql) == ("127.0.0.1", 8000, True)
    assert "upstream-secret" not in repr(settings)
    assert "client-secret" not in repr(settings)


def test_two_accounts_of_one_kind_are_allowed(tmp_path):
    text = VALID.replace('id = "dp"', 'id = "dp-eu"') + VALID.split("[[tokens]]")[0].replace(
        'id = "dp"', 'id = "dp-us"'
    )
    settings = load_settings(write(tmp_path, text))
    assert [p.id for p in settings.providers] == ["dp-eu", "dp-us"]


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (('kind = "datapacket"', 'kind = "linode"'), "providers[0].kind"),
        (('id = "dp"', 'id = "DP!"'), "providers[0].id"),
        (('token = "upstream-secret"', "token = 42"), "providers[0].token"),
        (('token = "upstream-secret"', 'token_env = "FLEETQL_UNSET_VARIABLE"'), "token_env"),
        (('token = "upstream-secret"', 'token = "x"\ncolour = "red"'), "providers[0].colour"),
        (('scope = "full-access"', 'scope = "admin"'), "tokens[0].scope"),
        (('token = "client-secret"', 'sha256 = "abc"'), "tokens[0].sha256"),
        (("[[tokens]]", '[server]\nport = "eighty"\n[[tokens]]'), "server.port"),
    ],
)
def test_bad_config_names_the_key(tmp_path, change, key):
    path = write(tmp_path, VALID.replace(*change, 1))
    with pytest.raises(ConfigError) as raised:
        load_settings(path)
    assert str(path) in str(raised.value)
    assert key in str(raised.value)


def refused(path: Path) -> str:
    """The one-line ConfigError message loading ``path`` raises."""
    with pytest.raises(ConfigError) as raised:
        load_settings(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    return message


def with_key(where: str, line: str) -> str:
    """VALID with one more key: in the provider table, or in a ``[server]``-like table."""
    if where == "provider":
        return VALID.replace('token = "upstream-secret"', f'token = "upstream-secret"\n{line}')
    return VALID.replace("[[tokens]]", f"[{where}]\n{line}\n\n[[tokens]]")


#: Every numeric key and values it refuses: zero or negative rates, limits and timeouts,
#: nan and inf (TOML has both), booleans (True is an int in Python), wrong types.
NUMERIC_KEYS = [
    ("server", "port", ["0", "65536", "-1", "true", "80.5"], "server.port"),
    ("server", "request_deadline", ["0", "-1", "nan", "inf", "true"], "server.request_deadline"),
    ("server", "shutdown_timeout", ["0", "-0.5", "nan"], "server.shutdown_timeout"),
    ("limits", "queries_per_minute", ["0", "-1", "true", "1.5"], "limits.queries_per_minute"),
    ("limits", "mutations_per_minute", ["0", "-60"], "limits.mutations_per_minute"),
    ("limits", "max_depth", ["0", "true"], "limits.max_depth"),
    ("limits", "max_body_bytes", ["-1"], "limits.max_body_bytes"),
    ("cache", "servers", ["-1", "nan", "inf", "true"], "cache.servers"),
    ("cache", "catalog", ['"600"'], "cache.catalog"),
    ("provider", "connect_timeout", ["0", "-1", "nan", "true"], "providers[0].connect_timeout"),
    ("provider", "read_timeout", ["0", "inf"], "providers[0].read_timeout"),
    ("provider", "rate_per_second", ["0", "-3"], "providers[0].rate_per_second"),
    ("provider", "max_concurrency", ["0", "true", "2.5"], "providers[0].max_concurrency"),
    ("provider", "breaker_failures", ["0", "true"], "providers[0].breaker_failures"),
    ("provider", "breaker_cooldown", ["0", "-10"], "providers[0].breaker_cooldown"),
    ("provider", "retries", ["-1", "true", "1.5"], "providers[0].retries"),
    ("provider", "retry_backoff", ["0"], "providers[0].retry_backoff"),
    ("provider", "max_backoff", ["-1"], "providers[0].max_backoff"),
    ("provider", "retry_budget", ["0", "1.5", "nan", "true"], "providers[0].retry_budget"),
]


@pytest.mark.parametrize(
    ("where", "line", "key"),
    [
        (where, f"{name} = {value}", key)
        for where, name, values, key in NUMERIC_KEYS
        for value in values
    ],
)
def test_a_numeric_key_out_of_range_names_the_key(tmp_path, where, line, key):
    assert f": {key}: " in refused(write(tmp_path, with_key(where, line)))


def test_zero_where_zero_has_a_meaning_is_accepted(tmp_path):
    no_retries = load_settings(write(tmp_path, with_key("provider", "retries = 0")))
    assert no_retries.providers[0].resilience.retries == 0  # 0: reads are not retried
    uncached = load_settings(write(tmp_path, with_key("cache", "servers = 0\ncatalog = 0")))
    ttls = uncached.providers[0].cache_ttls  # 0: that kind is not cached
    assert (ttls["servers"], ttls["catalog"], ttls["billing"]) == (0, 0, 60)


def of_kind(table: str, line: str = "") -> str:
    """VALID with its provider of another kind (``table`` replaces the ``kind`` line)."""
    return VALID.replace('kind = "datapacket"', table).replace(
        'token = "upstream-secret"', f'token = "upstream-secret"\n{line}'
    )


@pytest.mark.parametrize(
    ("table", "line", "key"),
    [
        ('kind = "mammoth"', "concurrency = 0", "concurrency"),
        ('kind = "mammoth"', "concurrency = true", "concurrency"),
        ('kind = "mammoth"', "per_page = 201", "per_page"),
        ('kind = "dashserv"', "concurrency = -1", "concurrency"),
        ('kind = "packet"\nproject_ids = ["p1"]', "max_concurrency = true", "max_concurrency"),
        ('kind = "packet"\nproject_ids = ["p1"]', "max_concurrency = 0", "max_concurrency"),
        ('kind = "packet"\nproject_ids = [""]', "", "project_ids"),
        ('kind = "dcimanager"\nbase_url = "https://dci.test"', "", "session"),
        (
            'kind = "dcimanager"\nbase_url = "https://dci.test"\nsession = "s"',
            "retries = 21",
            "retries",
        ),
        ('kind = "dcimanager"\nsession = "s"', "", "base_url"),
    ],
)
def test_an_adapter_option_out_of_range_names_the_key(tmp_path, table, line, key):
    text = of_kind(table, line)
    if "dcimanager" in table:  # a session or a login, not a token
        text = text.replace('token = "upstream-secret"\n', "")
    assert f": providers[0].{key}: " in refused(write(tmp_path, text))


@pytest.mark.parametrize("kind", ["mammoth", "dashserv", "packet", "datapacket"])
def test_the_retired_concurrency_key_is_refused_naming_its_successor(tmp_path, kind):
    # Before, Mammoth and dashserv took ``concurrency = 8`` as their own semaphore's size.
    table = f'kind = "{kind}"' + ('\nproject_ids = ["p1"]' if kind == "packet" else "")
    message = refused(write(tmp_path, of_kind(table, "concurrency = 8")))
    assert ": providers[0].concurrency: " in message and "use max_concurrency" in message


def test_max_concurrency_and_retries_are_the_general_policy_of_every_kind(tmp_path):
    # Before, Packet's max_concurrency and DCImanager's retries were also adapter options.
    packet = of_kind('kind = "packet"\nproject_ids = ["p1"]', "max_concurrency = 4")
    [config] = load_settings(write(tmp_path, packet)).providers
    assert config.resilience.max_concurrency == 4 and "max_concurrency" not in config.options
    dci = 'kind = "dcimanager"\nbase_url = "https://dci.test"\nsession = "s"'
    text = of_kind(dci).replace('token = "upstream-secret"\n', "")
    [config] = load_settings(write(tmp_path, text)).providers
    assert (config.resilience.retries, config.resilience.retry_backoff) == (6, 0.1)
    [config] = load_settings(write(tmp_path, text.replace('"s"', '"s"\nretries = 1'))).providers
    assert config.resilience.retries == 1 and "retries" not in config.options


def test_dcimanager_login_credentials_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("FLEETQL_TEST_DCI_PASSWORD", "dci-password")
    dci = 'kind = "dcimanager"\nbase_url = "https://dci.test"\nemail = "a@b.c"'
    line = 'password_env = "FLEETQL_TEST_DCI_PASSWORD"'
    text = of_kind(dci, line).replace('token = "upstream-secret"\n', "")
    [config] = load_settings(write(tmp_path, text)).providers
    assert config.credentials == {"email": "a@b.c", "password": "dci-password"}


#: Values that are wrong in a way pydantic words with the value (its type, its length).
UNSHOWN = [
    ("server", 'ops_token = ""'),
    ("server", "ops_token = 12345678"),
    ("provider", 'colour = "upstream-secret"'),
    ("tokens", 'providers = ["upstream-secret"]'),
]


@pytest.mark.parametrize(("where", "line"), UNSHOWN)
def test_an_error_is_one_line_without_pydantic_wording_or_values(tmp_path, where, line):
    if where == "tokens":
        text = VALID + line + "\n"
    else:
        text = with_key(where, line)
    message = refused(write(tmp_path, text))
    assert "Input should" not in message and "pydantic" not in message
    assert "12345678" not in message and "client-secret" not in message


def test_the_embedded_defaults_are_the_files_defaults(tmp_path):
    loaded = load_settings(write(tmp_path, VALID))
    built = Settings(providers=loaded.providers, tokens=loaded.tokens, source=loaded.source)
    assert built == loaded


def test_a_credential_given_inline_and_by_variable_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("FLEETQL_TEST_UPSTREAM", "from-the-environment")
    text = with_key("provider", 'token_env = "FLEETQL_TEST_UPSTREAM"')
    message = refused(write(tmp_path, text))
    assert ": providers[0].token: " in message and "not both" in message
    assert "upstream-secret" not in message and "from-the-environment" not in message


SECOND_TOKEN = '\n[[tokens]]\nname = "dashboard"\nscope = "read-only"\n'


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ('token = "client-secret"', "tokens[1].token"),
        (f'sha256 = "{hashlib.sha256(b"client-secret").hexdigest()}"', "tokens[1].sha256"),
        (f'sha256 = "{hashlib.sha256(b"client-secret").hexdigest().upper()}"', "tokens[1].sha256"),
        ('token_env = "FLEETQL_TEST_CLIENT"', "tokens[1].token_env"),
    ],
)
def test_one_client_token_in_two_entries_is_refused(tmp_path, monkeypatch, line, key):
    # Before, the last entry silently won: a full-access token became read-only.
    monkeypatch.setenv("FLEETQL_TEST_CLIENT", "client-secret")
    message = refused(write(tmp_path, VALID + SECOND_TOKEN + line + "\n"))
    assert f": {key}: is the same client token as tokens[0] ('ops')" in message
    assert "client-secret" not in message


def test_two_variables_holding_one_token_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("FLEETQL_TEST_A", "shared-secret")
    monkeypatch.setenv("FLEETQL_TEST_B", "shared-secret")
    text = VALID.replace('token = "client-secret"', 'token_env = "FLEETQL_TEST_A"')
    message = refused(write(tmp_path, text + SECOND_TOKEN + 'token_env = "FLEETQL_TEST_B"\n'))
    assert ": tokens[1].token_env: is the same client token as tokens[0]" in message


def test_missing_sections_and_bad_toml(tmp_path):
    with pytest.raises(ConfigError, match="tokens"):
        load_settings(write(tmp_path, VALID.split("[[tokens]]")[0]))
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(write(tmp_path, "[[providers]\n"))
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(tmp_path / "absent.toml")


def test_duplicate_provider_ids_are_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"providers\[1\]\.id: duplicate"):
        load_settings(write(tmp_path, VALID + VALID.split("[[tokens]]")[0]))


def test_the_demo_gives_each_kind_its_own_defaults():
    backends = start_demo_backends(size=2)
    try:
        by_kind = {provider.kind: provider for provider in backends.settings.providers}
    finally:
        backends.stop()
    assert by_kind["dcimanager"].resilience.retries == 6  # its 503 "suspended" answers
    assert by_kind["mammoth"].resilience.retries == 2


def test_the_readme_configuration_table_is_generated_from_the_models():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- config-table:start -->\n", 1)[1].split("<!--", 1)[0]
    assert block == configuration_table(), (
        "paste the output of `python -c 'import gateway.settings as s; "
        'print(s.configuration_table(), end="")\'` into the README'
    )


def test_the_configuration_table_lists_every_key_of_every_kind():
    table = configuration_table()
    for key in ("max_concurrency", "per_page", "project_ids", "stock_location", "sha256"):
        assert f"[].{key}`" in table
    assert "`providers[].session` / `session_env`" in table
    assert "| `providers[].retries` | `2`; dcimanager: `6` |" in table
    assert "concurrency`" not in table.replace("max_concurrency`", "")


def test_cli_reports_a_bad_config_without_a_traceback(tmp_path):
    path = write(tmp_path, VALID.replace('kind = "datapacket"', 'kind = "linode"'))
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "serve", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "providers[0].kind" in result.stderr and str(path) in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_prints_the_committed_schema():
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "schema"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    assert result.stdout == (Path(__file__).resolve().parents[1] / "schema.graphql").read_text()
