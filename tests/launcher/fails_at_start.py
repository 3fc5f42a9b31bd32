"""A program that fails at start-up, as a service with a bad setting does (run with ``-m``)."""

import sys

print("starting up", flush=True)
print("FATAL: this program cannot start (on purpose)", file=sys.stderr, flush=True)
sys.exit(3)
