"""moto_server with the fixes the Rust SDK needs (moto[server]==5.2.5).

Usage: python moto_server_compat.py -H 127.0.0.1 -p <port>   (same arguments as moto_server)

moto answers GetBucketVersioning with the root element <GetBucketVersioningResponse>;
S3 (and so the strict aws-sdk-s3 parser) uses <VersioningConfiguration>. boto3 ignores
the root name, which is why moto's own tests never noticed.

The server itself is moto wrapped in our extensions (App Runner, ECS Express Mode,
lifecycle durations, fault injection, AWS-accurate semantics, CloudWatch over CBOR): see
e2e/emulator/README.md. Patches in this file are applied before the server starts.
"""

import os
import sys

from moto.s3 import responses as s3_responses

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from emulator.server import main  # noqa: E402

_NS = "http://s3.amazonaws.com/doc/2006-03-01/"


def _get_bucket_versioning(self):  # type: ignore[no-untyped-def]
    status = self.backend.get_bucket_versioning(self.bucket_name)
    # Kept for moto's IAM/action bookkeeping, as the original handler does.
    self.data["Action"] = "GetBucketVersioning"
    inner = f"<Status>{status}</Status>" if status else ""
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<VersioningConfiguration xmlns="{_NS}">{inner}</VersioningConfiguration>'
    return 200, {"Content-Type": "application/xml"}, body


s3_responses.S3Response.get_bucket_versioning = _get_bucket_versioning

if __name__ == "__main__":
    sys.exit(main())
