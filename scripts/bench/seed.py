#!/usr/bin/env python3
"""Seed a running kemu with namespace `bench`, pods bench-0..bench-N-1 in it, and default/bench-0.

    python3 scripts/bench/seed.py --port PORT [--pods 1000]

One keep-alive connection; POST /api/v1/namespaces, then POST /api/v1/namespaces/bench/pods per pod
(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"bench-N","labels":{"app":"bench"}},
"spec":{"containers":[{"name":"app","image":"nginx:1.27"}]}}`). Objects that exist (409) are fine.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, required=True, help="kemu's port on 127.0.0.1")
    ap.add_argument("--pods", type=int, default=1000)
    args = ap.parse_args()
    print(json.dumps(bl.seed(args.port, args.pods)))
