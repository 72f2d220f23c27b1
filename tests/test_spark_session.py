"""spark_session: frames persisted for a run are released, and only those."""

from __future__ import annotations

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
