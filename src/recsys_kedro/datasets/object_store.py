"""S3 for the project's datasets: credentials, a clear error per bucket, and files that a
Spark session without an S3 filesystem can read.

delta-rs reads and writes ``s3://`` itself. Spark needs Hadoop's ``S3AFileSystem``
(``hadoop-aws`` and the AWS SDK jars), which pyspark does not ship and which cannot be
downloaded without Maven; Databricks and EMR have it. So a path's files are handed to
Spark as ``s3a://`` URIs where the session has S3A, and otherwise copied (streamed, file
by file, never decoded, each object version once) to a local staging folder that lives
as long as the process.
Written here because no installed library maps one set of options onto both delta-rs and
pyarrow's S3 filesystem and turns the client's errors into ones that name the bucket.

Options use delta-rs' names (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_SESSION_TOKEN``, ``AWS_REGION``, ``AWS_ENDPOINT_URL``, ``AWS_ALLOW_HTTP``); any of
them not given comes from the environment variable of the same name.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import os
import shutil
import uuid
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pyarrow.fs as pafs
from pyspark.sql import SparkSession

from recsys_kedro.datasets.staging import process_folder
from recsys_kedro.spark_session import is_connect

logger = logging.getLogger(__name__)

S3_SCHEMES = ("s3", "s3a")
OPTION_NAMES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ALLOW_HTTP",
)
_checked: set[tuple[str, str]] = set()


class StorageAccessError(OSError):
    """A bucket that does not exist, refuses the credentials, or cannot be reached."""


def is_s3(path: str) -> bool:
    """Whether ``path`` is an ``s3://`` (or ``s3a://``) URI."""
    return urlparse(str(path)).scheme in S3_SCHEMES


def split_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key/part`` -> ``("bucket", "key/part")``."""
    parsed = urlparse(uri)
    return parsed.netloc, parsed.path.lstrip("/")


def resolve_options(options: Mapping[str, Any] | None) -> dict[str, str]:
    """The given options (``None`` values dropped) over the environment's.

    Args:
        options: Storage options, e.g. a catalog entry's merged with its credentials.

    Returns:
        delta-rs storage options; ``AWS_ALLOW_HTTP`` is set for an ``http://``
        endpoint.
    """
    resolved = {k: os.environ[k] for k in OPTION_NAMES if os.environ.get(k)}
    resolved.update({k: str(v) for k, v in (options or {}).items() if v is not None})
    endpoint = resolved.get("AWS_ENDPOINT_URL", "")
    if endpoint.startswith("http://"):
        resolved.setdefault("AWS_ALLOW_HTTP", "true")
    return resolved


def filesystem(options: Mapping[str, str]) -> pafs.S3FileSystem:
    """pyarrow's S3 filesystem for the resolved options."""
    kwargs: dict[str, Any] = {}
    if options.get("AWS_ACCESS_KEY_ID"):
        kwargs["access_key"] = options["AWS_ACCESS_KEY_ID"]
        kwargs["secret_key"] = options.get("AWS_SECRET_ACCESS_KEY", "")
        if options.get("AWS_SESSION_TOKEN"):
            kwargs["session_token"] = options["AWS_SESSION_TOKEN"]
    if options.get("AWS_REGION"):
        kwargs["region"] = options["AWS_REGION"]
    endpoint = options.get("AWS_ENDPOINT_URL")
    if endpoint:
        parsed = urlparse(endpoint)
        kwargs["endpoint_override"] = parsed.netloc or parsed.path
        kwargs["scheme"] = parsed.scheme or "https"
    return pafs.S3FileSystem(**kwargs)


def check_bucket(uri: str, options: Mapping[str, str]) -> None:
    """Fails with a message naming the bucket when it is missing, refuses the
    credentials or cannot be reached; each bucket is checked once per process.

    Args:
        uri: Any ``s3://`` URI in the bucket.
        options: Resolved options.

    Raises:
        StorageAccessError: With what to do.
    """
    bucket, _ = split_uri(uri)
    endpoint = options.get("AWS_ENDPOINT_URL", "AWS")
    key = (endpoint, bucket)
    if key in _checked:
        return
    where = f"S3 bucket '{bucket}' (endpoint {endpoint}, for {uri})"
    try:
        info = filesystem(options).get_file_info(bucket)
    except OSError as exc:
        message = str(exc)
        if any(
            code in message
            for code in (
                "ACCESS_DENIED",
                "INVALID_ACCESS_KEY_ID",
                "SIGNATURE_DOES_NOT_MATCH",
                "403",
                "AccessDenied",
            )
        ):
            raise StorageAccessError(
                f"{where} refused the credentials. Give a valid key in "
                "conf/local/credentials.yml under 's3' (AWS_ACCESS_KEY_ID, "
                "AWS_SECRET_ACCESS_KEY) or in the AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY environment variables."
            ) from None
        raise StorageAccessError(f"{where} cannot be reached: {message}") from None
    if info.type == pafs.FileType.NotFound:
        raise StorageAccessError(
            f"{where} does not exist. Create it, or run with "
            "--params=data_root=s3://<bucket>/<prefix>/data for another one."
        )
    _checked.add(key)


