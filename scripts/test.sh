#!/usr/bin/env bash
# The README's test command: set up (packages, Release build with -Werror)
# and run the whole test suite with ctest.
#   scripts/test.sh [PRESET]   (release by default; asan and tsan also work)
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-release}
scripts/setup.sh "$preset"
ctest --preset "$preset"
