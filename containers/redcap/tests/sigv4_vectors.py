"""Expected RDS IAM tokens, computed by botocore (the AWS SDK for Python) at fixed times.

Prints a JSON list of test vectors for check_tokens.php, which regenerates each token
with the image's PHP implementation and compares them byte for byte.
"""

import datetime
import json

import botocore.auth
import botocore.session

CASES = [
    # host, port, user, region, access key, secret key, session token, UTC time
    ("writer.cluster-abc123.eu-west-1.rds.amazonaws.com", 3306, "redcap_user", "eu-west-1",
     "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None, (2024, 1, 2, 3, 4, 5)),
    ("writer.cluster-abc123.eu-west-1.rds.amazonaws.com", 3306, "redcap_user", "eu-west-1",
     "ASIAEXAMPLE", "secret+with/slashes=", "IQoJb3JpZ2luX2VjEJ//////////wEaCXVz+token/==", (2025, 12, 31, 23, 59, 59)),
    ("reader.cluster-ro-abc123.us-gov-west-1.rds.amazonaws.com", 13306, "redcap_user", "us-gov-west-1",
     "AKIDGOV", "govsecret", None, (2026, 2, 28, 0, 0, 0)),
    ("10.0.3.17", 3306, "a user+with/odd=chars~", "cn-north-1",
     "AKIDCN", "cnsecret", "tok en", (2030, 6, 15, 12, 30, 0)),
]


def main():
    vectors = []
    for host, port, user, region, key, secret, token, when in CASES:
        fixed = datetime.datetime(*when)
        botocore.auth.get_current_datetime = lambda *a, _t=fixed, **k: _t
        session = botocore.session.get_session()
        session.set_credentials(key, secret, token)
        client = session.create_client("rds", region_name=region)
        expected = client.generate_db_auth_token(host, port, user, Region=region)
        epoch = int(fixed.replace(tzinfo=datetime.timezone.utc).timestamp())
        vectors.append({
            "host": host, "port": port, "user": user, "region": region,
            "accessKeyId": key, "secretAccessKey": secret, "sessionToken": token,
            "time": epoch, "expected": expected,
        })
    print(json.dumps(vectors, indent=1))


if __name__ == "__main__":
    main()
