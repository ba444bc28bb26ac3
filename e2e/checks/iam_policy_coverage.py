#!/usr/bin/env python3
"""docs/iam-policy.json allows every AWS operation the operator's source calls.

Usage: iam_policy_coverage.py REPO_ROOT

The AWS SDK crates are the `aws-sdk-*` entries of [dependencies] in
REPO_ROOT/operator/Cargo.toml (so adding a service there is enough); each crate's IAM
service prefix is its name after `aws-sdk-`, except where IAM_PREFIX says otherwise. The
operations of each crate come from its sources in the cargo registry ($CARGO_HOME, default
~/.cargo), at the version pinned in REPO_ROOT/Cargo.lock (a crate not in Cargo.lock is
skipped; one whose sources are missing fails the check). Every `.<operation>()` call in
operator/src/**/*.rs on a file that uses AWS clients is mapped to its IAM action (SPECIAL
for names that differ) and must be allowed by an Allow statement of docs/iam-policy.json
(IAM action names are case-insensitive); role assumption through aws-config's
AssumeRoleProvider counts as sts:AssumeRole.

Every IAM role and user the source creates must carry the permissions boundary the policy
requires (issue 15, finding 6): each `.create_role()` / `.create_user()` builder chain
sets `.permissions_boundary(...)` before `.send()`, and each CloudFormation
`AWS::IAM::Role` the source renders sets `PermissionsBoundary`.

Prints the operations found, then `missing <action> (for <operation> in <files>)` for each
action the policy lacks and `no permissions boundary: <call> in <file>` for each creation
without one; exits 1 if anything is missing, 0 otherwise. Run by e2e/scripts/test-chart.sh.
"""

import glob
import json
import os
import re
import sys
import tomllib

# IAM service prefixes that differ from the crate name after `aws-sdk-`.
IAM_PREFIX = {
    "cloudwatchlogs": "logs",
    "sesv2": "ses",
    "elasticloadbalancingv2": "elasticloadbalancing",
    "applicationautoscaling": "application-autoscaling",
    "cloudwatchevents": "events",
    "eventbridge": "events",
    "sfn": "states",
    "resourcegroupstagging": "tag",
    "cognitoidentityprovider": "cognito-idp",
}

# IAM action names that differ from the operation name.
SPECIAL = {
    "head_bucket": ["s3:ListBucket"],
    "list_objects_v2": ["s3:ListBucket"],
    "list_objects": ["s3:ListBucket"],
    "list_object_versions": ["s3:ListBucketVersions"],
    "list_multipart_uploads": ["s3:ListBucketMultipartUploads"],
    "delete_objects": ["s3:DeleteObject", "s3:DeleteObjectVersion"],
    "get_bucket_encryption": ["s3:GetEncryptionConfiguration"],
    "put_bucket_encryption": ["s3:PutEncryptionConfiguration"],
    "delete_bucket_encryption": ["s3:PutEncryptionConfiguration"],
    "get_public_access_block": ["s3:GetBucketPublicAccessBlock"],
    "put_public_access_block": ["s3:PutBucketPublicAccessBlock"],
    "delete_public_access_block": ["s3:PutBucketPublicAccessBlock"],
    "get_bucket_lifecycle_configuration": ["s3:GetLifecycleConfiguration"],
    "put_bucket_lifecycle_configuration": ["s3:PutLifecycleConfiguration"],
    "delete_bucket_lifecycle": ["s3:PutLifecycleConfiguration"],
    "delete_bucket_tagging": ["s3:PutBucketTagging"],
    "delete_bucket_ownership_controls": ["s3:PutBucketOwnershipControls"],
    "get_caller_identity": [],  # needs no permission
    "head_object": ["s3:GetObject"],
}


def sdk_crates(repo):
    """(crate, IAM prefix) for every aws-sdk-* dependency of operator/Cargo.toml."""
    with open(os.path.join(repo, "operator", "Cargo.toml"), "rb") as f:
        names = [n for n in tomllib.load(f).get("dependencies", {}) if n.startswith("aws-sdk-")]
    crates = []
    for crate in sorted(names):
        service = crate[len("aws-sdk-"):]
        crates.append((crate, IAM_PREFIX.get(service, service)))
    return tuple(crates)


