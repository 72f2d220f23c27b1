"""``python -m recsys_kedro.deploy grants --phase setup|after_first_run``: prints the
Unity Catalog grants of the ``databricks`` environment (the first phase before the job's
first run, the second once its tables and models exist); ``python -m recsys_kedro.deploy order`` prints the pipelines'
dependencies (the job's task order)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from kedro.framework.project import pipelines
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from kedro.io.catalog_config_resolver import CatalogConfigResolver

from recsys_kedro.deploy import grant_statements, pipeline_dependencies
from recsys_kedro.deploy.grants import PHASES


def resolved_catalog(project: Path, env: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The catalog configuration of every dataset the pipelines use (dataset factory
    patterns resolved, ``params:`` and in-memory datasets left out) and the globals.

    Args:
        project: The project folder.
        env: The Kedro environment.

    Returns:
        Dataset name -> its configuration, and the environment's globals.
    """
    with KedroSession.create(project_path=project, env=env) as session:
        loader = session._get_config_loader()  # noqa: SLF001 - no public accessor
        resolver = CatalogConfigResolver(loader["catalog"], {})
        names = pipelines["__default__"].datasets()
        entries = {
            name: config
            for name in sorted(names)
            if not name.startswith("params:") and name != "parameters"
            if (config := resolver.resolve_pattern(name))
        }
        return entries, loader["globals"]


def main() -> None:
    """Parses the command line and writes the answer to stdout."""
    parser = argparse.ArgumentParser(prog="python -m recsys_kedro.deploy")
    parser.add_argument("what", choices=["grants", "order"])
    parser.add_argument("--env", default="databricks")
    parser.add_argument("--writer", default="recsys-kedro-job")
    parser.add_argument("--readers", default="recsys-readers")
    parser.add_argument(
        "--phase",
        choices=PHASES,
        default="all",
        help="setup: before the first run; after_first_run: once the tables and "
        "models exist (a grant on a missing one fails); all: both",
    )
    parser.add_argument("--project", default=".")
    args = parser.parse_args()
    project = Path(args.project).resolve()
    bootstrap_project(project)
    if args.what == "order":
        for name, after in sorted(pipeline_dependencies(pipelines).items()):
            sys.stdout.write(f"{name}: after {', '.join(sorted(after)) or '-'}\n")
        return
    entries, globals_ = resolved_catalog(project, args.env)
    statements = grant_statements(
        entries, globals_["uc"], args.writer, args.readers, args.phase
    )
    sys.stdout.write("\n".join(statements) + "\n")


if __name__ == "__main__":
    main()
