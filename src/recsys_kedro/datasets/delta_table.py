"""A Delta table as a Spark DataFrame, through Spark's Delta support or through delta-rs.

Why this is written here rather than taken from kedro-datasets: ``spark.DeltaTableDataset``
and ``spark.SparkDataset(file_format="delta")`` need Spark's Delta jars, which the
delta-spark wheel does not ship and Spark cannot download on a machine without Maven
Central; ``pandas.DeltaTableDataset`` goes through pandas (the whole table in driver
memory) and its ``.metadata`` breaks kedro-viz 12.5. This dataset keeps nodes on Spark
DataFrames and picks the engine per session:

* ``spark``: the session has Delta support (Databricks, or a session given the jars):
  Spark's own reader and writer.
* ``delta-rs``: any other session. A save lets Spark write the frame as parquet to a
  local staging folder (distributed, nothing collected), then streams those files into
  the table with ``deltalake.write_deltalake`` through a ``RecordBatchReader`` of
  ``batch_rows`` rows: driver memory holds about one batch and one row group, whatever
  the table's size. The commit is one Delta transaction, so a failed write leaves the
  previous version readable. A load reads exactly the files of the table's current (or
  requested) version, ``DeltaTable(path).file_uris()``, never the folder as plain
  parquet, which would return rows the log removed.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any, Literal

import pyarrow as pa
import pyarrow.dataset as pads
from deltalake import DeltaTable, WriterProperties, write_deltalake
from deltalake.exceptions import TableNotFoundError
from kedro.io.core import AbstractDataset, DatasetError
from pyspark.sql import DataFrame
from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema
from pyspark.sql.types import StructType

from recsys_kedro.datasets import object_store
from recsys_kedro.datasets.staging import staging_folder
from recsys_kedro.spark_session import get_spark, has_delta_support

logger = logging.getLogger(__name__)

Engine = Literal["auto", "spark", "delta-rs"]
_SCHEMA_MODES = (None, "merge", "overwrite")
# Reader features that leave a version's files readable as plain parquet.
_PLAIN_PARQUET_READER_FEATURES = {"timestampNtz", "v2Checkpoint", "vacuumProtocolCheck"}
_MODES = ("overwrite", "append")


class SchemaMismatchError(DatasetError):
    """A frame's columns differ from the table's and the entry did not opt into a change."""


class SparkDeltaTableDataset(AbstractDataset[DataFrame, DataFrame]):
    """Loads and saves a Delta table as a Spark DataFrame.

    Example catalog entry::

        events_clean:
          type: recsys_kedro.datasets.SparkDeltaTableDataset
          filepath: data/02_intermediate/events_clean
          save_args:
            mode: overwrite          # or append
            schema_mode: null        # null refuses a new schema; merge or overwrite opt in
            partition_by: [event_month]
          load_args:
            version: 3               # an older version of the table
            empty_schema: "key STRING, n INT"  # no table yet: an empty frame (a cache)
          metadata:
            kedro-viz:
              layer: intermediate
    """

    DEFAULT_SAVE_ARGS: dict[str, Any] = {
        "mode": "overwrite",
        "schema_mode": None,
        "partition_by": None,
        "batch_rows": 65_536,
    }

    def __init__(
        self,
        *,
        filepath: str,
        engine: Engine = "auto",
        load_args: dict[str, Any] | None = None,
        save_args: dict[str, Any] | None = None,
        storage_options: dict[str, str] | None = None,
        credentials: dict[str, str] | None = None,
        staging_dir: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Creates the dataset.

        Args:
            filepath: Folder (or object-store URI) of the Delta table.
            engine: ``auto`` picks ``spark`` when the session has Delta support,
                otherwise ``delta-rs``.
            load_args: ``version``: the table version to read (default: latest);
                ``empty_schema``: a DDL schema; where there is no table yet, a load
                returns an empty frame of it instead of failing (a cache's first run).
            save_args: ``mode`` (``overwrite``/``append``), ``schema_mode``
                (``None``/``merge``/``overwrite``), ``partition_by``, ``batch_rows``
                (rows per Arrow batch streamed into delta-rs).
            storage_options: Options for delta-rs object-store access.
            credentials: Merged into ``storage_options`` (from ``credentials.yml``).
            staging_dir: Where Spark stages parquet for a delta-rs write (default:
                the system temporary folder); see
                :mod:`recsys_kedro.datasets.staging` for what a killed run leaves.
            metadata: Free-form metadata (kedro-viz reads ``kedro-viz.layer``).
        """
        if engine not in ("auto", "spark", "delta-rs"):
            raise DatasetError(
                f"Delta table '{filepath}': engine must be auto, spark or delta-rs, "
                f"not {engine!r}"
            )
        self._filepath = str(filepath).rstrip("/")
        self._engine: Engine = engine
        self._load_args = dict(load_args or {})
        self._save_args = {**self.DEFAULT_SAVE_ARGS, **(save_args or {})}
        if self._save_args["mode"] not in _MODES:
            raise DatasetError(
                f"Delta table '{filepath}': save_args.mode must be one of {_MODES}, "
                f"not {self._save_args['mode']!r}"
            )
        if self._save_args["schema_mode"] not in _SCHEMA_MODES:
            raise DatasetError(
                f"Delta table '{filepath}': save_args.schema_mode must be null, merge "
                f"or overwrite, not {self._save_args['schema_mode']!r}"
            )
        self._storage_options = {**(storage_options or {}), **(credentials or {})}
        self._s3 = object_store.is_s3(self._filepath)
        if self._s3:
            self._storage_options = object_store.resolve_options(self._storage_options)
        self._staging_dir = staging_dir
        self.metadata = metadata

    @property
    def filepath(self) -> str:
        """The table's folder or object-store URI."""
        return self._filepath

    @property
    def storage_options(self) -> dict[str, str]:
        """delta-rs's options for the table's store (credentials included)."""
        return dict(self._storage_options)

    def _describe(self) -> dict[str, Any]:
        return {
            "filepath": self._filepath,
            "engine": self._engine,
            "load_args": self._load_args,
            "save_args": {k: v for k, v in self._save_args.items() if v is not None},
        }

    # -- engine choice -------------------------------------------------------------

    def _use_spark_delta(self) -> bool:
        if self._engine == "spark":
            return True
        if self._engine == "delta-rs":
            return False
        return has_delta_support(get_spark())

    def _check_bucket(self) -> None:
        if self._s3:
            object_store.check_bucket(self._filepath, self._storage_options)

    def _delta_table(self, version: int | None = None) -> DeltaTable:
        self._check_bucket()
        return DeltaTable(
            self._filepath,
            version=version,
            storage_options=self._storage_options or None,
        )

    # -- load --------------------------------------------------------------------------

    def _load(self) -> DataFrame:
        spark = get_spark()
        version = self._load_args.get("version")
        empty_schema = self._load_args.get("empty_schema")
        if empty_schema is not None and not self._exists():
            logger.info("No Delta table at %s yet: an empty frame", self._filepath)
            return spark.createDataFrame([], schema=empty_schema)
        if self._use_spark_delta():
            reader = spark.read.format("delta")
            if version is not None:
                reader = reader.option("versionAsOf", int(version))
            return reader.load(self._filepath)
        try:
            table = self._delta_table(None if version is None else int(version))
        except TableNotFoundError as exc:
            raise DatasetError(
                f"No Delta table at '{self._filepath}': run the pipeline that writes it "
                "first."
            ) from exc
        except Exception as exc:  # delta-rs raises a plain error for a missing version
            raise DatasetError(
                f"Cannot open Delta table '{self._filepath}' at version {version}: {exc}"
            ) from exc
        self._check_plain_parquet_readable(table)
        schema = from_arrow_schema(pa.schema(table.schema().to_arrow()))
        files = table.file_uris()
        if not files:
            return spark.createDataFrame([], schema)
        base = table.table_uri
        if self._s3:  # s3a:// where Spark has S3A, else local copies of these files
            files, base = object_store.for_spark(
                files, self._storage_options, spark, self._filepath
            )
        # basePath lets Spark recover partition columns from the files' col=value
        # folders; the file list itself is the table's current version only.
        frame = spark.read.schema(schema).option("basePath", base).parquet(*files)
        return frame.select(*schema.fieldNames())

    def _check_plain_parquet_readable(self, table: DeltaTable) -> None:
        """Spark reads the version's files as plain parquet; a table whose rows are not
        just its files' rows (deletion vectors) or whose files use physical column names
        (column mapping) would be read wrongly, so it is refused with what to do."""
        protocol = table.protocol()
        features = set(protocol.reader_features or []) - _PLAIN_PARQUET_READER_FEATURES
        mapping = table.metadata().configuration.get("delta.columnMapping.mode", "none")
        problems = sorted(features) + (
            [f"columnMapping ({mapping})"] if mapping not in (None, "none") else []
        )
        if problems:
            raise DatasetError(
                f"Delta table '{self._filepath}' uses {problems}, which this session "
                "cannot read through delta-rs file lists. Read it on a Spark session with "
                "Delta support (Databricks, or engine: spark with the Delta jars)."
            )

    # -- save ----------------------------------------------------------------------------

    def _save(self, data: DataFrame) -> None:
        if not isinstance(data, DataFrame):
            raise DatasetError(
                f"Delta table '{self._filepath}' takes a Spark DataFrame, "
                f"got {type(data).__name__}"
            )
        if self._use_spark_delta():
            self._save_with_spark(data)
        else:
            self._save_with_delta_rs(data)

    def _save_with_spark(self, data: DataFrame) -> None:
        writer = data.write.format("delta").mode(self._save_args["mode"])
        schema_mode = self._save_args["schema_mode"]
        if schema_mode == "merge":
            writer = writer.option("mergeSchema", "true")
        elif schema_mode == "overwrite":
            writer = writer.option("overwriteSchema", "true")
        if self._save_args["partition_by"]:
            writer = writer.partitionBy(*self._as_list(self._save_args["partition_by"]))
        writer.save(self._filepath)

    def _save_with_delta_rs(self, data: DataFrame) -> None:
        self._check_bucket()
        arrow_schema = _arrow_schema(data.schema)
        self._check_schema(arrow_schema)
        with staging_folder("delta", self._staging_dir) as folder:
            staging = folder / "parquet"
            data.write.mode("error").parquet(str(staging))
            batch_rows = int(self._save_args["batch_rows"])
            files = pads.dataset(str(staging), format="parquet", schema=arrow_schema)
            reader = files.scanner(
                batch_size=batch_rows, batch_readahead=1, fragment_readahead=1
            ).to_reader()
            write_deltalake(
                self._filepath,
                reader,
                mode=self._save_args["mode"],
                schema_mode=self._save_args["schema_mode"],
                partition_by=self._as_list(self._save_args["partition_by"]),
                storage_options=self._storage_options or None,
                writer_properties=WriterProperties(max_row_group_size=batch_rows),
            )
        logger.info(
            "Wrote Delta table %s (version %d) with delta-rs",
            self._filepath,
            self._delta_table().version(),
        )

    def _check_schema(self, new_schema: pa.Schema) -> None:
        """Refuses a frame whose columns differ from the existing table's."""
        if self._save_args["schema_mode"] is not None or not self._exists():
            return
        old_schema = pa.schema(self._delta_table().schema().to_arrow())
        old = {f.name: f.type for f in old_schema}
        new = {f.name: f.type for f in new_schema}
        missing = [c for c in old if c not in new]
        added = [c for c in new if c not in old]
        changed = [
            f"{c} ({old[c]} -> {new[c]})"
            for c in new
            if c in old and not _same_delta_type(old[c], new[c])
        ]
        if missing or added or changed:
            problems = []
            if missing:
                problems.append(f"missing columns {missing}")
            if added:
                problems.append(f"new columns {added}")
            if changed:
                problems.append(f"changed types {changed}")
            raise SchemaMismatchError(
                f"Delta table '{self._filepath}' was not changed: the frame's schema "
                f"differs from the table's: {'; '.join(problems)}. Set "
                "save_args.schema_mode to 'merge' or 'overwrite' in the catalog entry "
                "to allow it."
            )

    @staticmethod
    def _as_list(value: Any) -> list[str] | None:
        if value is None:
            return None
        return [value] if isinstance(value, str) else list(value)

    def _exists(self) -> bool:
        if self._use_spark_delta():
            return self._spark_table_exists()
        self._check_bucket()
        return DeltaTable.is_deltatable(
            self._filepath, storage_options=self._storage_options or None
        )

    def _spark_table_exists(self) -> bool:
        try:
            get_spark().read.format("delta").load(self._filepath).schema  # noqa: B018
        except Exception:  # an AnalysisException when there is no table
            return False
        return True


