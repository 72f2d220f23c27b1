"""Recommendation maths and checks that more than one pipeline uses, with no Kedro in them.

- :mod:`~recsys_kedro.recommend.scoring`: ranking from neighbour lists and popularity
  (numpy/pandas; the cf model serves with it, fpgrowth's cross-sell evaluation scores
  with it);
- :mod:`~recsys_kedro.recommend.quality`: the output rules every recommendation table
  must meet (Spark);
- :mod:`~recsys_kedro.recommend.cf_model`: the cf pyfunc model MLflow serves;
- :mod:`~recsys_kedro.recommend.levels`: the engagement levels of event types.

Nothing is imported here, so the served model does not pull in Spark.
"""