def creations_without_boundary(repo):
    """(what, file) for every role/user creation in operator/src without a boundary."""
    found = []
    for path in sorted(glob.glob(os.path.join(repo, "operator/src/**/*.rs"), recursive=True)):
        text = open(path).read()
        rel = os.path.relpath(path, repo)
        for m in re.finditer(r"\.(create_role|create_user)\(\)", text):
            # Line comments out: a commented-out `.permissions_boundary(...)` sets nothing.
            chain = re.sub(r"//[^\n]*", "", text[m.end():text.find(".send()", m.end())])
            if ".permissions_boundary(" not in chain:
                found.append((m.group(1), rel))
        # A rendered template: each role resource up to the next resource type.
        for m in re.finditer(r'"Type":\s*"AWS::IAM::Role"', text):
            nxt = text.find('"Type":', m.end())
            if '"PermissionsBoundary"' not in text[m.end():nxt if nxt >= 0 else len(text)]:
                found.append(("AWS::IAM::Role", rel))
    return found


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__.split("\n\n")[1])
    repo = argv[1]
    crates = sdk_crates(repo)
    if not crates:
        sys.exit("no aws-sdk-* dependencies found in operator/Cargo.toml")
    lock = open(os.path.join(repo, "Cargo.lock")).read()
    registry = glob.glob(os.path.expanduser(os.environ.get("CARGO_HOME", "~/.cargo")) + "/registry/src/*/")
    ops = {}  # snake_case operation -> set of service prefixes (names repeat across services)
    for crate, prefix in crates:
        m = re.search(r'name = "%s"\nversion = "([^"]+)"' % crate, lock)
        if not m:
            continue
        dirs = [d for r in registry for d in glob.glob(f"{r}{crate}-{m.group(1)}/src/operation")]
        if not dirs:
            sys.exit(f"{crate} {m.group(1)} sources not found in the cargo registry")
        for name in os.listdir(dirs[0]):
            if not name.endswith(".rs"):
                ops.setdefault(name, set()).add(prefix)

    def actions(op, prefixes):
        if op in SPECIAL:
            return SPECIAL[op]
        return [p + ":" + "".join(w.capitalize() for w in op.split("_")) for p in sorted(prefixes)]

    policy = json.load(open(os.path.join(repo, "docs/iam-policy.json")))
    # IAM action names are case-insensitive (`rds:DescribeDBClusters` is the SDK's
    # `describe_db_clusters`, capitalised `DescribeDbClusters`).
    allowed = {a.lower() for s in policy["Statement"] if s["Effect"] == "Allow" for a in s["Action"]}
    called = {}  # (operation, service prefix) -> files
    for path in glob.glob(os.path.join(repo, "operator/src/**/*.rs"), recursive=True):
        text = open(path).read()
        # A file that calls a client (`aws.logs.describe_log_groups()`) need not import its
        # crate, so both count.
        if "aws_sdk_" not in text and not re.search(r"\baws\s*\.\s*[a-z0-9]+\s*\.", text):
            continue
        # The clients a file uses (`aws.ses`, `aws_sdk_ses::`) decide which service an
        # operation name that several services share belongs to.
        used = {p for _, p in crates if re.search(r"(\.%s\b|aws_sdk_%s::)" % (p, p), text)}
        for op in re.findall(r"\.([a-z][a-z0-9_]*)\(\)", text):
            if op in ops:
                for prefix in (ops[op] & used) or ops[op]:
                    called.setdefault((op, prefix), set()).add(os.path.relpath(path, repo))
    # Role assumption goes through aws-config's AssumeRoleProvider, not a visible call.
    for path in glob.glob(os.path.join(repo, "operator/src/**/*.rs"), recursive=True):
        if "AssumeRoleProvider" in open(path).read():
            called.setdefault(("assume_role", "sts"), set()).add(os.path.relpath(path, repo))
    missing = [(op, a, sorted(called[(op, p)])) for (op, p) in sorted(called)
               for a in actions(op, {p}) if a.lower() not in allowed]
    print(f"{len(called)} AWS operations called in operator/src: "
          f"{', '.join(f'{p}:{op}' for op, p in sorted(called)) or 'none'}")
    for op, a, files in missing:
        print(f"missing {a} (for {op} in {', '.join(files)})")
    unbounded = creations_without_boundary(repo)
    for what, path in unbounded:
        print(f"no permissions boundary: {what} in {path}")
    return 1 if missing or unbounded else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
