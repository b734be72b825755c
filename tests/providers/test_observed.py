"""The live DataPacket fields for the other kinds: filled only from documented facts, else null."""

from __future__ import annotations

from providers.dashserv import mapping as dashserv
from providers.mammoth import mapping as mammoth
from providers.observed import add_observed_fields
from providers.packet import mapping as packet


def _server(**system) -> dict:
    return {
        "hardware": {
            "cpus": [{"count": 2, "name": "Xeon"}],
            "hdds": [
                {"count": 2, "storage": {"size": 960, "type": "NVME"}},
                {"count": 1, "storage": {"size": 64, "type": "SATADOM"}},
            ],
            "rams": [],
        },
        "network": {},
        "system": {"raid": "UNKNOWN", **system},
        "trafficPlan": {"name": None},
    }


def test_storage_is_one_entry_per_drive_and_the_os_is_the_same():
    server = add_observed_fields(_server(os={"name": "Debian 12"}), cores=[16])
    assert server["hardware"]["storage"] == [
        {"size": 960, "type": "NVME"},
        {"size": 960, "type": "NVME"},
        {"size": 64, "type": "SATADOM"},
    ]
    assert server["hardware"]["cpus"][0]["cores"] == 16
    assert server["system"]["operatingSystem"] == {"name": "Debian 12"}
    assert server["deviceType"] is None
    assert server["network"]["hasLinkAggregation"] is None
    assert server["trafficPlan"] == {"name": None, "type": None, "bandwidth": None}


def test_what_is_not_reported_is_null():
    unnamed = add_observed_fields(_server(os={"name": ""}))
    assert unnamed["hardware"]["cpus"][0]["cores"] is None
    assert unnamed["system"]["operatingSystem"] is None
    # An OS not fetched (dashserv without its installation call) stays out, as os does.
    assert "operatingSystem" not in add_observed_fields(_server())["system"]


def test_packet_cores_only_where_the_processor_name_says_them():
    plan = {
        "specs": {
            "cpus": [
                {"count": 1, "type": "AMD EPYC 7402P 24-Core Processor @ 2.8GHz"},
                {"count": 1, "type": "Intel Xeon Gold"},
            ]
        }
    }
    assert packet.plan_cpu_cores(plan) == [24, None]
    assert packet.plan_cpu_cores(None) == []


def test_mammoth_vcpus_are_cores_only_when_counted_in_cores():
    assert mammoth.vcpu_cores({"vcpus": 4, "size": {"vcpu_units": "core"}}) == [4]
    assert mammoth.vcpu_cores({"vcpus": 4, "size": {"vcpu_units": "thread"}}) == [None]
    assert mammoth.vcpu_cores({"vcpus": 4}) == [None]


def test_dashserv_cores_of_a_model_and_of_a_vserver():
    dedicated = {"device": {"model": {"cpu": {"name": "AMD EPYC 7302P", "cores": 16}}}}
    assert dashserv.cpu_cores(dashserv.DEDICATED, dedicated) == [16]
    assert dashserv.cpu_cores(dashserv.VSERVER, {"options": {"cores": 4}}) == [4]
    assert dashserv.cpu_cores(dashserv.DEDICATED, {}) == [None]


def test_instant_delivery_hardware_has_the_observed_fields_too():
    size = {
        "slug": "cpu-4vcpu",
        "vcpus": 4,
        "vcpu_units": "core",
        "memory": 8192,
        "disk": 80,
        "storage_description": "NVMe SSD",
    }
    hardware = mammoth.instant_delivery_with_observed(size, "syd", "MC")["hardware"]
    assert [cpu["cores"] for cpu in hardware["cpus"]] == [4]
    assert hardware["storage"] == [{"size": 80, "type": "NVME"}]
    model = {
        "uuid": "eP73s",
        "cpu": {"amount": 1, "name": "AMD EPYC 7302P", "cores": 16},
        "disks": {"all": [{"capacity": "4000", "type": "HDD"}] * 2},
        "stock": 1,
    }
    for entry in dashserv.instant_delivery_with_observed(model, "DS"):
        assert [cpu["cores"] for cpu in entry["hardware"]["cpus"]] == [16]
        assert entry["hardware"]["storage"] == [{"size": 4000, "type": "HDD"}] * 2
