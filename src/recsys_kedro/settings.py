"""Project settings: hooks, configuration loader and its file patterns."""

from recsys_kedro.config_loader import ProjectConfigLoader
from recsys_kedro.hooks import (
    EvaluationWindowHooks,
    NodeTimingHooks,
    ParameterHooks,
    RunLockHooks,
    SparkHooks,
)

HOOKS = (
    RunLockHooks(),
    SparkHooks(),
    ParameterHooks(),
    EvaluationWindowHooks(),
    NodeTimingHooks(),
)

CONFIG_LOADER_CLASS = ProjectConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    "config_patterns": {
        "spark": ["spark*", "spark*/**"],
        "mlflow": ["mlflow*", "mlflow*/**"],
        "parameters": ["parameters*", "parameters*/**", "**/parameters*"],
    },
}
