#!/usr/bin/env python3
"""The chart README documents every value of values.yaml.

Usage: chart_values_documented.py CHART_DIR

Every leaf of CHART_DIR/values.yaml, or a parent of it, must appear as `key.path` (in
backquotes) in CHART_DIR/README.md. Prints `undocumented value: <path>` for each one that
does not and exits 1; exits 0 when all are documented. Needs `yq` (the jq wrapper) on PATH
to read the YAML. Run by e2e/scripts/test-chart.sh.
"""

import json
import re
import subprocess
import sys


def leaves(node, path):
    if isinstance(node, dict) and node:
        for k, v in node.items():
            yield from leaves(v, path + [k])
    else:
        yield path


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__.split("\n\n")[1])
    chart = argv[1]
    values = json.loads(subprocess.check_output(["yq", ".", f"{chart}/values.yaml"]))
    readme = open(f"{chart}/README.md").read()
    documented = set(re.findall(r"`([A-Za-z0-9_.]+)`", readme))
    missing = []
    for path in leaves(values, []):
        prefixes = [".".join(path[:i]) for i in range(len(path), 0, -1)]
        if not any(p in documented for p in prefixes):
            missing.append(".".join(path))
    for m in missing:
        print("undocumented value:", m)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
