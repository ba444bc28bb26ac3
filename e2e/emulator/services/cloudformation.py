"""AWS CloudFormation: moto's stacks made to behave as AWS's do for the network stack.

Lifecycle (core/lifecycle.py): CREATE_IN_PROGRESS / UPDATE_IN_PROGRESS / DELETE_IN_PROGRESS
for the `cloudformation.create` / `.update` / `.delete` durations.

moto patches (they used to live in e2e/moto/moto_server_compat.py). Each makes moto do
what AWS does, nothing more:
1. `Fn::GetAZs ""` lists the zones of the stack's region (moto: always us-east-1a..d), as
   many as moto's EC2 reports for the region; `Fn::Select` past the end fails with AWS's
   "Template error: Fn::Select cannot select nonexistent value at index N".
2. A resource that fails while a stack is created: AWS still answers CreateStack, records
   CREATE_FAILED with the reason on the resource, rolls back and ends in ROLLBACK_COMPLETE;
   moto answered the call with the resource's error and left the stack CREATE_IN_PROGRESS.
3. Events carry the ClientRequestToken of the operation that caused them (moto: none).
4. Updating a resource type moto has no update for keeps the resource (moto dropped it,
   losing outputs and leaking it at deletion); a log group's retention is updated.
5. Deleting a stack deletes the EC2 resources moto cannot delete by itself (NAT gateways,
   EIPs, gateways, routes, route tables and associations, endpoints, flow logs), so the
   VPC can go and DeleteStack ends in DELETE_COMPLETE instead of DependencyViolation.
"""

from __future__ import annotations

import contextvars
import threading

from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing as cfn_parsing
from moto.cloudformation import responses as cfn_responses
from moto.cloudformation.exceptions import ValidationError
from moto.ec2.models import ec2_backends
from moto.logs.models import LogGroup, logs_backends

from ..core import lifecycle
from ..core.hooks import Registry
from ..core.lifecycle import Spec

STACKS = Spec("cloudformation", "cloudformation", "DescribeStacks", "Stacks", ("member",), "StackName", "StackStatus", "CREATE_COMPLETE", "CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "DELETE_COMPLETE", "DELETE_IN_PROGRESS",
              {"CreateStack": "StackName"}, {"UpdateStack": "StackName"}, {"DeleteStack": "StackName"}, "StackName", "ValidationError", "http://cloudformation.amazonaws.com/doc/2010-05-15/",
              modify_word="update", updated_ready="UPDATE_COMPLETE")  # an update ends in UPDATE_COMPLETE


def install(reg: Registry) -> None:
    reg.patch(_patch_moto)
    lifecycle.register(reg, STACKS)


def _patch_moto() -> None:
    # moto's originals, which the replacements below call.
    global _clean_json, _event_init, _parse_and_create, _create_resources, _parse_and_update, _delete_resource
    _clean_json = cfn_parsing.clean_json
    cfn_parsing.clean_json = _clean_json_regional
    _event_init = cfn_models.Event.__init__
    cfn_models.Event.__init__ = _event_init_with_token
    for op in ("create_stack", "update_stack", "delete_stack"):
        setattr(cfn_responses.CloudFormationResponse, op, _with_token(getattr(cfn_responses.CloudFormationResponse, op)))
    _parse_and_create = cfn_parsing.parse_and_create_resource
    cfn_parsing.parse_and_create_resource = _parse_and_create_tracked
    _create_resources = cfn_models.Stack.create_resources
    cfn_models.Stack.create_resources = _create_resources_rolling_back
    _parse_and_update = cfn_parsing.parse_and_update_resource
    cfn_parsing.parse_and_update_resource = _parse_and_update_keeping
    LogGroup.update_from_cloudformation_json = classmethod(_update_log_group)
    _delete_resource = cfn_parsing.ResourceMap._delete_resource
    cfn_parsing.ResourceMap._delete_resource = _delete_resource_ec2


# --- 1. Fn::GetAZs of the stack's region, Fn::Select bounds ------------------------------


def _clean_json_regional(resource_json, resources_map):  # type: ignore[no-untyped-def]
    if isinstance(resource_json, dict):
        if "Fn::GetAZs" in resource_json:
            region = resource_json["Fn::GetAZs"]
            if not isinstance(region, str) or not region:
                region = resources_map._region_name
            backend = ec2_backends[resources_map._account_id][region]
            return [z.name for z in backend.describe_availability_zones()]
        if "Fn::Select" in resource_json:
            index, items = resource_json["Fn::Select"]
            items = _clean_json_regional(items, resources_map)
            if int(index) >= len(items):
                raise ValidationError(
                    message=f"Template error: Fn::Select cannot select nonexistent value at index {index}"
                )
            return items[int(index)]
    return _clean_json(resource_json, resources_map)


# --- 3. ClientRequestToken on events -----------------------------------------------------

_token: contextvars.ContextVar = contextvars.ContextVar("cfn_token", default=None)


def _event_init_with_token(self, *args, **kwargs):  # type: ignore[no-untyped-def]
    _event_init(self, *args, **kwargs)
    self.client_request_token = _token.get()


