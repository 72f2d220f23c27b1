"""Raw CSV files as published, read by Spark as strings, nothing inferred, nothing dropped.

kedro-datasets' ``spark.SparkDataset`` reads one path with one schema; the raw layer here
is a folder of monthly files whose headers must each be checked against the expected
columns (with a per-export column mapping from parameters), and rows with the wrong field
count must be kept with their raw text. So this dataset hands the node a
:class:`RawCsvFiles`: the Spark frame (every column a string, as in the file's header,
plus ``source_file`` and ``_corrupt_record``) and each file's header. Parsing, checks and
quarantine happen in the pipeline's nodes, where parameters reach them.

Nothing in the folder is passed over in silence: a file matching ``pattern`` is read, as
it is or compressed with gzip or bzip2 (``2019-Oct.csv.gz``: Spark's own codecs, picked
by the extension); a file matching ``ignore`` (another dataset's files in a shared folder)
is listed as not read; any other file stops the run with its name and why.
"""

from __future__ import annotations

import csv
import fnmatch
import io
import logging
from dataclasses import dataclass, field
from typing import Any

import fsspec
from kedro.io.core import AbstractDataset, DatasetError
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from recsys_kedro.datasets import object_store
from recsys_kedro.spark_session import get_spark

logger = logging.getLogger(__name__)

CORRUPT_RECORD = "_corrupt_record"
# With CSV column pruning on (Spark's default) a row with the wrong field count is not
# flagged in _corrupt_record when only some columns are read: it would pass as clean.
_CSV_PRUNING = "spark.sql.csv.parser.columnPruning.enabled"
SOURCE_FILE = "source_file"
# Compression Spark reads by file extension (Hadoop's codecs for gzip and bzip2).
COMPRESSED = (".gz", ".bz2")
# Extensions of archives or codecs Spark does not read as CSV text, with the way out.
_UNREADABLE = {
    ".zip": "a zip archive, which Spark cannot read: unzip it, or recompress it as .gz",
    ".xz": "xz-compressed, which Spark cannot read: recompress it as .gz or .bz2",
    ".zst": "zstd-compressed, which needs native Hadoop libraries: recompress as .gz",
    ".7z": "a 7-Zip archive, which Spark cannot read: extract it",
    ".tar": "a tar archive, which Spark cannot read: extract it",
    ".tgz": "a tar archive, which Spark cannot read: extract it",
    ".lz4": "lz4-compressed, which needs native Hadoop libraries: recompress as .gz",
    ".snappy": "snappy-compressed, which needs native libraries: recompress as .gz",
}


class RawFolderError(DatasetError):
    """A raw folder holds files the dataset would not read."""


@dataclass(frozen=True)
class RawCsvFiles:
    """What a raw CSV folder holds.

    Attributes:
        path: The folder or file that was read.
        headers: File name -> its header's column names, in file order (the files
            read).
        frame: All rows of all files as strings, with ``source_file`` (the file name)
            and ``_corrupt_record`` (the raw line of a row whose field count is
            wrong, else null). ``None`` when an optional source is absent.
        not_read: File name -> why it was not read (it matched ``ignore``): the rest
            of the folder, so ``len(headers) + len(not_read)`` is its file count.
        multiline: Whether quoted fields were allowed to span lines.
    """

    path: str
    headers: dict[str, list[str]] = field(default_factory=dict)
    frame: DataFrame | None = None
    not_read: dict[str, str] = field(default_factory=dict)
    multiline: bool = False

    @property
    def is_empty(self) -> bool:
        """True when no file was found (only possible for an optional source)."""
        return not self.headers


