"""The configuration the documentation shows is configuration FleetQL accepts.

Every ```toml block of the README and docs/ parses; each is validated by ``settings_from_dict``,
a partial one (a ``[server]`` table alone) completed with one provider and one client token,
relative paths taken from the checkout's top.
``examples/fleet.toml`` validates as shipped. Variables a ``*_env`` key names are set first.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from gateway.settings import load_settings, settings_from_dict

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TOML_BLOCK = re.compile(r"^```toml\n(.*?)^```", re.DOTALL | re.MULTILINE)
#: What a partial snippet is completed with.
MINIMAL = {
    "providers": [{"id": "dp", "kind": "datapacket", "token": "upstream-token"}],
    "tokens": [{"name": "client", "scope": "read-only", "token": "client-token"}],
}


def snippets() -> list[Any]:
    """One pytest param per TOML block, named after its document and position."""
    return [
        pytest.param(block, id=f"{path.relative_to(ROOT)}#{i}")
        for path in DOCUMENTS
        for i, block in enumerate(TOML_BLOCK.findall(path.read_text(encoding="utf-8")))
    ]


def set_named_variables(value: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Give every environment variable a ``*_env`` key names a value of its own."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key.endswith("_env") and isinstance(item, str):
                monkeypatch.setenv(item, f"value-of-{item}")
            else:
                set_named_variables(item, monkeypatch)
    elif isinstance(value, list):
        for item in value:
            set_named_variables(item, monkeypatch)


def test_the_documents_have_toml_snippets():
    assert len(snippets()) >= 3


@pytest.mark.parametrize("block", snippets())
def test_every_documented_toml_snippet_is_valid_configuration(block, monkeypatch):
    data = tomllib.loads(block)
    set_named_variables(data, monkeypatch)
    # As if the configuration file were at the top of the checkout (a manifest's path is
    # from the file's folder).
    settings_from_dict({**MINIMAL, **data}, source="<snippet>", base=ROOT)


def test_the_readme_sha256_example_is_the_digest_it_names():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    [line] = [line for line in readme.splitlines() if line.startswith("sha256 = ")]
    example = re.fullmatch(r'sha256 = "([0-9a-f]{64})" +# the digest of "([^"]+)"', line)
    assert example is not None, line
    assert hashlib.sha256(example[2].encode()).hexdigest() == example[1]
    assert 'printf %s "$TOKEN" | sha256sum' in readme  # how to make one


def test_the_example_fleet_validates_with_the_variables_its_header_lists(monkeypatch):
    path = ROOT / "examples" / "fleet.toml"
    header = path.read_text(encoding="utf-8")
    exported = re.findall(r"^#\s+export (\w+)=(\S+)$", header, re.MULTILINE)
    for name, value in exported:
        monkeypatch.setenv(name, value)
    settings = load_settings(path)
    assert sorted(provider.kind for provider in settings.providers) == sorted(
        ["datapacket", "packet", "mammoth", "dashserv", "dcimanager"]
    )
    named = set(re.findall(r'_env = "(\w+)"', header))
    assert named == {name for name, _ in exported}  # each variable the file reads is listed
