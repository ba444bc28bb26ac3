"""Installs exactly the packages e2e/iam-eval/package-lock.json names, without npm.

Each package's tarball comes from the npm registry (its `resolved` address, or the
registry's standard one for the locked version), is checked against the lock's sha512
`integrity` and unpacked into <dest>/node_modules/<name>. No install scripts run.
Only Node.js itself is then needed to evaluate, so the chart suite's prerequisites stay
one declared Debian package (nodejs), whichever Node.js distribution provides it.

Usage: fetch_locked.py <package-lock.json> <dest>
"""

import base64
import hashlib
import io
import json
import os
import sys
import tarfile
import urllib.request

REGISTRY = os.environ.get("REDCAP_NPM_REGISTRY", "https://registry.npmjs.org").rstrip("/")


def tarball_url(name: str, meta: dict) -> str:
    if meta.get("resolved"):
        return meta["resolved"]
    base = name.rsplit("/", 1)[-1]
    return f"{REGISTRY}/{name}/-/{base}-{meta['version']}.tgz"


def verify(name: str, data: bytes, integrity: str) -> None:
    algo, _, expected = integrity.partition("-")
    if algo != "sha512":
        sys.exit(f"{name}: unsupported integrity {algo!r} (sha512 expected)")
    got = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if got != expected:
        sys.exit(f"{name}: integrity mismatch (lock {expected[:16]}..., got {got[:16]}...)")


def unpack(data: bytes, target: str) -> None:
    os.makedirs(target, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar.getmembers():
            # npm tarballs hold one top folder (usually "package/"): strip it.
            parts = member.name.split("/", 1)
            if len(parts) < 2 or not parts[1] or ".." in parts[1].split("/"):
                continue
            if not (member.isfile() or member.isdir()):
                continue
            member.name = parts[1]
            tar.extract(member, target, filter="data")


def main() -> None:
    lock_path, dest = sys.argv[1], sys.argv[2]
    with open(lock_path) as f:
        lock = json.load(f)
    for path, meta in lock["packages"].items():
        if not path.startswith("node_modules/"):
            continue
        name = path[len("node_modules/") :]
        if not meta.get("integrity"):
            sys.exit(f"{name}: the lock file records no integrity")
        url = tarball_url(name, meta)
        with urllib.request.urlopen(url, timeout=120) as response:
            data = response.read()
        verify(name, data, meta["integrity"])
        unpack(data, os.path.join(dest, path))
        print(f"{name}@{meta['version']}", file=sys.stderr)


if __name__ == "__main__":
    main()
