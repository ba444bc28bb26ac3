"""Amazon Route 53: AWS's error code for a DELETE that does not match.

Error code: ChangeResourceRecordSets deleting a record that does not match the existing
one answers InvalidChangeBatch (moto: InvalidInput). Hosted zones and records are moto's;
App Runner custom domains and SES v2 identities read them (apprunner.py, sesv2.py).
"""

from __future__ import annotations

from ..core import wire
from ..core.errors import replace_code
from ..core.hooks import Registry


def install(reg: Registry) -> None:
    reg.after("route53", {"ChangeResourceRecordSets"})(_delete_mismatch)


def _delete_mismatch(call: wire.Call, resp: wire.Response) -> wire.Response:
    if resp[0] >= 400 and b"<Action>DELETE</Action>" in call.body:
        return replace_code(resp, "InvalidInput", "InvalidChangeBatch")
    return resp
