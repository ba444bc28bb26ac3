// Decides requests against the operator's IAM policy (docs/iam-policy.json) and the
// permissions boundary of the roles and users it creates (docs/iam-boundary.json) with
// @cloud-copilot/iam-simulate, and compares each decision with the one the request
// expects. A test-time tool only: never shipped or linked (the package is AGPL-3.0).
//
// Usage: IAM_EVAL_NODE_MODULES=DIR node evaluate.mjs REPO_ROOT CASES.json...
// (DIR: the node_modules e2e/scripts/iam-eval.sh installs from package-lock.json into
// the cache; e2e/scripts/iam-eval.sh sets it.)
//
// A cases file is a JSON array of requests:
//   {"name": "...", "as": "operator" | "created",
//    "action": "kms:TagResource", "resource": "arn:aws:kms:eu-west-1:123456789012:key/k",
//    "context": {"aws:RequestTag/redcap.dev/managed-by": "redcap-operator"},
//    "expect": "allowed" | "denied"}
// "operator" is the operator's role with docs/iam-policy.json; "created" is a role the
// operator created, given an inline policy that allows everything, under
// docs/iam-boundary.json (the boundary alone decides what it may do).
//
// Prints one line per request and exits 1 if any decision differs from its expectation
// or a request cannot be evaluated (an unknown action, a resource of the wrong type).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const modules = process.env.IAM_EVAL_NODE_MODULES;
if (!modules) {
  console.error('IAM_EVAL_NODE_MODULES is not set (run through e2e/scripts/iam-eval.sh)');
  process.exit(2);
}
// The package lives in the cache, not next to this file: an ES module import does not
// search NODE_PATH, so it is imported by its path.
const { runSimulation } = await import(
  pathToFileURL(join(modules, '@cloud-copilot/iam-simulate/dist/esm/index.js')).href
);

const ACCOUNT = '123456789012';
const OPERATOR = `arn:aws:iam::${ACCOUNT}:role/redcap-operator-env`;
const CREATED = `arn:aws:iam::${ACCOUNT}:role/redcap/rc-e2e-redcap-1a2b3c4d-task`;
// KMS decides with the key policy first; this is AWS's default one, which hands the
// decision to IAM policies of the account (the case for keys made outside the operator;
// the operator's own key policies are not modelled here).
const DEFAULT_KEY_POLICY = {
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' },
  ],
};
const EVERYTHING = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };

const [repo, ...files] = process.argv.slice(2);
if (!repo || files.length === 0) {
  console.error('usage: node evaluate.mjs REPO_ROOT CASES.json...');
  process.exit(2);
}
const policy = JSON.parse(readFileSync(join(repo, 'docs/iam-policy.json'), 'utf8'));
const boundary = JSON.parse(readFileSync(join(repo, 'docs/iam-boundary.json'), 'utf8'));

function simulation(c) {
  const created = c.as === 'created';
  return {
    request: {
      principal: created ? CREATED : OPERATOR,
      action: c.action,
      resource: { resource: c.resource, accountId: ACCOUNT },
      contextVariables: { 'aws:PrincipalAccount': ACCOUNT, ...(c.context ?? {}) },
    },
    identityPolicies: [{ name: created ? 'everything' : 'redcap-operator', policy: created ? EVERYTHING : policy }],
    permissionBoundaryPolicies: created ? [{ name: 'redcap-operator-boundary', policy: boundary }] : undefined,
    resourcePolicy: /^arn:aws:kms:[^:]*:[^:]*:key\//.test(c.resource) ? DEFAULT_KEY_POLICY : undefined,
    serviceControlPolicies: [],
    resourceControlPolicies: [],
  };
}

let failures = 0;
let count = 0;
for (const file of files) {
  for (const c of JSON.parse(readFileSync(file, 'utf8'))) {
    count++;
    const out = await runSimulation(simulation(c), { simulationMode: 'Strict' });
    if (out.resultType === 'error') {
      failures++;
      console.log(`FAIL ${c.name}: not evaluated: ${JSON.stringify(out.errors)}`);
      continue;
    }
    const ignored = out.resultType === 'single' ? out.result.ignoredContextKeys ?? [] : [];
    const decision = out.overallResult === 'Allowed' ? 'allowed' : 'denied';
    const detail = `${c.as ?? 'operator'} ${c.action} on ${c.resource}: ${out.overallResult}`;
    if (decision !== c.expect) {
      failures++;
      console.log(`FAIL ${c.name}: ${detail}, expected ${c.expect}`);
    } else if (ignored.length > 0) {
      // A key the action does not support would make the case prove nothing.
      failures++;
      console.log(`FAIL ${c.name}: context keys ${ignored.join(', ')} do not apply to ${c.action}`);
    } else {
      console.log(`ok   ${c.name}: ${detail}`);
    }
  }
}
console.log(`${count - failures} of ${count} requests decided as expected`);
process.exit(failures > 0 ? 1 : 0);
