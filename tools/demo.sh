#!/usr/bin/env bash
# Postern's main job, end to end, on a throwaway local mail provider: sets
# everything up, builds, and runs tools/demo-run.sh under the test harness,
# which removes the provider, the keys and the homes when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup-debian.sh
tools/build.sh build
export POSTERN="$PWD/build/cli/postern" POSTERND="$PWD/build/agent/posternd"
exec tests/harness/with-provider.sh tools/demo-run.sh