def _arrow_schema(schema: StructType) -> pa.Schema:
    """The Arrow schema Spark writes for ``schema``, timestamps in UTC.

    ``to_arrow_schema`` is PySpark's own mapping; its signature moved between releases
    (Spark 3.5 and 4.0 always write UTC timestamps, 4.1 and later take ``timezone``), and
    Databricks runtimes carry 3.5 and 4.0.
    """
    if "timezone" in inspect.signature(to_arrow_schema).parameters:
        return to_arrow_schema(schema, timezone="UTC")
    return to_arrow_schema(schema)


def _is(t: pa.DataType, *kinds: str) -> bool:
    """Whether ``t`` is one of the Arrow ``kinds``; a kind this pyarrow does not know
    (the view types came in pyarrow 16; Databricks 16.4 LTS ships 15) is not it."""
    return any(getattr(pa.types, f"is_{kind}", lambda _t: False)(t) for kind in kinds)


def _same_delta_type(old: pa.DataType, new: pa.DataType) -> bool:
    """Compares Arrow types as Delta stores them (string vs large_string etc. are one)."""

    def norm(t: pa.DataType) -> str:
        if _is(t, "large_string", "string_view"):
            return "string"
        if _is(t, "large_binary", "binary_view"):
            return "binary"
        if pa.types.is_timestamp(t):
            return f"timestamp[{'tz' if t.tz else 'ntz'}]"
        if _is(t, "large_list", "list", "list_view"):
            return f"list<{norm(t.value_type)}>"
        return str(t)

    return norm(old) == norm(new)
