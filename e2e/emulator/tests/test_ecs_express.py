"""ECS Express Mode extension: model validation, moto-backed services, status machine."""

from __future__ import annotations

import re
import time

import pytest
from botocore.exceptions import ClientError

from awserror import code, fails_with

ROLE = "arn:aws:iam::123456789012:role/ecsInfrastructureRoleForExpressServices"
EXEC = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"


def create(ecs, name="redcap-web", **kw):
    return ecs.create_express_gateway_service(
        serviceName=name,
        infrastructureRoleArn=ROLE,
        executionRoleArn=EXEC,
        primaryContainer={"image": "public.ecr.aws/nginx/nginx:latest", "containerPort": 8080},
        tags=[{"key": "app", "value": "redcap"}],
        **kw,
    )["service"]


def test_create_is_a_real_ecs_service(aws):
    ecs = aws("ecs")
    svc = create(ecs)
    assert svc["status"]["statusCode"] == "ACTIVE"
    assert svc["serviceArn"] == "arn:aws:ecs:us-east-1:123456789012:service/default/redcap-web"
    conf = svc["activeConfigurations"][0]
    assert re.fullmatch(r"redcap-web-[0-9a-f]{10}\.ecs\.us-east-1\.on\.aws", conf["ingressPaths"][0]["endpoint"])
    assert conf["cpu"] == "1024" and conf["memory"] == "2048" and conf["healthCheckPath"] == "/ping"
    assert conf["scalingTarget"]["minTaskCount"] == 1
    assert svc["serviceArn"] in ecs.list_services(cluster="default")["serviceArns"]
    described = ecs.describe_services(cluster="default", services=["redcap-web"])["services"][0]
    assert described["taskDefinition"] == conf["taskDefinitionArn"]
    assert described["deployments"][0]["rolloutState"] == "COMPLETED"
    td = ecs.describe_task_definition(taskDefinition=conf["taskDefinitionArn"])["taskDefinition"]
    assert td["requiresCompatibilities"] == ["FARGATE"] and td["containerDefinitions"][0]["portMappings"][0]["containerPort"] == 8080
    got = ecs.describe_express_gateway_service(serviceArn=svc["serviceArn"], include=["TAGS"])["service"]
    assert got["tags"] == [{"key": "app", "value": "redcap"}]
    assert "tags" not in ecs.describe_express_gateway_service(serviceArn=svc["serviceArn"])["service"]


def test_update_registers_new_revision(aws):
    ecs = aws("ecs")
    svc = create(ecs)
    r = ecs.update_express_gateway_service(serviceArn=svc["serviceArn"], cpu="2048", memory="4096", scalingTarget={"minTaskCount": 2, "maxTaskCount": 4})["service"]
    target = r["targetConfiguration"]
    assert target["cpu"] == "2048" and target["taskDefinitionArn"].endswith(":2")
    described = ecs.describe_services(cluster="default", services=[svc["serviceArn"]])["services"][0]
    assert described["desiredCount"] == 2 and described["taskDefinition"] == target["taskDefinitionArn"]


def test_delete_drains_then_inactive(aws, control):
    control.config(durations={"ecs.express.drain": 1.0})
    ecs = aws("ecs")
    arn = create(ecs)["serviceArn"]
    assert ecs.delete_express_gateway_service(serviceArn=arn)["service"]["status"]["statusCode"] == "DRAINING"
    with fails_with("ServiceNotActiveException"):
        ecs.update_express_gateway_service(serviceArn=arn, cpu="2048")
    time.sleep(1.1)
    assert ecs.describe_express_gateway_service(serviceArn=arn)["service"]["status"]["statusCode"] == "INACTIVE"
    with fails_with("ServiceNotActiveException"):
        ecs.delete_express_gateway_service(serviceArn=arn)
    create(ecs)  # name reusable once the old service is inactive


