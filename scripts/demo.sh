#!/usr/bin/env bash
# The README's demo command: set up (packages, Release build), then run the
# demo. Everything it starts is stopped, and the bus it creates removed, when
# it ends or on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh release
exec build/release/examples/hermes-demo "$@"