def list_files(uri: str, pattern: str, options: Mapping[str, str]) -> list[str]:
    """The object URIs directly under ``uri`` whose names match ``pattern``, sorted; or
    ``[uri]`` when it is one object.

    Args:
        uri: A folder (prefix) or object.
        pattern: A file-name glob.
        options: Resolved options.

    Returns:
        ``s3://`` URIs; empty when nothing is there.
    """
    check_bucket(uri, options)
    fs = filesystem(options)
    bucket, key = split_uri(uri)
    path = f"{bucket}/{key}".rstrip("/")
    info = fs.get_file_info(path)
    if info.type == pafs.FileType.File:
        return [f"s3://{path}"]
    if info.type == pafs.FileType.NotFound:
        return []
    entries = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
    return sorted(
        f"s3://{e.path}"
        for e in entries
        if e.type == pafs.FileType.File and fnmatch.fnmatch(e.base_name, pattern)
    )


def read_first_line(uri: str, options: Mapping[str, str]) -> bytes:
    """The first line of an object (reads a few KB, not the file), decompressed when
    its name ends in ``.gz`` or ``.bz2``."""
    bucket, key = split_uri(uri)
    with filesystem(options).open_input_stream(
        f"{bucket}/{key}", compression="detect"
    ) as stream:
        head = b""
        while b"\n" not in head:
            chunk = stream.read(64 * 1024)
            if not chunk:
                break
            head += chunk
    return head.split(b"\n", 1)[0] + b"\n"


def exists(uri: str, options: Mapping[str, str]) -> bool:
    """Whether an object or a prefix with objects exists at ``uri``."""
    check_bucket(uri, options)
    bucket, key = split_uri(uri)
    fs = filesystem(options)
    info = fs.get_file_info(f"{bucket}/{key}".rstrip("/"))
    return info.type != pafs.FileType.NotFound


@cache
def spark_has_s3a(spark: SparkSession) -> bool:
    """Whether the session's JVM has Hadoop's S3A filesystem (never asked of a Spark
    Connect session, which has no JVM beside the driver: objects are staged there)."""
    if is_connect(spark):
        return False
    try:
        jvm = spark.sparkContext._jvm  # noqa: SLF001 - no public API for this
        jvm.java.lang.Class.forName("org.apache.hadoop.fs.s3a.S3AFileSystem")
    except Exception:  # noqa: BLE001 - a Py4J error: no such class
        return False
    return True


def s3a_settings(bucket: str, options: Mapping[str, str]) -> dict[str, str]:
    """Hadoop S3A settings for one bucket from the dataset's options.

    Per bucket (``fs.s3a.bucket.<bucket>.*``), so two buckets with different
    credentials work side by side. Without an access key nothing is set: S3A then uses
    what the cluster has (an instance profile, or a Unity Catalog external location).

    Args:
        bucket: The bucket.
        options: Resolved options (:func:`resolve_options`).

    Returns:
        Setting -> value (empty without an access key).
    """
    if not options.get("AWS_ACCESS_KEY_ID"):
        return {}
    prefix = f"fs.s3a.bucket.{bucket}."
    out = {
        prefix + "access.key": options["AWS_ACCESS_KEY_ID"],
        prefix + "secret.key": options.get("AWS_SECRET_ACCESS_KEY", ""),
    }
    if options.get("AWS_SESSION_TOKEN"):
        out[prefix + "session.token"] = options["AWS_SESSION_TOKEN"]
        out[prefix + "aws.credentials.provider"] = (
            "org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider"
        )
    if options.get("AWS_ENDPOINT_URL"):  # an S3-compatible server: path-style URLs
        out[prefix + "endpoint"] = options["AWS_ENDPOINT_URL"]
        out[prefix + "path.style.access"] = "true"
    if options.get("AWS_REGION"):
        out[prefix + "endpoint.region"] = options["AWS_REGION"]
    if str(options.get("AWS_ALLOW_HTTP", "")).lower() == "true":
        out[prefix + "connection.ssl.enabled"] = "false"
    return out