def test_duplicate_and_semantic_errors(aws):
    ecs = aws("ecs")
    create(ecs)
    with fails_with("InvalidParameterException"):
        create(ecs)
    with fails_with("InvalidParameterException"):
        ecs.create_express_gateway_service(infrastructureRoleArn=ROLE, executionRoleArn=EXEC)
    with fails_with("ClusterNotFoundException"):
        create(ecs, name="other", cluster="nope")
    with fails_with("ResourceNotFoundException"):
        ecs.describe_express_gateway_service(serviceArn="arn:aws:ecs:us-east-1:123456789012:service/default/missing")


def test_model_validation(aws):
    ecs = aws("ecs", validate=False)
    with pytest.raises(ClientError) as e:
        ecs.create_express_gateway_service(serviceName="x", primaryContainer={"image": "nginx"})
    assert code(e) == "InvalidParameterException" and "infrastructureRoleArn" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        create(ecs, name="y", scalingTarget={"autoScalingMetric": "VIBES"})
    assert code(e) == "InvalidParameterException" and "VIBES" in e.value.response["Error"]["Message"]
    assert ecs.list_clusters()["clusterArns"] == []  # nothing was created


def vpc_with_subnets(ec2, cidr="10.0", public=True):
    vpc = ec2.create_vpc(CidrBlock=f"{cidr}.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"{cidr}.{i}.0/24", AvailabilityZone=f"us-east-1{az}")["Subnet"]["SubnetId"] for i, az in ((1, "a"), (2, "b"))]
    if public:
        igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
        rt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.create_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
        for s in subnets:
            ec2.associate_route_table(RouteTableId=rt, SubnetId=s)
    return vpc, subnets


def managed(ecs, svc):
    rev = svc["activeConfigurations"][-1]["serviceRevisionArn"]
    return ecs.describe_service_revisions(serviceRevisionArns=[rev])["serviceRevisions"][0]["ecsManagedResources"]


def test_managed_load_balancer_is_provisioned_and_shared(aws):
    ecs, ec2, elb, acm = aws("ecs"), aws("ec2"), aws("elbv2"), aws("acm")
    vpc, subnets = vpc_with_subnets(ec2)
    mine = ec2.create_security_group(GroupName="tasks", Description="tasks", VpcId=vpc)["GroupId"]
    svc = create(ecs, healthCheckPath="/healthcheck", networkConfiguration={"subnets": subnets, "securityGroups": [mine]})
    res = managed(ecs, svc)
    path = res["ingressPaths"][0]
    endpoint = svc["activeConfigurations"][0]["ingressPaths"][0]["endpoint"]
    assert (path["accessType"], path["endpoint"], path["loadBalancer"]["scheme"], path["loadBalancer"]["status"]) == ("PUBLIC", endpoint, "internet-facing", "ACTIVE")
    lb = elb.describe_load_balancers(LoadBalancerArns=[path["loadBalancer"]["arn"]])["LoadBalancers"][0]
    assert lb["LoadBalancerName"].startswith("ecs-express-gateway-alb-") and lb["Scheme"] == "internet-facing" and lb["SecurityGroups"] == path["loadBalancer"]["securityGroupIds"]
    listener = elb.describe_listeners(ListenerArns=[path["listener"]["arn"]])["Listeners"][0]
    assert (listener["Protocol"], listener["Port"]) == ("HTTPS", 443)
    cert = acm.describe_certificate(CertificateArn=path["certificate"]["arn"])["Certificate"]
    assert (cert["DomainName"], cert["Status"], path["certificate"]["domainName"]) == (endpoint, "ISSUED", endpoint)
    tg = elb.describe_target_groups(TargetGroupArns=[path["targetGroups"][0]["arn"]])["TargetGroups"][0]
    assert (tg["Port"], tg["TargetType"], tg["HealthCheckPath"], tg["VpcId"]) == (8080, "ip", "/healthcheck", vpc)
    assert path["targetGroups"][0] == {**path["targetGroups"][0], "port": 8080, "healthCheckPort": 8080, "healthCheckPath": "/healthcheck"}
    rule = elb.describe_rules(RuleArns=[path["rule"]["arn"]])["Rules"][0]
    assert rule["Conditions"][0]["HostHeaderConfig"]["Values"] == [endpoint] and rule["Actions"][0]["TargetGroupArn"] == tg["TargetGroupArn"]
    managed_sg = res["serviceSecurityGroups"][0]["arn"].split("/")[-1]
    conf = svc["activeConfigurations"][0]["networkConfiguration"]
    assert conf["securityGroups"] == [mine, managed_sg] and conf["subnets"] == subnets
    described = ecs.describe_services(cluster="default", services=["redcap-web"])["services"][0]
    assert described["networkConfiguration"]["awsvpcConfiguration"]["securityGroups"] == [mine, managed_sg]
    assert described["loadBalancers"] == [{"targetGroupArn": tg["TargetGroupArn"], "containerName": "Main", "containerPort": 8080}]
    assert [t["TargetHealth"]["State"] for t in elb.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])["TargetHealthDescriptions"]] == ["healthy"]
    assert res["autoScaling"]["scalableTarget"]["minCapacity"] == 1 and res["autoScaling"]["applicationAutoScalingPolicies"][0]["metric"] == "AVERAGE_CPU"
    # a second service of the VPC shares the load balancer and listener
    other = create(ecs, name="redcap-api", networkConfiguration={"subnets": subnets})
    other_path = managed(ecs, other)["ingressPaths"][0]
    assert other_path["loadBalancer"]["arn"] == path["loadBalancer"]["arn"] and other_path["listener"]["arn"] == path["listener"]["arn"]
    assert other_path["rule"]["arn"] != path["rule"]["arn"] and other_path["certificate"]["arn"] != path["certificate"]["arn"]
    listener = elb.describe_listeners(ListenerArns=[path["listener"]["arn"]])["Listeners"][0]
    assert listener["Certificates"] == [{"CertificateArn": path["certificate"]["arn"]}]  # the default one; the others are SNI
    sni = elb.describe_listener_certificates(ListenerArn=path["listener"]["arn"])["Certificates"]
    assert {(c["CertificateArn"], c["IsDefault"]) for c in sni} == {(path["certificate"]["arn"], True), (other_path["certificate"]["arn"], False)}
    ecs.delete_express_gateway_service(serviceArn=svc["serviceArn"])
    assert elb.describe_load_balancers()["LoadBalancers"][0]["LoadBalancerArn"] == path["loadBalancer"]["arn"]
    assert [r["RuleArn"] for r in elb.describe_rules(ListenerArn=path["listener"]["arn"])["Rules"] if not r["IsDefault"]] == [other_path["rule"]["arn"]]
    assert managed(ecs, ecs.describe_express_gateway_service(serviceArn=svc["serviceArn"])["service"])["ingressPaths"][0]["rule"]["status"] == "DELETED"
    ecs.delete_express_gateway_service(serviceArn=other["serviceArn"])
    assert elb.describe_load_balancers()["LoadBalancers"] == [] and elb.describe_target_groups()["TargetGroups"] == []
    assert acm.list_certificates()["CertificateSummaryList"] == []
    assert {g["GroupName"] for g in ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"]} == {"default", "tasks"}


def test_private_subnets_get_an_internal_load_balancer(aws):
    ecs, ec2 = aws("ecs"), aws("ec2")
    _, private = vpc_with_subnets(ec2, "10.9", public=False)
    svc = create(ecs, networkConfiguration={"subnets": private})
    path = managed(ecs, svc)["ingressPaths"][0]
    assert (path["accessType"], path["loadBalancer"]["scheme"]) == ("PRIVATE", "internal")
    one_az = create(ecs, name="one-az", networkConfiguration={"subnets": private[:1]})
    lb = managed(ecs, one_az)["ingressPaths"][0]["loadBalancer"]
    assert lb["status"] == "FAILED" and "two different Availability Zones" in lb["statusReason"]


def test_update_is_a_new_deployment_and_revision(aws, control):
    ecs, ec2, elb = aws("ecs"), aws("ec2"), aws("elbv2")
    _, subnets = vpc_with_subnets(ec2)
    svc = create(ecs, networkConfiguration={"subnets": subnets})
    first = svc["activeConfigurations"][0]
    control.config(durations={"ecs.deployment": 1.0})
    r = ecs.update_express_gateway_service(serviceArn=svc["serviceArn"], primaryContainer={"image": "public.ecr.aws/nginx/nginx:2", "containerPort": 9090}, healthCheckPath="/healthcheck")["service"]
    target = r["targetConfiguration"]
    assert target["serviceRevisionArn"] != first["serviceRevisionArn"]
    during = ecs.describe_express_gateway_service(serviceArn=svc["serviceArn"])["service"]
    assert [c["serviceRevisionArn"] for c in during["activeConfigurations"]] == [first["serviceRevisionArn"], target["serviceRevisionArn"]]
    deployments = ecs.list_service_deployments(cluster="default", service="redcap-web")["serviceDeployments"]
    assert during["currentDeployment"] == deployments[0]["serviceDeploymentArn"] and deployments[0]["status"] == "IN_PROGRESS"
    tg = managed(ecs, during)["ingressPaths"][0]["targetGroups"][0]
    assert (tg["port"], tg["healthCheckPath"]) == (9090, "/healthcheck")
    time.sleep(1.1)
    after = ecs.describe_express_gateway_service(serviceArn=svc["serviceArn"])["service"]
    assert [c["serviceRevisionArn"] for c in after["activeConfigurations"]] == [target["serviceRevisionArn"]]
    assert [d["status"] for d in ecs.list_service_deployments(cluster="default", service="redcap-web")["serviceDeployments"]] == ["SUCCESSFUL", "SUCCESSFUL"]
    rule = elb.describe_rules(RuleArns=[managed(ecs, after)["ingressPaths"][0]["rule"]["arn"]])["Rules"][0]
    assert rule["Actions"][0]["TargetGroupArn"] == tg["arn"]


def test_failed_first_deployment_cannot_roll_back(aws, control):
    ecs, ec2 = aws("ecs"), aws("ec2")
    _, subnets = vpc_with_subnets(ec2)
    control.config(outcomes={"ecs.deployment:redcap-web": "FAILED"})
    svc = create(ecs, networkConfiguration={"subnets": subnets})
    brief = ecs.list_service_deployments(cluster="default", service="redcap-web")["serviceDeployments"][0]
    assert brief["status"] == "ROLLBACK_FAILED" and brief["serviceDeploymentArn"] == svc["currentDeployment"]
    dep = ecs.describe_services(cluster="default", services=["redcap-web"])["services"][0]["deployments"][0]
    assert (dep["rolloutState"], dep["rolloutStateReason"]) == ("FAILED", "ECS deployment circuit breaker: tasks failed to start.")


def test_tags_are_the_ecs_services_tags(aws):
    """TagResource on the Express service's ARN (it is an ECS service) shows in its description."""
    ecs = aws("ecs")
    svc = create(ecs)
    ecs.tag_resource(resourceArn=svc["serviceArn"], tags=[{"key": "revision", "value": "1"}])
    got = ecs.describe_express_gateway_service(serviceArn=svc["serviceArn"], include=["TAGS"])["service"]["tags"]
    assert {t["key"]: t["value"] for t in got} == {"app": "redcap", "revision": "1"}


def test_outcomes_narrow_to_the_cluster_and_service(aws, control):
    """Every environment's Express service has the same name: `<cluster>/<service>` picks one."""
    ecs, ec2 = aws("ecs"), aws("ec2")
    _, subnets = vpc_with_subnets(ec2)
    for cluster in ("env-a", "env-b"):
        ecs.create_cluster(clusterName=cluster)
    control.config(outcomes={"ecs.deployment:env-b/redcap-web": "FAILED"})
    for cluster in ("env-a", "env-b"):
        create(ecs, cluster=cluster, networkConfiguration={"subnets": subnets})
    status = {
        cluster: ecs.list_service_deployments(cluster=cluster, service="redcap-web")["serviceDeployments"][0]["status"]
        for cluster in ("env-a", "env-b")
    }
    assert status == {"env-a": "SUCCESSFUL", "env-b": "ROLLBACK_FAILED"}
