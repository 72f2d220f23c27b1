#!/usr/bin/env bash
# make test-dbr: the built wheel on a Databricks runtime's Python environment.
#
#   tests/dbr/run.sh 16.4-lts|17.3-lts
#
# 1. a venv with the runtime's Python and its libraries (tests/dbr/runtime-<rt>.txt),
#    pyspark standing in for the runtime's Spark;
# 2. torch installed first, as a CPU cluster's init script would (docs/databricks.md);
# 3. the wheel installed as a cluster library is: a plain `pip install` of the .whl.
#    The runtime's libraries under Spark (the PROTECTED list below) must come through
#    unchanged; every other runtime library the wheel's dependencies replace is listed;
# 4. what Databricks has and this machine lacks (Delta through delta-rs) and the test
#    tools, kept to the versions now installed;
# 5. the unit tests, against the installed wheel (not src/);
# 6. every pipeline on the default sample, run through the wheel's entry point the way
#    the bundle's python_wheel_task runs it (`recsys-kedro --conf-source ...`).
#
# Needs the runtime's Python (3.12 for both) on PATH or in pyenv; set DBR_PYTHON to
# point at it otherwise.
set -euo pipefail

runtime=${1:?usage: tests/dbr/run.sh 16.4-lts|17.3-lts}
root=$(cd "$(dirname "$0")/../.." && pwd)
spec=$root/tests/dbr/runtime-$runtime.txt
[ -f "$spec" ] || { echo "test-dbr: no runtime list $spec" >&2; exit 2; }
py_version=$(sed -n 's/^python==//p' "$spec")

# The runtime libraries that Spark, the notebook and pandas UDFs run on: the wheel must
# leave every one of them at the runtime's version.
PROTECTED="pyspark py4j numpy pandas pyarrow scipy matplotlib ipython scikit-learn
protobuf grpcio grpcio-status googleapis-common-protos cloudpickle"

python=
for candidate in ${DBR_PYTHON:-} "$(command -v "python$py_version" || true)" \
    $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$py_version".*/bin/python"$py_version" 2>/dev/null); do
    # a pyenv shim exists for every version pyenv knows of, and fails for one not selected
    if [ -n "$candidate" ] && "$candidate" -c 'import sys' 2>/dev/null; then
        python=$candidate
        break
    fi
done
if [ -z "$python" ]; then
    echo "test-dbr: Databricks Runtime $runtime runs Python $py_version, and no working python$py_version was" \
        "found (DBR_PYTHON, PATH, pyenv). Install it (pyenv install $py_version) or set DBR_PYTHON=/path/to/python$py_version." >&2
    exit 2
fi

work=$root/.dbr/$runtime
venv=$work/venv
pip="$venv/bin/python -m pip --quiet --disable-pip-version-check"
rm -rf "$work"
mkdir -p "$work"
echo "== test-dbr $runtime: $("$python" --version) in $venv"
"$python" -m venv "$venv"
$pip install --upgrade pip

echo "== 1. the runtime's libraries"
grep -v -e '^#' -e '^python==' -e '^$' "$spec" > "$work/runtime.txt"
# (16.4 LTS's pandas 1.5.3 has no wheel for Python 3.12 on PyPI: pip builds it, once,
# then takes it from its cache)
$pip install --build-constraint "$root/tests/dbr/build-constraints.txt" -r "$work/runtime.txt"
$pip freeze > "$work/freeze-runtime.txt"

echo "== 2. torch, before the wheel (a CPU cluster installs it from PyTorch's CPU index)"
$pip install "torch==2.13.0"

echo "== 3. the wheel, as a cluster library"
rm -rf "$work/dist"
"$venv/bin/python" -m pip --quiet wheel --no-deps -w "$work/dist" "$root"
wheel=$(ls "$work"/dist/recsys_kedro-*.whl)
$pip install "$wheel"
$pip freeze > "$work/freeze-wheel.txt"
"$venv/bin/python" - "$work/freeze-runtime.txt" "$work/freeze-wheel.txt" "$PROTECTED" "$spec" <<'EOF'
import re
import sys


def versions(path):
    pairs = (line.strip().split("==", 1) for line in open(path) if "==" in line)
    return {name.lower().replace("_", "-"): version for name, version in pairs}


before, after = versions(sys.argv[1]), versions(sys.argv[2])
# "# known replacement: <name>: <why>" lines in the runtime list take a library off the
# protected list for that runtime, with the reason printed
known = dict(re.findall(r"^# known replacement: (\S+): (.+)$", open(sys.argv[4]).read(), re.M))
protected = set(sys.argv[3].split()) - set(known)
changed = {n: (v, after.get(n, "removed")) for n, v in before.items() if after.get(n) != v}
for name, (old, new) in sorted(changed.items()):
    kind = "PROTECTED" if name in protected else "replaced"
    print(f"   {kind:9} {name} {old} -> {new}")
    if name in known:
        print(f"             (known: {known[name]})")
print(f"   {len(changed)} of the runtime's {len(before)} libraries replaced by the wheel's dependencies")
broken = sorted(set(changed) & protected)
if broken:
    sys.exit(f"test-dbr: the wheel replaces the runtime's {', '.join(broken)}: widen its ranges in pyproject.toml")
EOF

echo "== 4. Delta through delta-rs, and the test tools, at the versions now installed"
# The `local` and `test` extras by name: their exact pins are for this machine's venv
# (constraints.txt); here pip takes the newest release of each that fits the runtime.
$pip freeze | grep -v '^recsys' > "$work/installed.txt"
"$venv/bin/python" - "$root/pyproject.toml" > "$work/tools.txt" <<'EOF'
import sys
import tomllib

from packaging.requirements import Requirement

extras = tomllib.load(open(sys.argv[1], "rb"))["project"]["optional-dependencies"]
for spec in extras["local"] + extras["test"]:
    requirement = Requirement(spec)
    if requirement.name not in ("pyspark", "ruff"):
        names = ",".join(sorted(requirement.extras))
        print(requirement.name + (f"[{names}]" if names else ""))
EOF
$pip install -c "$work/installed.txt" -r "$work/tools.txt"

echo "== 5. unit tests against the installed wheel"
site=$("$venv/bin/python" -c 'import recsys_kedro, pathlib; print(pathlib.Path(recsys_kedro.__file__).parent)')
case "$site" in "$root"/src/*) echo "test-dbr: recsys_kedro imports from src/, not the wheel" >&2; exit 1;; esac
(cd "$root" && KEDRO_DISABLE_TELEMETRY=true SPARK_LOCAL_IP=127.0.0.1 \
    PYSPARK_PYTHON="$venv/bin/python" "$venv/bin/python" -m pytest -p no:cacheprovider \
    -m "not slow and not integration" -q ${DBR_PYTEST_ARGS:-})

echo "== 6. every pipeline on the default sample, through the wheel's entry point"
project=$work/project
mkdir -p "$project/data/01_raw" "$project/conf/local"
cp -r "$root/conf/base" "$project/conf/"
cp "$root/pyproject.toml" "$project/"
(cd "$project" && export KEDRO_DISABLE_TELEMETRY=true SPARK_LOCAL_IP=127.0.0.1 \
    PYSPARK_PYTHON="$venv/bin/python" &&
    "$venv/bin/python" -m recsys_kedro.sample_data --out data/01_raw --events 200000 --seed 42 &&
    "$venv/bin/recsys-kedro" --conf-source conf &&
    "$venv/bin/recsys-kedro" --conf-source conf --pipeline cf_tuning)
echo "== test-dbr $runtime: passed"
