"""The suite's inputs are committed in the repository; nothing is read from beside it."""

from __future__ import annotations

import pytest

from tests import self_contained
from tests.openapi_contract import CONTRACTS, OpenApiSpec
from tests.providers.dashserv import examples as dashserv_examples
from tests.test_seed_examples import FIXTURES, documented_examples

pytestmark = pytest.mark.skipif(
    not self_contained.active, reason="checkout at the filesystem root: no directory beside it"
)


def test_a_read_beside_the_repository_is_recorded():
    beside = self_contained.PARENT / "not-part-of-fleetql" / "spec.json"
    before = len(self_contained.opened_beside)
    with pytest.raises(FileNotFoundError):
        beside.read_text()
    try:
        assert self_contained.opened_beside[before:] == [str(beside)]
    finally:
        # Recorded on purpose: keep it out of the end-of-run check.
        del self_contained.opened_beside[before:]


def test_a_read_inside_the_repository_or_temp_dir_is_not_recorded(tmp_path):
    before = len(self_contained.opened_beside)
    (self_contained.ROOT / "pyproject.toml").read_text()
    (tmp_path / "scratch.txt").write_text("x")
    assert self_contained.opened_beside[before:] == []


def test_every_contract_and_fixture_loads_from_inside_the_repository():
    before = len(self_contained.opened_beside)
    for folder in (CONTRACTS, FIXTURES, dashserv_examples.FIXTURES):
        assert folder.is_relative_to(self_contained.ROOT), folder
    packet = OpenApiSpec.load(CONTRACTS / "equinix-metal-openapi.yaml", base_path="/metal/v1")
    mammoth = OpenApiSpec.load(CONTRACTS / "binarylane-openapi.json", base_path="/v2")
    assert packet.document["info"]["version"] == "1.0.0"
    assert mammoth.document["info"]["version"] == "0.35.1"
    assert len(documented_examples()) == 23
    bodies = sorted(dashserv_examples.FIXTURES.glob("*.json"))
    assert len(bodies) == 15
    assert all("success" in dashserv_examples.example(path.stem) for path in bodies)
    assert self_contained.opened_beside[before:] == []
