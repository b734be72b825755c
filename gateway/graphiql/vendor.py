"""Vendor GraphiQL's browser assets from the npm registry into ``static/`` (run by hand).

    python -m gateway.graphiql.vendor

For each package in ``PACKAGES`` the registry's metadata for that exact version gives the
tarball's URL and ``dist.integrity``; the tarball is downloaded, checked against it, and only
the files the page loads (production builds) and the package's licence are written into
``static/`` under names that carry the version. ``static/manifest.json`` then lists each file
with its package, version, source path, size, SHA-384 (the page's ``integrity`` attributes)
and licence. Anything else in ``static/`` (an older version's files) is removed. To upgrade,
change a version here, run this, load GraphiQL (tests/test_graphiql_browser.py) and commit
``static/`` together with this file.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from gateway.graphiql import MANIFEST, STATIC, sri

__all__ = ["PACKAGES", "Package", "vendor"]

REGISTRY = "https://registry.npmjs.org"


@dataclass(frozen=True)
class Package:
    """One npm package: its files the page loads (source path in the tarball -> file name)."""

    name: str
    version: str
    files: dict[str, str]
    #: The package whose LICENSE covers this one, when its own tarball ships none.
    license_from: str | None = None
    license_note: str | None = None
    #: Where the tarball keeps its licence.
    license_source: str = "LICENSE"

    @property
    def license_file(self) -> str:
        """Where its licence is written: ``<package>-<version>.LICENSE.txt``."""
        owner = next((p for p in PACKAGES if p.name == self.license_from), self)
        return f"{_short(owner.name)}-{owner.version}.LICENSE.txt"


def _short(name: str) -> str:
    """``@graphiql/plugin-explorer`` -> ``plugin-explorer``: file names without scope."""
    return name.rsplit("/", 1)[-1]


# Load order: the page includes the scripts and styles in this order.
PACKAGES = [
    Package("react", "18.3.1", {"umd/react.production.min.js": "react-18.3.1.production.min.js"}),
    Package(
        "react-dom",
        "18.3.1",
        {"umd/react-dom.production.min.js": "react-dom-18.3.1.production.min.js"},
    ),
    Package(
        "graphiql",
        "3.9.0",
        {"graphiql.min.js": "graphiql-3.9.0.min.js", "graphiql.min.css": "graphiql-3.9.0.min.css"},
    ),
    Package(
        "@graphiql/plugin-explorer",
        "3.2.6",
        {
            "dist/index.umd.js": "plugin-explorer-3.2.6.umd.js",
            "dist/style.css": "plugin-explorer-3.2.6.css",
        },
        license_from="graphiql",
        license_note="the tarball ships no LICENSE; its repository's (github.com/graphql/graphiql) "
        "MIT licence is the one graphiql ships",
    ),
    # The WebSocket client boot.js gives GraphiQL's fetcher for subscriptions (wsClient).
    Package(
        "graphql-ws",
        "6.4.2",
        {"umd/graphql-ws.min.js": "graphql-ws-6.4.2.min.js"},
        license_source="LICENSE.md",
    ),
]


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


def _checked_tarball(package: Package) -> tuple[dict, tarfile.TarFile]:
    """The registry's metadata of ``package`` and its tarball, verified against dist.integrity."""
    name = urllib.parse.quote(package.name, safe="@/")
    metadata = json.loads(_get(f"{REGISTRY}/{name}/{package.version}"))
    algorithm, _, expected = metadata["dist"]["integrity"].partition("-")
    if algorithm != "sha512":
        raise SystemExit(f"{package.name}: unexpected integrity algorithm {algorithm!r}")
    tarball = _get(metadata["dist"]["tarball"])
    actual = base64.b64encode(hashlib.sha512(tarball).digest()).decode()
    if actual != expected:
        raise SystemExit(f"{package.name}@{package.version}: tarball does not match dist.integrity")
    return metadata, tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz")


def _member(archive: tarfile.TarFile, path: str) -> bytes:
    extracted = archive.extractfile(f"package/{path}")
    if extracted is None:
        raise SystemExit(f"package/{path} is not a regular file")
    return extracted.read()


def vendor(static: Path = STATIC) -> dict:
    """Download, verify and write every package's files and licence; returns the manifest."""
    static.mkdir(exist_ok=True)
    written: dict[str, bytes] = {}
    assets, packages = [], []
    for package in PACKAGES:
        metadata, archive = _checked_tarball(package)
        if package.license_from is None:
            written[package.license_file] = _member(archive, package.license_source)
        for source, file in package.files.items():
            content = _member(archive, source)
            written[file] = content
            assets.append(
                {
                    "file": file,
                    "package": package.name,
                    "version": package.version,
                    "source": source,
                    "bytes": len(content),
                    "integrity": sri(content),
                    "license": metadata["license"],
                    "license_file": package.license_file,
                }
            )
        entry = {
            "package": package.name,
            "version": package.version,
            "tarball": metadata["dist"]["tarball"],
            "tarball_integrity": metadata["dist"]["integrity"],
            "license": metadata["license"],
            "license_file": package.license_file,
        }
        if package.license_note:
            entry["license_note"] = package.license_note
        packages.append(entry)
    manifest = {
        "written_by": "python -m gateway.graphiql.vendor",
        "packages": packages,
        "assets": assets,
    }
    for stale in static.iterdir():
        if stale.name not in written and stale.name != MANIFEST:
            stale.unlink()
    for file, content in written.items():
        (static / file).write_bytes(content)
    (static / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


if __name__ == "__main__":
    for asset in vendor()["assets"]:
        print(f"{asset['bytes']:>9}  {asset['file']}  {asset['integrity']}")
