"""EventBridge as the cron component uses it: a connection's API key, updated, reaches its
secret (what the schedule sends)."""

from __future__ import annotations


def test_eventbridge_connection_update_reaches_its_secret(aws):
    events, sm = aws("events"), aws("secretsmanager")
    auth = {"ApiKeyAuthParameters": {"ApiKeyName": "x-redcap-cron-token", "ApiKeyValue": "old"}}
    events.create_connection(Name="cron", AuthorizationType="API_KEY", AuthParameters=auth)
    secret = events.describe_connection(Name="cron")["SecretArn"]
    assert '"old"' in sm.get_secret_value(SecretId=secret)["SecretString"]
    auth["ApiKeyAuthParameters"]["ApiKeyValue"] = "new"
    events.update_connection(Name="cron", AuthorizationType="API_KEY", AuthParameters=auth)
    assert '"new"' in sm.get_secret_value(SecretId=secret)["SecretString"]
    got = events.describe_connection(Name="cron")
    assert got["AuthParameters"]["ApiKeyAuthParameters"] == {"ApiKeyName": "x-redcap-cron-token"}
