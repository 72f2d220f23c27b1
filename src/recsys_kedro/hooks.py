"""Project hooks."""

from __future__ import annotations

from kedro.framework.context import KedroContext
from kedro.framework.hooks import hook_impl

from recsys_kedro import spark_session


class SparkHooks:
    """Hands the environment's ``spark.yml`` to the lazily created SparkSession."""

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        """Reads ``spark*.yml`` of the run's environment; the session starts on first use.

        Starting Spark takes about 20 s, so commands that never touch a Spark dataset
        (``kedro catalog``, ``kedro viz``) do not pay for it.
        """
        spark_session.configure(dict(context.config_loader["spark"]))
