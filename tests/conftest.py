"""Shared fixtures: one local Spark session per test run, and the real rows in ../shared."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta
from itertools import combinations
from pathlib import Path

import pytest
from kedro.io import MemoryDataset
from matplotlib.backends.backend_agg import FigureCanvasAgg
from pyspark.sql import types as T

from recsys_kedro import spark_session

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"

EVENT_SCHEMA = T.StructType(
    [
        T.StructField("event_time", T.TimestampType()),
        T.StructField("event_type", T.StringType()),
        T.StructField("product_id", T.LongType()),
        T.StructField("category_id", T.LongType()),
        T.StructField("category_code", T.StringType()),
        T.StructField("brand", T.StringType()),
        T.StructField("price", T.DoubleType()),
        T.StructField("user_id", T.LongType()),
        T.StructField("user_session", T.StringType()),
    ]
)
T0 = datetime(2020, 1, 1)

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


@pytest.fixture(scope="session")
def spark():
    """A local[2] session bound to 127.0.0.1 with few shuffle partitions."""
    spark_session.configure(
        {
            "spark.master": "local[2]",
            "spark.sql.shuffle.partitions": "2",
            "spark.default.parallelism": "2",
        }
    )
    session = spark_session.get_spark()
    yield session
    session.stop()


@pytest.fixture(autouse=True)
def _release_persisted_frames():
    """Nodes persist frames for the run (released by a hook after a Kedro run); a test
    is a run."""
    yield
    spark_session.release_persisted()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real public-dataset rows beside the checkout; skip where they are absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real-data fixtures not found: {SHARED_DATA} is absent")
    return SHARED_DATA


@pytest.fixture
def real_raw_dir(shared_data: Path, tmp_path: Path) -> Path:
    """The shared rows laid out as a user drops the public downloads into a raw folder."""
    raw = tmp_path / "raw"
    (raw / "events").mkdir(parents=True)
    (raw / "reviews").mkdir()
    for path in sorted((shared_data / "cosmetics_shop_sample").glob("*.csv")):
        shutil.copy(path, raw / "events" / path.name)
    for path in sorted((shared_data / "sephora_sample").glob("*.csv")):
        shutil.copy(path, raw / "reviews" / path.name)
    return raw


@pytest.fixture
def events(spark):
    """Events from ``(user, product, type[, day offset[, session]])`` tuples."""

    def make(rows):
        full = []
        for row in rows:
            user, product, kind, *rest = row
            day = rest[0] if rest else 0
            session = rest[1] if len(rest) > 1 else f"s{user}"
            full.append(
                (
                    T0 + timedelta(days=day),
                    kind,
                    product,
                    1,
                    None,
                    None,
                    1.0,
                    user,
                    session,
                )
            )
        return spark.createDataFrame(full, EVENT_SCHEMA)

    return make


class KeptDataset(MemoryDataset):
    """An in-memory dataset the runner cannot release, so tests can read intermediates."""

    def _release(self) -> None:
        pass


@pytest.fixture(scope="session")
def kept_dataset() -> type[MemoryDataset]:
    """:class:`KeptDataset`, for pipeline tests that check intermediate outputs."""
    return KeptDataset


def _assert_readable(fig) -> None:
    """A title on the figure, both axis labels on every drawn axes, and no two tick
    labels of one axis overlapping once drawn."""
    FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()
    plotted = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert fig.get_suptitle() or all(ax.get_title() for ax in plotted)
    for ax in plotted:
        if not ax.axison:
            continue
        assert ax.get_xlabel() and ax.get_ylabel(), ax.get_title()
        for labels in (ax.get_xticklabels(), ax.get_yticklabels()):
            boxes = [
                t.get_window_extent(renderer)
                for t in labels
                if t.get_visible() and t.get_text()
            ]
            for a, b in combinations(boxes, 2):
                assert not a.overlaps(b), (ax.get_title(), a, b)


@pytest.fixture
def assert_readable() -> Callable[[object], None]:
    """Checks a matplotlib figure for a title, axis labels and overlapping ticks."""
    return _assert_readable


def copy_project(copy: Path) -> Path:
    """Copies the project's configuration and source (no conf/local, no data) into
    ``copy``, for kedro CLI runs that must leave the checkout alone."""
    copy.mkdir()
    for name in ("conf", "pyproject.toml", ".telemetry", "README.md"):
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("local"))
        else:
            shutil.copy(source, copy / name)
    (copy / "conf" / "local").mkdir()
    shutil.copytree(
        PROJECT_ROOT / "src",
        copy / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    # numba's compiled kernels (keyed by the source's timestamp, which copytree keeps),
    # so each CLI run does not compile them again
    kernels = PROJECT_ROOT / "src" / "recsys_kedro" / "next_item" / "__pycache__"
    target = copy / "src" / "recsys_kedro" / "next_item" / "__pycache__"
    for cached in [*kernels.glob("*.nbi"), *kernels.glob("*.nbc")]:
        target.mkdir(exist_ok=True)
        shutil.copy2(cached, target / cached.name)
    for layer in ("01_raw", "02_intermediate", "08_reporting"):
        (copy / "data" / layer).mkdir(parents=True)
    return copy


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project (see :func:`copy_project`) for one test."""
    return copy_project(tmp_path / "project")


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One `kedro run` of every pipeline but engagement on 20,000 events written by the
    default sample's generator, shared by the tests that only read its outputs (the
    served cf and session models, the explorer): a project copy, as :func:`project`.

    Returns:
        The project folder; the run's output is in ``run.log`` beside it.
    """
    from recsys_kedro.sample_data import SampleConfig, generate  # noqa: PLC0415
    from tests.test_run import _kedro  # noqa: PLC0415

    project = copy_project(tmp_path_factory.mktemp("sample_run") / "project")
    generate(SampleConfig(events=20_000, seed=7), project / "data" / "01_raw")
    result = _kedro(
        project,
        "run",
        "--pipelines=data_processing,nlp,feature_engineering,eda,cf,fpgrowth,sessions",
        timeout=1200,
    )
    (project.parent / "run.log").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return project
