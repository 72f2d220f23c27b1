"""Deployment helpers that read the project itself: the Unity Catalog grants each table
needs (from the databricks catalog) and the order of the job's tasks (from the
pipelines' inputs and outputs)."""

from recsys_kedro.deploy.grants import grant_statements
from recsys_kedro.deploy.jobs import pipeline_dependencies

__all__ = ["grant_statements", "pipeline_dependencies"]
