"""spark_session: frames persisted for a run are released, and only those."""

from __future__ import annotations

import os

from recsys_kedro import spark_session


def test_release_unpersists_only_what_the_run_persisted(spark):
    mine = spark_session.persist_for_run(spark.range(10))
    theirs = spark.range(5).cache()
    assert mine.count() == 10 and theirs.count() == 5
    assert mine.is_cached and theirs.is_cached

    assert spark_session.release_persisted() == 1
    assert not mine.is_cached
    assert theirs.is_cached
    assert spark_session.release_persisted() == 0
    theirs.unpersist()


def test_parallelism_without_a_spark_context(spark):
    """Spark Connect has no SparkContext: the parallelism comes from the master."""
    assert spark_session.default_parallelism(spark) == (
        spark.sparkContext.defaultParallelism
    )
    assert not spark_session.is_connect(spark)
    assert spark_session.local_cores("local") == 1
    assert spark_session.local_cores("local[3]") == 3
    assert spark_session.local_cores("local[4,2]") == 4
    assert spark_session.local_cores("local[*]") == os.cpu_count()
    assert spark_session.local_cores("spark://host:7077") is None
