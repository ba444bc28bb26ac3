#!/usr/bin/env bash
# Puts a stand-in REDCap release zip into the local AWS emulator, so an environment whose
# spec.redcap.source.s3 names it can build its image there (the emulator builds nothing
# from it; a real account needs the zip from the REDCap consortium).
#
# Usage: release-zip.sh <bucket> <version>    (AWS_ENDPOINT_URL must point at the emulator)
#
# Creates the bucket when missing and uploads s3://<bucket>/redcap<version>.zip holding an
# empty redcap/redcap_v<version>/ folder, the layout of a real release.
set -euo pipefail
export E2E_LOG_TAG=release-zip
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -eq 2 ]] || die "usage: release-zip.sh <bucket> <version>"
[[ -n ${AWS_ENDPOINT_URL:-} ]] || die "AWS_ENDPOINT_URL is not set (source <statedir>/env.sh first)"
venv=$("$E2E_DIR/scripts/moto.sh" install)
"$venv/bin/python" - "$1" "$2" <<'PY'
import io
import os
import sys
import zipfile

import boto3
from botocore.config import Config

bucket, version = sys.argv[1], sys.argv[2]
s3 = boto3.client(
    "s3",
    endpoint_url=os.environ["AWS_ENDPOINT_URL"],
    region_name=os.environ.get("AWS_REGION", "us-east-1"),
    config=Config(s3={"addressing_style": "path"}),
)
try:
    s3.create_bucket(Bucket=bucket)
except s3.exceptions.BucketAlreadyOwnedByYou:
    pass
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w") as z:
    z.writestr(f"redcap/redcap_v{version}/", "")
s3.put_object(Bucket=bucket, Key=f"redcap{version}.zip", Body=buf.getvalue())
print(f"s3://{bucket}/redcap{version}.zip")
PY
