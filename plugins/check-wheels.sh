#!/usr/bin/env bash
# Each family package as a user gets it: build the wheels of gankit and of every package named (default:
# the GAN families under plugins/), install them into a fresh virtual environment that holds nothing else
# but their dependencies, and run each package's own tests there, from a copy outside this checkout so
# that nothing is imported from the source tree.
#
#   bash plugins/check-wheels.sh                       # all five families (make check-wheels)
#   bash plugins/check-wheels.sh gankit-biggan         # one
#
# Takes a few minutes: the fresh environment installs torch from the machine's wheels (no download).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
FAMILIES=("$@")
if [ ${#FAMILIES[@]} -eq 0 ]; then
    FAMILIES=(gankit-biggan gankit-stylegan gankit-pix2pix gankit-cyclegan gankit-stargan)
fi
for family in "${FAMILIES[@]}"; do
    if [ ! -f "plugins/$family/pyproject.toml" ]; then
        echo "check-wheels: no package plugins/$family (expected plugins/<name>/pyproject.toml)" >&2
        exit 2
    fi
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/gankit-wheels.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
LOG="$WORK/steps.log"
# The build and install steps are chatty; their output is shown only when one fails.
quiet() { "$@" >>"$LOG" 2>&1 || { cat "$LOG" >&2; echo "check-wheels: failed: $*" >&2; exit 1; }; }
echo "Building wheels into $WORK/dist"
BUILDER="$WORK/builder"
"$PYTHON" -m venv "$BUILDER"
quiet "$BUILDER/bin/python" -m pip install build
quiet "$BUILDER/bin/python" -m build --wheel --outdir "$WORK/dist" .
for family in "${FAMILIES[@]}"; do
    quiet "$BUILDER/bin/python" -m build --wheel --outdir "$WORK/dist" "plugins/$family"
done
ls "$WORK/dist"

echo "Installing into a fresh environment"
ENV="$WORK/env"
"$PYTHON" -m venv "$ENV"
quiet "$ENV/bin/python" -m pip install torch==2.14.1 torchvision==0.29.1
# Only the wheels and what they declare (each package's `test` extra holds what its tests need).
wheels=("$WORK"/dist/gankit-*.whl)
specs=("${wheels[0]}")
for family in "${FAMILIES[@]}"; do
    module="${family//-/_}"
    wheel=("$WORK"/dist/"$module"-*.whl)
    specs+=("$module[test] @ file://${wheel[0]}")
done
quiet "$ENV/bin/python" -m pip install "${specs[@]}"
"$ENV/bin/python" -m pip list --format=freeze | grep -i -E '^(gankit|torch)' || true

status=0
for family in "${FAMILIES[@]}"; do
    tests="$WORK/tests-$family"
    cp -r "plugins/$family/tests" "$tests"
    echo "== $family: its own tests, against the installed wheels"
    # --rootdir and -c /dev/null: no pytest settings of this checkout apply; -p no:cacheprovider: write nothing.
    if ! (cd "$tests" && OMP_NUM_THREADS=1 "$ENV/bin/python" -m pytest -q -p no:cacheprovider \
        -c /dev/null --rootdir "$tests" .); then
        status=1
    fi
done
exit $status