def _with_token(handler):  # type: ignore[no-untyped-def]
    def wrapped(self):  # type: ignore[no-untyped-def]
        reset = _token.set(self._get_param("ClientRequestToken"))
        try:
            return handler(self)
        finally:
            _token.reset(reset)

    return wrapped


# --- 2. A failed create rolls back -------------------------------------------------------

# The resources being created, innermost last, per request thread (moto_server is threaded).
_local = threading.local()


def _creating() -> list:  # type: ignore[type-arg]
    if not hasattr(_local, "creating"):
        _local.creating = []
    return _local.creating


def _parse_and_create_tracked(logical_id, resource_json, *args, **kwargs):  # type: ignore[no-untyped-def]
    _creating().append((logical_id, resource_json.get("Type", "")))
    result = _parse_and_create(logical_id, resource_json, *args, **kwargs)
    _creating().pop()
    return result


def _create_resources_rolling_back(self):  # type: ignore[no-untyped-def]
    creating = _creating()
    creating.clear()
    try:
        _create_resources(self)
    except Exception as e:  # noqa: BLE001 - any resource error fails the stack, as in AWS
        logical_id, resource_type = creating[-1] if creating else (self.name, "")
        creating.clear()
        reason = getattr(e, "message", None) or str(e)
        self.status = "CREATE_FAILED"
        self.events.append(
            cfn_models.Event(
                stack_id=self.stack_id,
                stack_name=self.name,
                logical_resource_id=logical_id,
                physical_resource_id="",
                resource_type=resource_type,
                resource_status="CREATE_FAILED",
                resource_status_reason=reason,
                resource_properties=None,
            )
        )
        self._add_stack_event(
            "ROLLBACK_IN_PROGRESS",
            resource_status_reason=f"The following resource(s) failed to create: [{logical_id}]. Rollback requested by user.",
        )
        try:
            self.resource_map.delete()
        except Exception:  # noqa: BLE001 - best effort, like a rollback that leaves nothing behind
            pass
        self._add_stack_event("ROLLBACK_COMPLETE")
        self.status = "ROLLBACK_COMPLETE"
        # A rolled-back stack has no outputs (moto would evaluate them again and fail).
        self.output_map = _NoOutputs()


class _NoOutputs(dict):  # type: ignore[type-arg]
    exports: list = []


# --- 4. Updates keep resources moto cannot update ----------------------------------------


def _parse_and_update_keeping(logical_id, resource_json, resources_map, *args, **kwargs):  # type: ignore[no-untyped-def]
    original = resources_map._parsed_resources.get(logical_id)
    updated = _parse_and_update(logical_id, resource_json, resources_map, *args, **kwargs)
    return original if updated is None else updated


def _update_log_group(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):  # type: ignore[no-untyped-def]
    days = cloudformation_json.get("Properties", {}).get("RetentionInDays")
    backend = logs_backends[account_id][region_name]
    if days:
        backend.put_retention_policy(original_resource.name, int(days))
    else:
        backend.delete_retention_policy(original_resource.name)
    return original_resource


# --- 5. Stack deletion deletes the EC2 resources moto cannot ------------------------------


def _disassociate(backend, assoc):  # type: ignore[no-untyped-def]
    table = backend.get_route_table(assoc.route_table_id)
    for association_id, subnet_id in list(table._associations.items()):
        if subnet_id == assoc.subnet_id:
            backend.disassociate_route_table(association_id)


def _delete_nat(backend, nat):  # type: ignore[no-untyped-def]
    backend.delete_nat_gateway(nat.id)
    backend.nat_gateways.pop(nat.id, None)
    backend.enis.pop(nat._eni.id, None)


_DELETERS = {
    "AWS::EC2::NatGateway": _delete_nat,
    "AWS::EC2::EIP": lambda b, r: b.release_address(allocation_id=r.allocation_id),
    "AWS::EC2::VPCGatewayAttachment": lambda b, r: b.detach_internet_gateway(r.gateway_id, r.vpc_id),
    "AWS::EC2::InternetGateway": lambda b, r: b.delete_internet_gateway(r.id),
    "AWS::EC2::SubnetRouteTableAssociation": _disassociate,
    "AWS::EC2::Route": lambda b, r: b.delete_route(r.route_table.id, r.destination_cidr_block),
    "AWS::EC2::RouteTable": lambda b, r: b.delete_route_table(r.id),
    "AWS::EC2::VPCEndpoint": lambda b, r: b.delete_vpc_endpoints([r.id]),
    "AWS::EC2::FlowLog": lambda b, r: b.delete_flow_logs([r.id]),
}


def _delete_resource_ec2(self, parsed_resource, resource_json):  # type: ignore[no-untyped-def]
    deleter = _DELETERS.get(resource_json.get("Type", ""))
    if deleter is None:
        return _delete_resource(self, parsed_resource, resource_json)
    try:
        deleter(ec2_backends[self._account_id][self._region_name], parsed_resource)
    except Exception as e:  # noqa: BLE001
        # Already gone with its parent (a route with its table): deleted, as in AWS.
        if "NotFound" not in str(getattr(e, "code", "")) + type(e).__name__:
            raise

