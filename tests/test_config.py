"""Configuration errors stop start-up with one line naming the file and the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.settings import ConfigError, load_settings

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
