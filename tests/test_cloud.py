"""`kedro run --env=cloud` against a real S3-compatible server on 127.0.0.1 (moto's, with
credential checks on): raw files uploaded to a bucket, data_processing and cf run, the
Delta tables read back from the bucket; wrong credentials and a missing bucket."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import boto3
import pytest
import yaml
from deltalake import DeltaTable

from recsys_kedro.datasets import object_store
from recsys_kedro.sample_data import SampleConfig, generate
from tests.test_run import _kedro

pytestmark = pytest.mark.slow
REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def s3_server():
    """moto's server on loopback; every request after the first four (which create a
    user, its policy and its key) must carry valid credentials."""
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env={**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "3"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        # moto accepts any key for the first three requests; the real key is minted here
        boot = {"aws_access_key_id": "unchecked", "aws_secret_access_key": "unchecked"}
        iam = boto3.client("iam", endpoint_url=endpoint, region_name=REGION, **boot)
        iam.create_user(UserName="pipeline")
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
        }
        iam.put_user_policy(
            UserName="pipeline", PolicyName="s3", PolicyDocument=json.dumps(policy)
        )
        key = iam.create_access_key(UserName="pipeline")["AccessKey"]
        yield endpoint, key["AccessKeyId"], key["SecretAccessKey"]
    finally:
        server.terminate()
        server.wait(timeout=30)


def _s3(endpoint: str, key_id: str, secret: str):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
    )


def test_kedro_run_on_s3(project: Path, s3_server, tmp_path: Path):
    endpoint, key_id, secret = s3_server
    s3 = _s3(endpoint, key_id, secret)
    s3.create_bucket(Bucket="lake")
    raw = tmp_path / "raw"
    generate(SampleConfig(events=20_000, seed=3), raw)
    for path in sorted(p for p in raw.rglob("*") if p.is_file()):
        key = f"shop/data/01_raw/{path.relative_to(raw).as_posix()}"
        s3.upload_file(str(path), "lake", key)
    # The key from conf/local/credentials.yml, the endpoint from the environment.
    (project / "conf" / "local" / "credentials.yml").write_text(
        yaml.safe_dump(
            {"s3": {"AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret}}
        )
    )
    env = {"AWS_ENDPOINT_URL": endpoint, "AWS_REGION": REGION}
    result = _cloud(
        project,
        env,
        "run",
        "--env=cloud",
        "--pipelines=data_processing,cf",
        "--params=data_root=s3://lake/shop/data",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    options = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": key_id,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_ALLOW_HTTP": "true",
    }
    root = "s3://lake/shop/data"

    def table(path: str):
        return DeltaTable(f"{root}/{path}", storage_options=options).to_pandas()

    clean = table("02_intermediate/events_clean")
    rejected = table("02_intermediate/events_rejected")
    assert len(clean) + len(rejected) == 20_000
    recs = table("07_model_output/product_recommendations_long")
    assert len(recs) > 0 and set(recs["product_id"]) <= set(clean["product_id"])
    listed = s3.list_objects_v2(Bucket="lake", Prefix="shop/data/")["KeyCount"]
    assert listed > 20
    assert not (project / "data" / "02_intermediate" / "events_clean").exists()


def test_wrong_credentials_and_a_missing_bucket_name_the_bucket(
    project: Path, s3_server
):
    endpoint, key_id, secret = s3_server
    _s3(endpoint, key_id, secret).create_bucket(Bucket="guarded")
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": REGION,
        # made up per run: no key-shaped literal in the repository
        "AWS_ACCESS_KEY_ID": f"unknown-{uuid.uuid4().hex[:12]}",
        "AWS_SECRET_ACCESS_KEY": uuid.uuid4().hex,
    }
    args = ("run", "--env=cloud", "--pipeline=data_processing")
    wrong = _cloud(project, env, *args, "--params=data_root=s3://guarded/shop/data")
    assert wrong.returncode != 0
    output = " ".join((wrong.stdout + wrong.stderr).split())
    assert "S3 bucket 'guarded'" in output, output[-3000:]
    assert "refused the credentials" in output

    env.update(AWS_ACCESS_KEY_ID=key_id, AWS_SECRET_ACCESS_KEY=secret)
    missing = _cloud(
        project, env, *args, "--params=data_root=s3://no-such-bucket/shop/data"
    )
    assert missing.returncode != 0
    output = " ".join((missing.stdout + missing.stderr).split())
    assert "S3 bucket 'no-such-bucket'" in output, output[-3000:]
    assert "does not exist" in output


def test_staging_downloads_each_object_version_once(s3_server, spark):
    """Without S3A, loads get local copies: an unchanged object is not fetched again,
    a rewritten one is, and an earlier load's files keep their content."""
    endpoint, key_id, secret = s3_server
    s3 = _s3(endpoint, key_id, secret)
    s3.create_bucket(Bucket="stage")
    s3.put_object(Bucket="stage", Key="t/day=1/part-0.csv", Body=b"a,b\n1,2\n")
    options = object_store.resolve_options(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": key_id,
            "AWS_SECRET_ACCESS_KEY": secret,
        }
    )
    assert not object_store.spark_has_s3a(spark)  # pyspark ships no hadoop-aws
    uri = "s3://stage/t/day=1/part-0.csv"

    def load() -> tuple[Path, Path]:
        paths, base = object_store.for_spark([uri], options, spark, "s3://stage/t")
        return Path(paths[0]), Path(base)

    first, first_base = load()
    second, second_base = load()
    assert first.relative_to(first_base).as_posix() == "day=1/part-0.csv"
    assert first_base != second_base  # a folder per load
    assert first.stat().st_ino == second.stat().st_ino  # one download
    assert second.read_bytes() == b"a,b\n1,2\n"

    s3.put_object(Bucket="stage", Key="t/day=1/part-0.csv", Body=b"a,b\n3,4\n5,6\n")
    third, _ = load()
    assert third.read_bytes() == b"a,b\n3,4\n5,6\n"
    assert first.read_bytes() == b"a,b\n1,2\n"

    s3.delete_object(Bucket="stage", Key="t/day=1/part-0.csv")
    with pytest.raises(object_store.StorageAccessError, match="no longer there"):
        load()