def configure_s3a(spark: SparkSession, uri: str, options: Mapping[str, str]) -> int:
    """Hands the options of ``uri``'s bucket to the session's S3A reads.

    Session settings reach the Hadoop configuration of every read the session plans,
    and Spark redacts keys named like secrets, keys and tokens in its UI and logs.

    Args:
        spark: The session (one with S3A).
        uri: An object or folder URI of the bucket.
        options: Resolved options.

    Returns:
        How many settings were set (0: the cluster's own credentials are used).
    """
    bucket, _ = split_uri(uri)
    settings = s3a_settings(bucket, options)
    for key, value in settings.items():
        spark.conf.set(key, value)
    if not settings:
        logger.info(
            "s3a://%s: no access key in the dataset's credentials, so Spark uses the "
            "cluster's (instance profile or Unity Catalog external location)",
            bucket,
        )
    return len(settings)


def for_spark(
    uris: list[str], options: Mapping[str, str], spark: SparkSession, base: str
) -> tuple[list[str], str]:
    """Paths Spark can read for these objects: ``s3a://`` where the session has S3A
    (with the options' credentials handed to S3A, :func:`configure_s3a`), else local
    copies under a staging folder (relative paths below ``base`` kept, so
    partition folders survive).

    Each object is downloaded once per process and version (its size and last-modified
    time): a table read by several nodes, or a Delta table's unchanged files after an
    append, are not fetched again. Every call still gets a folder of its own, made of
    hard links to the downloaded files, so a lazy frame from an earlier load keeps
    reading what it was given even after the object changes. An object rewritten with
    the same size within S3's one-second timestamp is taken as unchanged.

    Args:
        uris: ``s3://`` object URIs, all below ``base``.
        options: Resolved options.
        spark: The session.
        base: Their common folder URI (a Delta table's root).

    Returns:
        The paths and the base path, in the same form.

    Raises:
        StorageAccessError: An object was removed between listing and reading.
    """
    if spark_has_s3a(spark):
        configure_s3a(spark, base, options)
        to_s3a = [("s3a://" + u.split("://", 1)[1]) for u in uris]
        return to_s3a, "s3a://" + base.split("://", 1)[1]
    fs = filesystem(options)
    endpoint = options.get("AWS_ENDPOINT_URL", "AWS")
    root = _staging_root() / "loads" / uuid.uuid4().hex
    infos = fs.get_file_info(["/".join(split_uri(u)) for u in uris])
    local = []
    fetched = 0
    prefix = base.rstrip("/") + "/"
    for uri, info in zip(uris, infos, strict=True):
        if info.type != pafs.FileType.File:
            raise StorageAccessError(
                f"{uri} is no longer there: it was listed but removed before it was "
                "read. Rerun once whatever rewrites it has finished."
            )
        stored, downloaded = _download_once(fs, uri, info, endpoint)
        fetched += downloaded
        relative = (
            uri[len(prefix) :] if uri.startswith(prefix) else uri.rsplit("/", 1)[1]
        )
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(stored, target)
        local.append(str(target))
    logger.info(
        "Staged %d object(s) from %s for Spark (no S3A): %d downloaded, %d already "
        "here",
        len(uris),
        base,
        fetched,
        len(uris) - fetched,
    )
    return local, str(root)


def _download_once(
    fs: pafs.S3FileSystem, uri: str, info: pafs.FileInfo, endpoint: str
) -> tuple[Path, bool]:
    """The local copy of this version of the object, and whether it was fetched now.

    An object without a last-modified time is fetched every time.
    """
    store = _staging_root() / "objects"
    store.mkdir(exist_ok=True)
    version = None if info.mtime_ns is None else f"{info.size}:{info.mtime_ns}"
    name = hashlib.sha256(f"{endpoint}\0{uri}\0{version}".encode()).hexdigest()
    stored = store / name
    if version is not None and stored.exists():
        return stored, False
    partial = store / f"{name}.{uuid.uuid4().hex}.part"
    bucket, key = split_uri(uri)
    with fs.open_input_stream(f"{bucket}/{key}") as source, open(partial, "wb") as sink:
        shutil.copyfileobj(source, sink, length=8 * 1024 * 1024)
    if version is None:
        stored = store / f"{name}.{uuid.uuid4().hex}"
    partial.replace(stored)
    return stored, True


@cache
def _staging_root() -> Path:
    """One folder per process, removed when it exits (or by a later run)."""
    return process_folder("s3-objects")