class RawCsvDataset(AbstractDataset[None, RawCsvFiles]):
    """Reads a folder (or one file) of raw CSV files; read-only.

    Example catalog entry::

        events_raw:
          type: recsys_kedro.datasets.RawCsvDataset
          path: ${runtime_params:raw_dir,data/01_raw}/events
          pattern: "*.csv"          # *.csv.gz and *.csv.bz2 are read too
          layout: "events/*.csv: monthly files of the cosmetics-shop event logs"
    """

    def __init__(  # noqa: PLR0913 - one keyword per catalog option
        self,
        *,
        path: str,
        pattern: str = "*.csv",
        ignore: list[str] | None = None,
        required: bool = True,
        multiline: bool = False,
        encoding: str = "UTF-8",
        layout: str = "",
        storage_options: dict[str, Any] | None = None,
        credentials: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Creates the dataset.

        Args:
            path: A folder of CSV files, or one CSV file.
            pattern: Glob of the file names to read inside a folder; the same names
                ending in ``.gz`` or ``.bz2`` are read too (decompressed by Spark).
            ignore: Globs of files in the folder that this dataset does not read
                (another dataset's files, a README); they are listed as not read. Any
                file matching neither ``pattern`` nor ``ignore`` stops the run.
            required: When true a missing folder, file or empty match stops the run;
                when false it loads as an empty :class:`RawCsvFiles`.
            multiline: Quoted fields may hold line breaks (review text). Such files
                are read whole by one task each; keep it off for the large event logs.
            encoding: Text encoding of the files.
            layout: The expected layout, quoted in the error a user sees when the
                files are missing.
            storage_options: fsspec options for listing the files; for ``s3://``
                paths, delta-rs-style ``AWS_*`` options (see
                :mod:`recsys_kedro.datasets.object_store`).
            credentials: Merged into ``storage_options`` (from ``credentials.yml``).
            metadata: Free-form metadata (kedro-viz reads ``kedro-viz.layer``).
        """
        self._path = str(path).rstrip("/")
        self._pattern = pattern
        self._ignore = list(ignore or [])
        self._required = required
        self._multiline = multiline
        self._encoding = encoding
        self._layout = layout
        self._storage_options = {**(storage_options or {}), **(credentials or {})}
        self._s3 = object_store.is_s3(self._path)
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {
            "path": self._path,
            "pattern": self._pattern,
            "ignore": self._ignore,
            "required": self._required,
            "multiline": self._multiline,
        }

    def _save(self, data: None) -> None:
        raise DatasetError(f"'{self._path}' is raw input: this project never writes it")

    def _exists(self) -> bool:
        return bool(self._list_files())

    def _path_exists(self) -> bool:
        if self._s3:
            options = object_store.resolve_options(self._storage_options)
            return object_store.exists(self._path, options)
        fs, root = fsspec.core.url_to_fs(self._path, **self._storage_options)
        return fs.exists(root)

    def _missing(self, what: str) -> RawCsvFiles:
        if self._required:
            raise DatasetError(
                f"{what}. Expected layout: {self._layout or self._pattern}. "
                "Put the files there, or point the run at another raw folder with "
                "`kedro run --params=raw_dir=/path/to/folder`."
            )
        logger.warning("%s: this optional input is treated as empty.", what)
        return RawCsvFiles(path=self._path)

    def _list_files(self) -> list[str]:
        return self._folder()[0]

    def _folder(self) -> tuple[list[str], dict[str, str], dict[str, str]]:
        """The files to read, the files not read (matching ``ignore``) and the files
        this dataset cannot account for, each with why."""
        if self._s3:
            options = object_store.resolve_options(self._storage_options)
            paths = object_store.list_files(self._path, "*", options)
            if paths == [self._path]:
                return paths, {}, {}
        else:
            fs, root = fsspec.core.url_to_fs(self._path, **self._storage_options)
            if fs.isfile(root):
                return [self._path], {}, {}
            if not fs.isdir(root):
                return [], {}, {}
            paths = [
                f"{self._path}/{_file_name(entry['name'])}"
                for entry in fs.ls(root, detail=True)
                if entry["type"] == "file"
            ]
        read, ignored, refused = [], {}, {}
        for path in sorted(paths):
            name = _file_name(path)
            if _matches(name, self._pattern):
                read.append(path)
            elif any(_matches(name, glob) for glob in self._ignore):
                ignored[name] = "another dataset's file (matches `ignore`)"
            else:
                refused[name] = self._why_not(name)
        return read, ignored, refused

    def _why_not(self, name: str) -> str:
        for extension, why in _UNREADABLE.items():
            if name.lower().endswith(extension):
                return why
        if name.startswith("."):
            return "a hidden file that matches no pattern"
        return f"matches neither '{self._pattern}' (or its .gz/.bz2) nor `ignore`"

    def _read_header(self, path: str) -> list[str]:
        if self._s3:
            options = object_store.resolve_options(self._storage_options)
            line = object_store.read_first_line(path, options)
        else:
            with fsspec.open(
                path, "rb", compression="infer", **self._storage_options
            ) as handle:  # only the first line is read (decompressed if need be)
                line = handle.readline()
        # Spark ends a line at \n, \r\n or a lone \r; so does the header here.
        line = line.split(b"\r", 1)[0]
        try:
            first = line.decode(self._encoding).lstrip("\ufeff")
        except UnicodeDecodeError as exc:
            raise DatasetError(
                f"Raw file '{_file_name(path)}' in '{self._path}': its header line is "
                f"not valid {self._encoding} ({exc.reason} at byte {exc.start}). Save "
                "the file as UTF-8, or set `encoding` on the catalog entry."
            ) from exc
        return next(csv.reader(io.StringIO(first)), [])

    def _load(self) -> RawCsvFiles:
        if not self._path_exists():
            return self._missing(f"Raw input '{self._path}' does not exist")
        files, ignored, refused = self._folder()
        if refused:
            raise RawFolderError(
                f"Raw folder '{self._path}' holds file(s) this run would not read: "
                + "; ".join(f"'{name}': {why}" for name, why in refused.items())
                + f". Files read here match '{self._pattern}' (also compressed as .gz "
                "or .bz2). Remove or convert them, or name them in the catalog "
                "entry's `ignore` to leave them out on purpose."
            )
        if not files:
            return self._missing(
                f"Raw input folder '{self._path}' holds no file matching "
                f"'{self._pattern}'"
            )
        headers = {_file_name(f): self._read_header(f) for f in files}
        empty = [name for name, cols in headers.items() if not cols]
        if empty:
            raise DatasetError(
                f"Raw file(s) {empty} in '{self._path}' are empty: no header line. "
                f"Expected layout: {self._layout or self._pattern}."
            )
        by_header: dict[tuple[str, ...], list[str]] = {}
        for path in files:
            by_header.setdefault(tuple(headers[_file_name(path)]), []).append(path)

        spark = get_spark()
        if self._s3:
            options = object_store.resolve_options(self._storage_options)
            readable, _ = object_store.for_spark(files, options, spark, self._path)
            by_path = dict(zip(files, readable, strict=True))
            by_header = {h: [by_path[p] for p in ps] for h, ps in by_header.items()}
        # A runtime SQL setting, so it holds on a session we did not create (Databricks).
        spark.conf.set(_CSV_PRUNING, "false")
        frames = []
        for header, paths in by_header.items():
            schema = T.StructType(
                [T.StructField(name, T.StringType()) for name in _unique(header)]
                + [T.StructField(CORRUPT_RECORD, T.StringType())]
            )
            frame = spark.read.csv(
                paths,
                schema=schema,
                header=True,
                enforceSchema=True,
                mode="PERMISSIVE",
                columnNameOfCorruptRecord=CORRUPT_RECORD,
                multiLine=self._multiline,
                escape='"',
                encoding=self._encoding,
            ).withColumn(SOURCE_FILE, F.col("_metadata.file_name"))
            frames.append(frame)
        result = frames[0]
        for frame in frames[1:]:
            result = result.unionByName(frame, allowMissingColumns=True)
        logger.info(
            "Reading %d raw file(s) from %s%s",
            len(files),
            self._path,
            f" ({len(ignored)} other file(s) left to other datasets)"
            if ignored
            else "",
        )
        return RawCsvFiles(
            path=self._path,
            headers=headers,
            frame=result,
            not_read=ignored,
            multiline=self._multiline,
        )


def _file_name(path: str) -> str:
    """The last component of a local path or URI."""
    return str(path).rstrip("/").rsplit("/", 1)[-1]


def _matches(name: str, pattern: str) -> bool:
    """Whether a file name matches the glob as it is or with a compression extension."""
    return any(fnmatch.fnmatch(name, pattern + suffix) for suffix in ("", *COMPRESSED))


def _unique(names: tuple[str, ...]) -> list[str]:
    """Makes duplicate header names unique (``a``, ``a__2``) so Spark can address them;
    the node still reports the duplicate against the expected columns."""
    seen: dict[str, int] = {}
    result = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        result.append(name if seen[name] == 1 else f"{name}__{seen[name]}")
    return result
