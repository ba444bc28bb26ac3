"""ECS deployments with the circuit breaker, service deployments and revisions, the
stopped tasks of a failed deployment, and the load balancer targets of service tasks."""

from __future__ import annotations

import time

import pytest

from awserror import fails_with

CB_ROLLBACK = {"deploymentCircuitBreaker": {"enable": True, "rollback": True}}


def network(ec2):
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    a = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    b = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.2.0/24", AvailabilityZone="us-east-1b")["Subnet"]["SubnetId"]
    return vpc, [a, b]


def task_definition(ecs, image="redcap:1", family="web"):
    container = {"name": "web", "image": image, "portMappings": [{"containerPort": 8080}]}
    td = ecs.register_task_definition(family=family, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512", containerDefinitions=[container])
    return td["taskDefinition"]["taskDefinitionArn"]


def load_balancer(ec2, elb, vpc, subnets, name="web"):
    sg = ec2.create_security_group(GroupName=f"{name}-alb", Description="alb", VpcId=vpc)["GroupId"]
    lb = elb.create_load_balancer(Name=name, Subnets=subnets, SecurityGroups=[sg])["LoadBalancers"][0]["LoadBalancerArn"]
    tg = elb.create_target_group(Name=f"{name}-tg", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip", HealthCheckPath="/healthcheck")["TargetGroups"][0]["TargetGroupArn"]
    elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    return tg


def service(ecs, td, subnets, tg=None, desired=2, config=None, name="web"):
    kw = {"loadBalancers": [{"targetGroupArn": tg, "containerName": "web", "containerPort": 8080}]} if tg else {}
    if config:
        kw["deploymentConfiguration"] = config
    ecs.create_service(cluster="redcap", serviceName=name, taskDefinition=td, desiredCount=desired, launchType="FARGATE", networkConfiguration={"awsvpcConfiguration": {"subnets": subnets}}, **kw)


@pytest.fixture
def env(aws):
    ec2, ecs, elb = aws("ec2"), aws("ecs"), aws("elbv2")
    ecs.create_cluster(clusterName="redcap")
    vpc, subnets = network(ec2)
    return ec2, ecs, elb, vpc, subnets


def describe(ecs, name="web"):
    return ecs.describe_services(cluster="redcap", services=[name])["services"][0]


def states(elb, tg):
    return sorted(t["TargetHealth"]["State"] for t in elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"])


def test_targets_follow_the_rollout(env, control):
    ec2, ecs, elb, vpc, subnets = env
    tg = load_balancer(ec2, elb, vpc, subnets)
    control.config(durations={"ecs.deployment": 1.0, "elbv2.target.healthy": 1.0})
    service(ecs, task_definition(ecs), subnets, tg)
    assert states(elb, tg) == [] and describe(ecs)["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    time.sleep(1.1)
    targets = elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
    assert [t["TargetHealth"]["State"] for t in targets] == ["initial", "initial"]
    assert {t["Target"]["AvailabilityZone"] for t in targets} == {"us-east-1a", "us-east-1b"} and {t["Target"]["Port"] for t in targets} == {8080}
    assert all(t["Target"]["Id"].startswith(("10.0.1.", "10.0.2.")) for t in targets)
    dep = describe(ecs)["deployments"][0]
    assert dep["runningCount"] == 2 and dep["rolloutState"] == "IN_PROGRESS"  # running, not yet healthy
    time.sleep(1.0)
    assert states(elb, tg) == ["healthy", "healthy"] and describe(ecs)["deployments"][0]["rolloutState"] == "COMPLETED"
    one = targets[0]["Target"]
    assert [t["Target"]["Id"] for t in elb.describe_target_health(TargetGroupArn=tg, Targets=[{"Id": one["Id"], "Port": 8080}])["TargetHealthDescriptions"]] == [one["Id"]]


def test_replaced_targets_drain_until_the_new_deployment_completes(env, control):
    ec2, ecs, elb, vpc, subnets = env
    tg = load_balancer(ec2, elb, vpc, subnets)
    service(ecs, task_definition(ecs), subnets, tg, desired=1)
    old = elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"][0]["Target"]["Id"]
    control.config(durations={"ecs.deployment": 0.5, "elbv2.target.healthy": 1.0})
    ecs.update_service(cluster="redcap", service="web", taskDefinition=task_definition(ecs, "redcap:2"))
    time.sleep(0.6)
    seen = {t["Target"]["Id"]: t["TargetHealth"]["State"] for t in elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]}
    assert seen[old] == "healthy" and sorted(seen.values()) == ["healthy", "initial"]  # the old task serves until the new one is healthy
    time.sleep(1.0)
    deps = describe(ecs)["deployments"]
    seen = {t["Target"]["Id"]: t["TargetHealth"] for t in elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]}
    assert [d["rolloutState"] for d in deps] == ["COMPLETED"] and old not in seen and list(seen.values()) == [{"State": "healthy"}]
    stopped = ecs.describe_tasks(cluster="redcap", tasks=ecs.list_tasks(cluster="redcap", desiredStatus="STOPPED")["taskArns"])["tasks"]
    assert [t["stopCode"] for t in stopped] == ["ServiceSchedulerInitiated"] and stopped[0]["stoppedReason"] == f"Scaling activity initiated by (deployment {deps[0]['id']})"


def test_unhealthy_targets_fail_the_deployment(env, control):
    ec2, ecs, elb, vpc, subnets = env
    tg = load_balancer(ec2, elb, vpc, subnets)
    control.config(durations={"ecs.deployment": 0.5, "elbv2.target.healthy": 0.5}, outcomes={"elbv2.target:web-tg": "unhealthy"})
    service(ecs, task_definition(ecs), subnets, tg, desired=1, config={"deploymentCircuitBreaker": {"enable": True, "rollback": False}})
    time.sleep(1.05)
    health = elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"][0]["TargetHealth"]
    assert health == {"State": "unhealthy", "Reason": "Target.FailedHealthChecks", "Description": "Health checks failed"}
    assert describe(ecs)["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    time.sleep(0.6)
    dep = describe(ecs)["deployments"][0]
    assert (dep["rolloutState"], dep["rolloutStateReason"], dep["failedTasks"]) == ("FAILED", "ECS deployment circuit breaker: tasks failed to start.", 3)
    task = ecs.describe_tasks(cluster="redcap", tasks=ecs.list_tasks(cluster="redcap", desiredStatus="STOPPED")["taskArns"])["tasks"][0]
    assert task["stoppedReason"] == f"Task failed ELB health checks in (target-group {tg})" and task["stopCode"] == "ServiceSchedulerInitiated"
    assert states(elb, tg) == []


def test_circuit_breaker_rolls_back(env, control):
    ec2, ecs, elb, vpc, subnets = env
    tg = load_balancer(ec2, elb, vpc, subnets)
    td1, td2 = task_definition(ecs, "redcap:1"), task_definition(ecs, "redcap:2")
    service(ecs, td1, subnets, tg, config=CB_ROLLBACK)
    good = describe(ecs)["deployments"][0]["id"]
    control.config(durations={"ecs.deployment": 1.0}, outcomes={"ecs.deployment:web": "FAILED"})
    ecs.update_service(cluster="redcap", service="web", taskDefinition=td2)
    time.sleep(1.2)
    svc = describe(ecs)
    primary, failed, serving = svc["deployments"]
    assert svc["taskDefinition"] == td1 and primary["taskDefinition"] == td1 and primary["rolloutState"] == "IN_PROGRESS"
    assert primary["rolloutStateReason"] == f"ECS deployment circuit breaker: rolling back to deploymentId {good}."
    assert (failed["status"], failed["taskDefinition"], failed["rolloutState"], failed["runningCount"]) == ("ACTIVE", td2, "FAILED", 0)
    assert (serving["id"], serving["runningCount"]) == (good, 2)
    assert states(elb, tg) == ["healthy", "healthy"]  # the old tasks kept serving
    stopped = ecs.describe_tasks(cluster="redcap", tasks=ecs.list_tasks(cluster="redcap", desiredStatus="STOPPED")["taskArns"])["tasks"]
    assert {t["taskDefinitionArn"] for t in stopped} == {td2}
    assert all(t["stoppedReason"] == "Essential container in task exited" and t["stopCode"] == "EssentialContainerExited" and t["containers"][0]["exitCode"] == 1 for t in stopped)
    time.sleep(1.0)
    svc = describe(ecs)
    assert [(d["status"], d["taskDefinition"], d["rolloutState"]) for d in svc["deployments"]] == [("PRIMARY", td1, "COMPLETED")]
    arns = ecs.list_service_deployments(cluster="redcap", service="web")["serviceDeployments"]
    assert [a["status"] for a in arns] == ["ROLLBACK_SUCCESSFUL", "SUCCESSFUL"] and svc["currentServiceDeployment"] == arns[0]["serviceDeploymentArn"]
    full = ecs.describe_service_deployments(serviceDeploymentArns=[arns[0]["serviceDeploymentArn"]])["serviceDeployments"][0]
    assert full["statusReason"] == "Service deployment rolled back because the circuit breaker threshold was exceeded."
    assert full["rollback"]["serviceRevisionArn"] == arns[1]["targetServiceRevisionArn"] and full["deploymentCircuitBreaker"] == {"status": "TRIGGERED", "failureCount": 3, "threshold": 3}
    # the next update starts from the rolled-back task definition
    ecs.update_service(cluster="redcap", service="web", desiredCount=2)
    assert len(ecs.list_service_deployments(cluster="redcap", service="web")["serviceDeployments"]) == 2


def test_failure_without_rollback_keeps_the_previous_deployment(env, control):
    ec2, ecs, elb, vpc, subnets = env
    td1, td2 = task_definition(ecs, "redcap:1"), task_definition(ecs, "redcap:2")
    service(ecs, td1, subnets, config={"deploymentCircuitBreaker": {"enable": True, "rollback": False}})
    control.config(outcomes={"ecs.deployment": "FAILED"})
    ecs.update_service(cluster="redcap", service="web", taskDefinition=td2)
    svc = describe(ecs)
    assert [(d["status"], d["rolloutState"], d["runningCount"]) for d in svc["deployments"]] == [("PRIMARY", "FAILED", 0), ("ACTIVE", "COMPLETED", 2)]
    assert svc["taskDefinition"] == td2 and svc["deployments"][0]["rolloutStateReason"] == "ECS deployment circuit breaker: tasks failed to start."
    newest = ecs.list_service_deployments(cluster="redcap", service="web", status=["STOPPED"])["serviceDeployments"]
    assert len(newest) == 1 and newest[0]["statusReason"] == "Service deployment stopped because the circuit breaker threshold was exceeded."


def test_first_deployment_has_no_rollback_candidate(env, control):
    ec2, ecs, elb, vpc, subnets = env
    control.config(outcomes={"ecs.deployment": "FAILED"})
    service(ecs, task_definition(ecs), subnets, desired=1, config=CB_ROLLBACK)
    dep = describe(ecs)["deployments"]
    assert [(d["status"], d["rolloutState"]) for d in dep] == [("PRIMARY", "FAILED")]
    brief = ecs.list_service_deployments(cluster="redcap", service="web")["serviceDeployments"][0]
    assert brief["status"] == "ROLLBACK_FAILED" and "No rollback candidate was found" in brief["statusReason"]
    task = ecs.describe_tasks(cluster="redcap", tasks=ecs.list_tasks(cluster="redcap", serviceName="web", desiredStatus="STOPPED")["taskArns"])["tasks"][0]
    assert task["group"] == "service:web" and task["startedBy"] == dep[0]["id"] and task["containers"][0]["exitCode"] == 1
    assert ecs.list_tasks(cluster="redcap", serviceName="web")["taskArns"] == []


def test_service_revision_and_deployment_shapes(env, control):
    ec2, ecs, elb, vpc, subnets = env
    tg = load_balancer(ec2, elb, vpc, subnets)
    td = task_definition(ecs, "public.ecr.aws/nginx/nginx@sha256:" + "ab" * 32)
    service(ecs, td, subnets, tg, config=CB_ROLLBACK)
    svc = describe(ecs)
    assert svc["deploymentConfiguration"] == {**CB_ROLLBACK, "maximumPercent": 200, "minimumHealthyPercent": 100}
    assert svc["healthCheckGracePeriodSeconds"] == 0
    [current] = svc["currentServiceRevisions"]
    rev = ecs.describe_service_revisions(serviceRevisionArns=[current["arn"]])["serviceRevisions"][0]
    assert rev["taskDefinition"] == td and rev["loadBalancers"][0]["targetGroupArn"] == tg and rev["launchType"] == "FARGATE"
    assert rev["containerImages"] == [{"containerName": "web", "image": "public.ecr.aws/nginx/nginx@sha256:" + "ab" * 32, "imageDigest": "sha256:" + "ab" * 32}]
    assert rev["networkConfiguration"]["awsvpcConfiguration"]["subnets"] == subnets
    dep = ecs.describe_service_deployments(serviceDeploymentArns=[svc["currentServiceDeployment"], "arn:aws:ecs:us-east-1:123456789012:service-deployment/redcap/web/nope"])
    assert dep["serviceDeployments"][0]["status"] == "SUCCESSFUL" and dep["serviceDeployments"][0]["targetServiceRevision"]["runningTaskCount"] == 2
    assert dep["failures"] == [{"arn": "arn:aws:ecs:us-east-1:123456789012:service-deployment/redcap/web/nope", "reason": "MISSING"}]
    assert ecs.describe_service_revisions(serviceRevisionArns=["arn:aws:ecs:us-east-1:123456789012:service-revision/redcap/web/1"])["failures"][0]["reason"] == "MISSING"
    with fails_with("ServiceNotFoundException"):
        ecs.list_service_deployments(cluster="redcap", service="nope")
    with fails_with("ClusterNotFoundException"):
        ecs.list_service_deployments(cluster="nope", service="web")
    with fails_with("InvalidParameterException"):
        ecs.describe_service_revisions(serviceRevisionArns=["x"] * 21)


def test_load_balancers_are_checked_like_ecs(env):
    ec2, ecs, elb, vpc, subnets = env
    td = task_definition(ecs)
    lone = elb.create_target_group(Name="lone", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    with fails_with("InvalidParameterException") as e:
        service(ecs, td, subnets, lone)
    assert "does not have an associated load balancer" in str(e.value)
    tg = load_balancer(ec2, elb, vpc, subnets)
    with fails_with("InvalidParameterException"):
        ecs.create_service(cluster="redcap", serviceName="web", taskDefinition=td, desiredCount=1, launchType="FARGATE", networkConfiguration={"awsvpcConfiguration": {"subnets": subnets}}, loadBalancers=[{"targetGroupArn": tg, "containerName": "web", "containerPort": 9999}])
    sg = ec2.create_security_group(GroupName="i", Description="i", VpcId=vpc)["GroupId"]
    lb = elb.create_load_balancer(Name="instances", Subnets=subnets, SecurityGroups=[sg])["LoadBalancers"][0]["LoadBalancerArn"]
    itg = elb.create_target_group(Name="instances", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
    elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": itg}])
    with fails_with("InvalidParameterException") as e:
        service(ecs, td, subnets, itg)
    assert "incompatible with the awsvpc network mode" in str(e.value)
