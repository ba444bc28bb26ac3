"""Amazon EC2: lifecycle time for the resources the network stack waits on, and AWS's code
for an IAM denial.

Lifecycle (core/lifecycle.py): NAT gateways are pending/deleting for the
`ec2.natgateway.create` / `.delete` durations, *Interface* VPC endpoints for
`ec2.vpcendpoint.*` (gateway endpoints are available at once, as on AWS).
Error code: an IAM denial answers UnauthorizedOperation (moto: AccessDenied).
The EC2 resources a CloudFormation stack deletes are in cloudformation.py.
"""

from __future__ import annotations

from ..core import lifecycle, wire
from ..core.errors import replace_code
from ..core.hooks import Registry
from ..core.lifecycle import Spec

EC2_NS = "http://ec2.amazonaws.com/doc/2016-11-15/"
NAT_GATEWAYS = Spec("ec2", "ec2.natgateway", "DescribeNatGateways", "natGatewaySet", ("item", "natGateway"), "natGatewayId", "state", "available", "pending", None, "deleted", "deleting",
                    {"CreateNatGateway": ""}, {}, {"DeleteNatGateway": "NatGatewayId"}, "NatGatewayId.1", "NatGatewayNotFound", EC2_NS)
VPC_ENDPOINTS = Spec("ec2", "ec2.vpcendpoint", "DescribeVpcEndpoints", "vpcEndpointSet", ("item", "vpcEndpoint"), "vpcEndpointId", "state", "available", "pending", None, "deleted", "deleting",
                     {"CreateVpcEndpoint": ""}, {}, {"DeleteVpcEndpoints": "VpcEndpointId"}, "VpcEndpointId.1", "InvalidVpcEndpointId.NotFound", EC2_NS,
                     only_if=("vpcEndpointType", "Interface"))


def install(reg: Registry) -> None:
    lifecycle.register(reg, NAT_GATEWAYS)
    lifecycle.register(reg, VPC_ENDPOINTS)
    reg.after("ec2")(_unauthorized)


def _unauthorized(call: wire.Call, resp: wire.Response) -> wire.Response:
    if resp[0] == 403:
        return replace_code(resp, "AccessDenied", "UnauthorizedOperation", "You are not authorized to perform this operation.")
    return resp
