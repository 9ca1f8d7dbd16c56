#!/usr/bin/env python3
"""tests/lib/dashboard_metrics.py DASHBOARD.json [METRICS.txt]

Prints every cdc_agent_* metric name a Grafana dashboard queries (its panels'
"expr" and its template variables' queries), one per line.  With a
/metrics text, prints instead the names that have no sample there, and exits
1 if there are any (0 when every one is served)."""
import json
import re
import sys

NAME = re.compile(r"\bcdc_agent_[A-Za-z0-9_]+")


def queries(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("expr", "query", "definition") and isinstance(value, str):
                yield value
            else:
                yield from queries(value)
    elif isinstance(node, list):
        for item in node:
            yield from queries(item)


def main():
    with open(sys.argv[1]) as f:
        names = sorted({n for q in queries(json.load(f)) for n in NAME.findall(q)})
    if not names:
        print("the dashboard queries no cdc_agent_ metric")
        return 1
    if len(sys.argv) < 3:
        print("\n".join(names))
        return 0
    served = set()
    with open(sys.argv[2]) as f:
        for line in f:
            m = re.match(r"(cdc_agent_[A-Za-z0-9_]+)[{ ]", line)
            if m:
                served.add(m.group(1))
    missing = [n for n in names if n not in served]
    for n in missing:
        print(n)
    return 1 if missing else 0


sys.exit(main())
