"""The cloud and databricks environments without a cloud: every catalog entry resolves
and instantiates, each table and file of base has its cloud and databricks counterpart,
the job's task order follows the pipelines' data, and the Unity Catalog grants."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from databricks.bundles.jobs import Job, JobRunAs
from kedro.config import MissingConfigException
from kedro.framework.project import pipelines
from kedro.framework.startup import bootstrap_project
from kedro.io import DataCatalog
from kedro_datasets.databricks import ManagedTableDataset

from recsys_kedro.config_loader import ProjectConfigLoader
from recsys_kedro.datasets import (
    ManagedCacheTableDataset,
    RawCsvDataset,
    SparkDeltaTableDataset,
    SparkTableDataset,
)
from recsys_kedro.deploy import grant_statements, pipeline_dependencies
from recsys_kedro.deploy.__main__ import resolved_catalog
from recsys_kedro.settings import CONFIG_LOADER_ARGS

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def datasets() -> list[str]:
    bootstrap_project(ROOT)
    every = set().union(*(p.datasets() for p in pipelines.values()))  # opt-in too
    return sorted(
        name
        for name in every
        if not name.startswith("params:") and name != "parameters"
    )


def _loader(env: str, **runtime_params) -> ProjectConfigLoader:
    return ProjectConfigLoader(
        conf_source=str(ROOT / "conf"),
        env=env,
        runtime_params=runtime_params or None,
        **CONFIG_LOADER_ARGS,
    )


def _catalog(env: str, **runtime_params) -> DataCatalog:
    """The environment's catalog through the Python API (no hooks: kedro-mlflow would
    contact the databricks tracking server when a context is created)."""
    loader = _loader(env, **runtime_params)
    try:
        credentials = loader["credentials"]
    except MissingConfigException:  # as KedroContext: no credentials file is fine
        credentials = {}
    return DataCatalog.from_config(loader["catalog"], credentials)


def _base_config() -> dict:
    config = {}
    for path in sorted((ROOT / "conf" / "base").glob("catalog*.yml")):
        config.update(yaml.safe_load(path.read_text()))
    return config


def test_every_cloud_entry_resolves_to_the_bucket(datasets):
    loader = _loader("cloud", data_root="s3://lake/shop/data")
    key = {"s3": {"AWS_ACCESS_KEY_ID": "key-from-credentials"}}
    catalog = DataCatalog.from_config(loader["catalog"], key)
    local = _catalog("local")
    for name in datasets:
        dataset = catalog.get(name)  # instantiates, resolving factories
        base = local.get(name)
        assert (dataset is None) == (base is None), name
        if isinstance(base, SparkTableDataset):
            assert isinstance(dataset.target, SparkDeltaTableDataset), name
            relative = base.location.removeprefix("data/")
            assert dataset.location == f"s3://lake/shop/data/{relative}", name
            # the 's3' credentials entry reaches every table and raw folder
            options = dataset.target._storage_options
            assert options["AWS_ACCESS_KEY_ID"] == "key-from-credentials", name
        elif isinstance(base, RawCsvDataset):
            options = dataset._storage_options
            assert options["AWS_ACCESS_KEY_ID"] == "key-from-credentials", name
            assert dataset._path.startswith("s3://lake/shop/data/01_raw/"), name
            assert dataset._path.endswith(base._path.split("01_raw", 1)[1]), name
        elif base is not None:  # reports, pictures and models stay where they were
            assert str(dataset._describe()) == str(base._describe()), name


def test_the_cloud_default_bucket_comes_from_globals(datasets):
    clean = _catalog("cloud").get("events_clean")
    assert (
        clean.location
        == "s3://recsys-kedro-data/shop/data/02_intermediate/events_clean"
    )


def test_a_data_root_moves_every_table_and_raw_folder_locally(datasets, tmp_path):
    catalog = _catalog("local", data_root=str(tmp_path))
    moved = [catalog.get(name) for name in datasets]
    tables = [d for d in moved if isinstance(d, SparkTableDataset)]
    raw = [d for d in moved if isinstance(d, RawCsvDataset)]
    assert len(tables) > 20 and len(raw) == 4
    assert all(d.location.startswith(f"{tmp_path}/0") for d in tables)
    assert all(d._path.startswith(f"{tmp_path}/01_raw/") for d in raw)


def test_every_databricks_entry_is_a_managed_table_or_on_the_volume(datasets):
    catalog = _catalog("databricks")
    local = _catalog("local")
    volume = "/Volumes/main/recsys_kedro/recsys/"
    for name in datasets:
        dataset = catalog.get(name)
        base = local.get(name)
        if dataset is None:  # an in-memory dataset in every environment
            assert base is None, name
            continue
        if isinstance(base, SparkTableDataset):
            assert isinstance(dataset.target, ManagedTableDataset), name
            table = base.location.rsplit("/", 1)[1]
            assert dataset.target._table.full_table_location() == (
                f"`main`.`recsys_kedro`.`{table}`"
            ), name
        elif isinstance(base, RawCsvDataset):
            assert dataset._path.startswith(volume + "data/01_raw/"), name
        else:
            described = str(dataset._describe())
            assert "'data/" not in described, (name, described)
    cache = catalog.get("embedding_cache").target
    assert isinstance(cache, ManagedCacheTableDataset)
    assert cache._empty_schema.startswith("key STRING")
    assert catalog.get("embedding_cache_updated").target._table.write_mode == "append"


def test_the_environments_hold_no_catalog_of_their_own():
    for env in ("cloud", "databricks"):
        files = sorted((ROOT / "conf" / env).glob("catalog*"))
        lines = sum(len(p.read_text().splitlines()) for p in files)
        assert lines <= 80, (env, files)


def test_the_databricks_environment_tracks_in_the_workspace():
    mlflow = _loader("databricks")["mlflow"]
    assert mlflow["server"]["mlflow_tracking_uri"] == "databricks"
    assert mlflow["server"]["mlflow_registry_uri"] == "databricks-uc"
    assert mlflow["tracking"]["experiment"]["name"] == "/Shared/recsys_kedro"
    models = resolved_catalog(ROOT, "databricks")[0]
    assert models["engagement_model"]["save_args"]["registered_model_name"] == (
        "main.recsys_kedro.recsys_kedro_engagement"
    )
    assert (
        models["cf_model"]["registered_model_name"]
        == "main.recsys_kedro.recsys_kedro_cf"
    )
    logging_conf = yaml.safe_load(
        (ROOT / "conf" / "databricks" / "logging.yml").read_text()
    )
    assert set(logging_conf["handlers"]) == {"console"}


def test_no_secret_in_the_tracked_credentials():
    for path in ROOT.glob("conf/*/credentials*.yml"):
        if path.parent.name == "local":
            continue
        values = yaml.safe_load(path.read_text())["s3"].values()
        assert all(v.startswith("${oc.env:") for v in values), path


def test_the_job_runs_each_pipeline_after_the_ones_it_reads(datasets):
    bundle = yaml.safe_load((ROOT / "databricks.yml").read_text())
    tasks = bundle["resources"]["jobs"]["recsys_kedro"]["tasks"]
    needed = pipeline_dependencies(pipelines)
    assert {t["task_key"] for t in tasks} == set(needed)
    seen: set[str] = set()
    for task in tasks:  # in file order, each after what it depends on
        after = {d["task_key"] for d in task.get("depends_on", [])}
        assert after == needed[task["task_key"]], task["task_key"]
        assert after <= seen
        seen.add(task["task_key"])
        params = task["python_wheel_task"]["parameters"]
        assert params[params.index("--env") + 1] == "databricks"
        # the configuration the bundle synced, never a hand copy on the volume
        assert (
            params[params.index("--conf-source") + 1] == "${workspace.file_path}/conf"
        )
        assert params[params.index("--pipeline") + 1] == task["task_key"]
    uc = yaml.safe_load((ROOT / "conf" / "databricks" / "globals.yml").read_text())
    variables = bundle["variables"]
    assert [variables[k]["default"] for k in ("catalog", "schema", "volume")] == [
        uc["uc"]["catalog"],
        uc["uc"]["schema"],
        uc["uc"]["volume"],
    ]
    # The job runs as a service principal the deployer must name, never as themselves.
    assert bundle["run_as"] == {
        "service_principal_name": "${var.run_as_service_principal}"
    }
    assert "default" not in variables["run_as_service_principal"]
    assert bundle["sync"] == {"include": ["conf/**"], "exclude": ["conf/local/**"]}
    cluster = bundle["resources"]["jobs"]["recsys_kedro"]["job_clusters"][0]
    logging_conf = cluster["new_cluster"]["spark_env_vars"]["KEDRO_LOGGING_CONFIG"]
    assert logging_conf == "${workspace.file_path}/conf/databricks/logging.yml"


def test_the_bundle_against_databricks_typed_models():
    """databricks-bundles' typed models (the Databricks CLI's own resource schema, as a
    package) take the job and its run_as, and refuse a misspelled key."""
    bundle = yaml.safe_load((ROOT / "databricks.yml").read_text())
    job = Job.from_dict(bundle["resources"]["jobs"]["recsys_kedro"])
    assert [task.task_key for task in job.tasks][0] == "data_processing"
    assert JobRunAs.from_dict(bundle["run_as"]).service_principal_name
    misspelled = dict(bundle["resources"]["jobs"]["recsys_kedro"])
    misspelled["max_concurent_runs"] = misspelled.pop("max_concurrent_runs")
    with pytest.raises(ValueError, match="Unexpected field 'max_concurent_runs'"):
        Job.from_dict(misspelled)
    task = dict(misspelled["tasks"][0])
    task["python_wheel_tsk"] = task.pop("python_wheel_task")
    with pytest.raises(ValueError, match="Unexpected field 'python_wheel_tsk'"):
        Job.from_dict({**bundle["resources"]["jobs"]["recsys_kedro"], "tasks": [task]})


def test_grants_from_the_catalog(datasets):
    entries, globals_ = resolved_catalog(ROOT, "databricks")
    statements = grant_statements(entries, globals_["uc"], "job", "readers")
    base = _base_config()
    delta = {
        name
        for name in datasets
        if _resolved_type(base, name).endswith("SparkTableDataset")
    }
    tables = {entries[name]["table"] for name in delta}
    writes = {
        s.split("`recsys_kedro`.`")[1].split("`")[0]
        for s in statements
        if s.startswith("GRANT SELECT, MODIFY ON TABLE")
    }
    assert writes == tables
    reads = {
        s.split("`recsys_kedro`.`")[1].split("`")[0]
        for s in statements
        if s.startswith("GRANT SELECT ON TABLE")
    }
    assert reads == {
        "popular_products",
        "product_recommendations",
        "product_recommendations_long",
        "user_recommendations",
        "hybrid_recommendations",
        "association_rules",
        "frequent_itemsets",
        "session_recommendations",
    }
    assert all(s.endswith("TO `readers`;") for s in statements if "SELECT ON" in s)
    assert (
        "GRANT EXECUTE ON FUNCTION `main`.`recsys_kedro`.`recsys_kedro_engagement` "
        "TO `readers`;"
    ) in statements
    assert (
        "GRANT READ VOLUME, WRITE VOLUME ON VOLUME `main`.`recsys_kedro`.`recsys` "
        "TO `job`;"
    ) in statements
    # Two phases: nothing before the first run names a table or a model (they do not
    # exist yet); everything after it does; together they are the whole list.
    setup = grant_statements(entries, globals_["uc"], "job", "readers", "setup")
    after = grant_statements(
        entries, globals_["uc"], "job", "readers", "after_first_run"
    )
    assert setup + after == statements
    assert not any(" ON TABLE " in g or " ON FUNCTION " in g for g in setup)
    assert all(" ON TABLE " in g or " ON FUNCTION " in g for g in after)
    assert "CREATE TABLE, CREATE MODEL ON SCHEMA" in setup[1]
    with pytest.raises(ValueError, match="phase must be one of"):
        grant_statements(entries, globals_["uc"], "job", "readers", "before")


def _resolved_type(base: dict, name: str) -> str:
    if name in base:
        return base[name].get("type", "")
    for pattern, entry in base.items():
        if "{" in pattern and name.endswith(pattern.split("}", 1)[1]):
            return entry.get("type", "")
    return ""
