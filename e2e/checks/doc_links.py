#!/usr/bin/env python3
"""Every relative Markdown link and #anchor in the user docs resolves.

Usage: doc_links.py REPO_ROOT

Checks the links of REPO_ROOT/docs/**/*.md, the chart README and
manifests/gitops/README.md: the target file exists and, for `#anchor` into a Markdown
file, the heading exists (GitHub's slug rules). Links with a scheme (https:, mailto:) and
anything inside code fences or inline code are ignored. Prints one line per broken link
and exits 1; exits 0 when all resolve. Run by e2e/scripts/test-chart.sh.
"""

import glob
import os
import re
import sys


def slugs(path):
    out, fence = set(), False
    for line in open(path):
        if line.startswith("```"):
            fence = not fence
        m = None if fence else re.match(r"#{1,6}\s+(.*)", line)
        if m:
            s = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower().replace("`", ""))
            out.add(s.replace(" ", "-"))
    return out


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__.split("\n\n")[1])
    repo = argv[1]
    pages = glob.glob(f"{repo}/docs/**/*.md", recursive=True) + [
        f"{repo}/charts/redcap-operator/README.md", f"{repo}/manifests/gitops/README.md"]
    bad = []
    for page in pages:
        text = re.sub(r"```.*?```", "", open(page).read(), flags=re.S)
        # Inline code (regex patterns in the spec reference) is not a link.
        text = re.sub(r"`[^`\n]*`", "", text)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, frag = target.partition("#")
            dest = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
            if not os.path.exists(dest):
                bad.append(f"{os.path.relpath(page, repo)}: {target} (no such file)")
            elif frag and dest.endswith(".md") and frag not in slugs(dest):
                bad.append(f"{os.path.relpath(page, repo)}: {target} (no such heading)")
    for b in bad:
        print(b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