def _cloud(project: Path, env: dict[str, str], *args: str):
    return _kedro(project, *args, aws_env=env)


def test_s3a_gets_the_bucket_s_credentials_where_spark_has_s3a(spark):
    """On a cluster with S3A (Databricks, EMR), the cloud env's credentials reach Spark's
    S3A settings per bucket; without an access key the cluster's own are used. Spark
    here has no S3A (pyspark ships no hadoop-aws), so what can be checked on loopback is
    the mapping and that the session carries it."""
    options = object_store.resolve_options(
        {
            "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
            "AWS_SECRET_ACCESS_KEY": "not-a-secret",
            "AWS_SESSION_TOKEN": "token",
            "AWS_REGION": "eu-west-1",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
        }
    )
    prefix = "fs.s3a.bucket.shop-data."
    assert object_store.s3a_settings("shop-data", options) == {
        prefix + "access.key": "AKIDEXAMPLE",
        prefix + "secret.key": "not-a-secret",
        prefix + "session.token": "token",
        prefix + "aws.credentials.provider": (
            "org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider"
        ),
        prefix + "endpoint": "http://127.0.0.1:9000",
        prefix + "path.style.access": "true",
        prefix + "endpoint.region": "eu-west-1",
        prefix + "connection.ssl.enabled": "false",  # http:// endpoint
    }
    assert object_store.s3a_settings("shop-data", {"AWS_REGION": "eu-west-1"}) == {}
    set_ = object_store.configure_s3a(spark, "s3://shop-data/data/events", options)
    try:
        assert set_ == 8
        assert spark.conf.get(prefix + "access.key") == "AKIDEXAMPLE"
        assert spark.conf.get(prefix + "endpoint") == "http://127.0.0.1:9000"
    finally:
        for key in object_store.s3a_settings("shop-data", options):
            spark.conf.unset(key)
    assert not object_store.spark_has_s3a(spark)
