"""Amazon CloudWatch Logs: AssociateKmsKey, which moto 5.2.5 lacks.

AssociateKmsKey sets the log group's key (what DescribeLogGroups shows); input through
botocore's model. A log group a CloudFormation stack updates is in cloudformation.py.
"""

from __future__ import annotations

from ..core import model, wire
from ..core.hooks import Registry
from ..core.model import ApiError
from ..core.util import account_id


def install(reg: Registry) -> None:
    reg.before("logs", {"AssociateKmsKey"})(_associate_kms_key)


def _associate_kms_key(call: wire.Call) -> wire.Response:
    op = model.service_model("logs").operation_model("AssociateKmsKey")
    params = wire.json_params(call, op)
    from moto.logs.models import logs_backends

    name = params.get("logGroupName")
    if not name:
        raise ApiError("InvalidParameterException", "AssociateKmsKey needs logGroupName here")
    group = logs_backends[account_id(call)][call.region].groups.get(name)
    if group is None:
        raise ApiError("ResourceNotFoundException", "The specified log group does not exist.")
    group.kms_key_id = params["kmsKeyId"]
    return wire.json_response(call, {})
