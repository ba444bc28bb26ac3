"""Amazon ECS: deployments that progress (with the circuit breaker), the tasks of services
and of RunTask, service deployments and revisions, ECS Express Mode with the resources it
manages, and moto's service semantics fixed. One service, several files:

* deployments.py  deployments as a function of time: counts, COMPLETED/FAILED, circuit
                  breaker rollbacks, the tasks of services and their load balancer
                  targets, List/DescribeServiceDeployments, DescribeServiceRevisions
* tasks.py        RunTask (lifecycle, exit code, clientToken), ListTasks, DescribeTasks,
                  StopTask over moto's tasks and the services' tasks
* express.py      *ExpressGatewayService and its managed load balancer, listener, rule,
                  target group, certificate, security groups and auto scaling
* patches.py      moto fixes (duplicate CreateService, default security group, RunTask
                  crashes) and ECS's checks of `loadBalancers`
* base.py         the shared lock, backends, ids, model-validated answers
"""

from __future__ import annotations

from ...core import wire
from ...core.hooks import Registry
from . import deployments, express, patches, tasks


def install(reg: Registry) -> None:
    reg.patch(patches.patch_moto)
    reg.before("ecs")(_settle)
    reg.before("ecs", {"CreateService", "UpdateService"})(patches.check_load_balancers)
    reg.before("ecs", express.OPS)(express.handle)
    reg.before("ecs", deployments.OPS)(deployments.handle)
    reg.before("ecs", {"RunTask"})(tasks.run_task)
    reg.before("ecs", set(tasks.HANDLERS))(tasks.handle)
    reg.after("ecs", {"CreateService", "UpdateService", "DescribeServices", "DeleteService"})(deployments.mutation_view)
    reg.on_reset(express.reset)
    reg.on_reset(deployments.reset)
    reg.on_reset(tasks.reset)


def _settle(call: wire.Call) -> None:
    """Rollbacks the circuit breaker has started since the last call happen before moto
    sees this one (so an UpdateService starts from the rolled-back task definition)."""
    deployments.settle_all()
    return None
