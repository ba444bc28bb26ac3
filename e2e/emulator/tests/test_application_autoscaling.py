"""Application Auto Scaling for ECS services, over the awsJson 1.1 wire the Rust SDK uses."""

from __future__ import annotations

import json
import urllib.request

import pytest

from awserror import fails_with

TARGET = {"ServiceNamespace": "ecs", "ResourceId": "service/redcap/web", "ScalableDimension": "ecs:service:DesiredCount"}
CPU = {"TargetValue": 60.0, "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}, "ScaleOutCooldown": 60, "ScaleInCooldown": 300}


@pytest.fixture
def scaling(aws):
    ecs = aws("ecs")
    ecs.create_cluster(clusterName="redcap")
    td = ecs.register_task_definition(family="web", containerDefinitions=[{"name": "web", "image": "nginx", "memory": 512}])["taskDefinition"]["taskDefinitionArn"]
    for name in ("web", "web2"):
        ecs.create_service(cluster="redcap", serviceName=name, taskDefinition=td, desiredCount=1)
    return aws("application-autoscaling")


def raw(endpoint, operation, body):
    """A request as aws-sdk-rust sends it (awsJson 1.1, X-Amz-Target)."""
    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": f"AnyScaleFrontendService.{operation}",
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/application-autoscaling/aws4_request, SignedHeaders=host, Signature=0",
    }
    req = urllib.request.Request(endpoint + "/", data=json.dumps(body).encode(), headers=headers, method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.headers["Content-Type"], r.read().decode()


def test_register_and_policies(scaling, endpoint):
    aas = scaling
    arn = aas.register_scalable_target(MinCapacity=1, MaxCapacity=4, **TARGET)["ScalableTargetARN"]
    assert aas.register_scalable_target(MinCapacity=2, MaxCapacity=6, **TARGET)["ScalableTargetARN"] == arn  # an upsert
    aas.register_scalable_target(MinCapacity=1, MaxCapacity=2, **{**TARGET, "ResourceId": "service/redcap/web2"})
    [t] = aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=["service/redcap/web"])["ScalableTargets"]
    assert (t["MinCapacity"], t["MaxCapacity"]) == (2, 6)
    assert t["RoleARN"].endswith(":role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService")
    assert t["SuspendedState"] == {"DynamicScalingInSuspended": False, "DynamicScalingOutSuspended": False, "ScheduledScalingSuspended": False}
    first = aas.put_scaling_policy(PolicyName="cpu", PolicyType="TargetTrackingScaling", TargetTrackingScalingPolicyConfiguration=CPU, **TARGET)
    again = aas.put_scaling_policy(PolicyName="cpu", PolicyType="TargetTrackingScaling", TargetTrackingScalingPolicyConfiguration={**CPU, "TargetValue": 70.0}, **TARGET)
    assert again["PolicyARN"] == first["PolicyARN"] and len(again["Alarms"]) == 2
    alarms = {a["AlarmName"] for a in aws_alarms(aas)}
    assert alarms == {a["AlarmName"] for a in again["Alarms"]}  # the old policy's alarms are gone
    aas.put_scaling_policy(PolicyName="cpu", PolicyType="TargetTrackingScaling", TargetTrackingScalingPolicyConfiguration=CPU, **{**TARGET, "ResourceId": "service/redcap/web2"})
    [p] = aas.describe_scaling_policies(ServiceNamespace="ecs", ResourceId="service/redcap/web")["ScalingPolicies"]  # exact match (moto: substring)
    assert p["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 70.0
    assert aas.describe_scaling_policies(ServiceNamespace="ecs", PolicyNames=["nope"])["ScalingPolicies"] == []
    content_type, body = raw(endpoint, "DescribeScalableTargets", {"ServiceNamespace": "ecs"})
    assert content_type == "application/x-amz-json-1.1" and "null" not in body and len(json.loads(body)["ScalableTargets"]) == 2
    # deregistering removes the target's policies too
    aas.deregister_scalable_target(**TARGET)
    assert [x["ResourceId"] for x in aas.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"]] == ["service/redcap/web2"]
    with fails_with("ObjectNotFoundException"):
        aas.deregister_scalable_target(**TARGET)
    with fails_with("ObjectNotFoundException"):
        aas.delete_scaling_policy(PolicyName="cpu", **TARGET)
    with fails_with("ObjectNotFoundException"):
        aas.put_scaling_policy(PolicyName="cpu", PolicyType="TargetTrackingScaling", TargetTrackingScalingPolicyConfiguration=CPU, **TARGET)


def aws_alarms(aas):
    policies = aas.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"]
    return [a for p in policies for a in p["Alarms"]]


def test_request_count_needs_a_real_target_group(scaling, aws):
    aas, ec2, elb = scaling, aws("ec2"), aws("elbv2")
    aas.register_scalable_target(MinCapacity=1, MaxCapacity=4, **TARGET)
    spec = {"PredefinedMetricType": "ALBRequestCountPerTarget", "ResourceLabel": "app/lb/0123456789abcdef/targetgroup/tg/0123456789abcdef"}
    with fails_with("ValidationException"):
        aas.put_scaling_policy(PolicyName="req", PolicyType="TargetTrackingScaling", TargetTrackingScalingPolicyConfiguration={"TargetValue": 100.0, "PredefinedMetricSpecification": spec}, **TARGET)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"] for i, z in ((1, "a"), (2, "b"))]
    lb = elb.create_load_balancer(Name="redcap", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    tg = elb.create_target_group(Name="redcap", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    label = f"{lb.split(':loadbalancer/')[1]}/{tg.split(':', 5)[5]}"
    spec["ResourceLabel"] = label
    aas.put_scaling_policy(PolicyName="req", PolicyType="TargetTrackingScaling", TargetTrackingScalingPolicyConfiguration={"TargetValue": 100.0, "PredefinedMetricSpecification": spec}, **TARGET)
    assert aas.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"][0]["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"]["ResourceLabel"] == label
