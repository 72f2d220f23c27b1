"""Unity Catalog ``GRANT`` statements generated from the ``databricks`` catalog.

Two principals: the job's (it writes every managed table, the volume and the registered
models) and the readers of the recommendations (they read the tables of the
``model_output`` layer and may run the registered models). Table access itself is
enforced by Unity Catalog; this only writes the statements an admin runs.

A grant on a table or a model fails until it exists, so the statements come in two
phases: ``setup`` (catalog, schema and volume privileges, which the job needs to create
anything) before the first run, and ``after_first_run`` (each table and model) once the
job has written them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

Phase = Literal["setup", "after_first_run", "all"]
PHASES: tuple[str, ...] = ("setup", "after_first_run", "all")

TABLE_TYPE = "recsys_kedro.datasets.SparkTableDataset"
MODEL_TYPES = {
    "recsys_kedro.datasets.MlflowRecommenderModelDataset": "registered_model_name",
    "recsys_kedro.datasets.MlflowSessionModelDataset": "registered_model_name",
    "recsys_kedro.datasets.MlflowSparkModelDataset": "save_args.registered_model_name",
}
READER_LAYERS = ("model_output",)


def _layer(entry: Mapping[str, Any]) -> str | None:
    return ((entry.get("metadata") or {}).get("kedro-viz") or {}).get("layer")


def _get(entry: Mapping[str, Any], dotted: str) -> Any:
    value: Any = entry
    for part in dotted.split("."):
        value = (value or {}).get(part)
    return value


def _quote(name: str) -> str:
    return ".".join(f"`{part}`" for part in name.split("."))


def grant_statements(
    catalog_config: Mapping[str, Mapping[str, Any]],
    uc: Mapping[str, str],
    writer: str,
    readers: str,
    phase: Phase = "all",
) -> list[str]:
    """The statements, in the order an admin runs them.

    Args:
        catalog_config: The ``databricks`` catalog configuration of every dataset the
            pipelines use, dataset factories resolved (dataset name -> entry).
        uc: ``catalog``, ``schema`` and ``volume`` (globals ``uc``).
        writer: The job's principal (a service principal or group).
        readers: The group that reads the recommendations.
        phase: ``setup`` (before the first run: usage on the catalog and schema for
            both, table and model creation and the volume for the job),
            ``after_first_run`` (table writes for the job, ``SELECT`` on the
            ``model_output`` tables and ``EXECUTE`` on the registered models for the
            readers) or ``all`` (both, in that order).

    Returns:
        ``GRANT`` statements.

    Raises:
        ValueError: An unknown phase.
    """
    if phase not in PHASES:
        raise ValueError(f"phase must be one of {PHASES}, not {phase!r}")
    schema = f"{uc['catalog']}.{uc['schema']}"
    volume = f"{schema}.{uc['volume']}"
    tables: dict[str, str | None] = {}
    models: list[str] = []
    for entry in catalog_config.values():
        if entry.get("type") == TABLE_TYPE and _get(entry, "store.catalog"):
            store = entry["store"]
            full = f"{store['catalog']}.{store['schema']}.{entry['table']}"
            layer = _layer(entry)
            tables[full] = tables.get(full) or layer
        elif entry.get("type") in MODEL_TYPES:
            name = _get(entry, MODEL_TYPES[entry["type"]])
            if name:
                models.append(name)
    w, r = f"`{writer}`", f"`{readers}`"
    setup = [
        f"GRANT USE CATALOG ON CATALOG `{uc['catalog']}` TO {w};",
        f"GRANT USE SCHEMA, CREATE TABLE, CREATE MODEL ON SCHEMA {_quote(schema)} "
        f"TO {w};",
        f"GRANT READ VOLUME, WRITE VOLUME ON VOLUME {_quote(volume)} TO {w};",
        f"GRANT USE CATALOG ON CATALOG `{uc['catalog']}` TO {r};",
        f"GRANT USE SCHEMA ON SCHEMA {_quote(schema)} TO {r};",
    ]
    after = [
        f"GRANT SELECT, MODIFY ON TABLE {_quote(t)} TO {w};" for t in sorted(tables)
    ]
    after += [
        f"GRANT SELECT ON TABLE {_quote(t)} TO {r};"
        for t, layer in sorted(tables.items())
        if layer in READER_LAYERS
    ]
    after += [f"GRANT EXECUTE ON FUNCTION {_quote(m)} TO {r};" for m in sorted(models)]
    return {"setup": setup, "after_first_run": after, "all": setup + after}[phase]
