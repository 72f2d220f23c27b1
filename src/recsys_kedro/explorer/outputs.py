"""What the explorer reads: the project's Delta tables, reports and registered models.

Everything is read without Spark: Delta tables through delta-rs and pyarrow (a lookup
scans only the rows of one product or user, with the filter pushed to the parquet
reader), reports from their files, models from the MLflow registry. Where each output
lives comes from the Kedro catalog of the chosen environment, so the explorer reads
whatever ``kedro run --env <env>`` wrote (a local folder or an object store).

Small tables (products, rules, evaluation tables) are read once and kept; tables that
grow with events or users (events, per-user and per-product recommendations) are
scanned per lookup and never held whole.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.dataset as pads
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from recsys_kedro.recommend.scoring import NeighbourIndex, Popularity, recommend

logger = logging.getLogger(__name__)

#: Each table the explorer reads and the pipeline that writes it.
TABLES = {
    "events_clean": "data_processing",
    "products_clean": "data_processing",
    "product_event_features": "feature_engineering",
    "product_mapping_inferred": "feature_engineering",
    "product_sentiment": "nlp",
    "association_rules": "fpgrowth",
    "cf_train_neighbours": "cf",
    "cf_train_popular_products": "cf",
}
#: Reports (files): catalog entry and the pipeline that writes it.
REPORTS = {
    "data_quality_report": ("data_quality_report", "data_processing"),
    "cf_evaluation": ("cf_evaluation_table", "cf"),
    "sessions_evaluation": ("sessions_evaluation_table", "sessions"),
    "crosssell_evaluation": ("crosssell_evaluation_table", "fpgrowth"),
    "engagement_evaluation": ("engagement_evaluation", "engagement"),
}
#: Registered models: catalog entry and pipeline.
MODELS = {"cf": ("cf_model", "cf"), "sessions": ("session_model", "sessions")}
#: The columns of a user's events the explorer reads.
EVENT_COLUMNS = ("event_time", "event_type", "product_id", "price", "user_session")
#: The funnel's steps (product_event_features' columns).
FUNNEL = ("views", "carts", "purchases")


class OutputMissing(LookupError):
    """An output the page needs has not been written: names the command that writes it."""

    def __init__(self, what: str, pipeline: str, env: str | None = None) -> None:
        env_flag = f" --env {env}" if env and env != "local" else ""
        super().__init__(
            f"{what} is missing: run `kedro run --pipeline={pipeline}{env_flag}` first"
        )
        self.pipeline = pipeline


class UnknownId(LookupError):
    """A product, user or session id the outputs do not know."""


@dataclass
class ProjectOutputs:
    """The outputs of one environment, read on demand.

    Attributes:
        tables: Table name to ``(uri, delta-rs storage options)``.
        reports: Report name to its file path.
        eda_dir: The folder of the EDA pictures.
        models: ``cf`` / ``sessions`` to ``models:/<name>@<alias>``.
        event_weights: cf's weight of each event type (``params:cf``).
        weight_transform: cf's transform of a product's weight sum (log1p, none,
            binary).
        half_life_days: cf's time decay of event weights (None: none).
        env: The Kedro environment (named in the messages).
        load_model: Loads an MLflow model URI (``mlflow.pyfunc.load_model``).
        history_shown: A user's latest events drawn and listed (all are counted and
            checked against recommendations).
    """

    tables: dict[str, tuple[str, dict[str, str]]]
    reports: dict[str, str]
    eda_dir: str
    models: dict[str, str]
    event_weights: dict[str, float]
    weight_transform: str = "log1p"
    half_life_days: float | None = None
    env: str = "local"
    load_model: Callable[[str], Any] | None = None
    history_shown: int = 1000
    _loaded: dict[str, Any] = field(default_factory=dict, repr=False)

    # -- plumbing ---------------------------------------------------------------------

    def _delta(self, name: str) -> DeltaTable:
        uri, options = self.tables[name]
        try:
            return DeltaTable(uri, storage_options=options or None)
        except TableNotFoundError as exc:  # no folder, or a folder without a log
            raise OutputMissing(f"The table {name}", TABLES[name], self.env) from exc

    def _dataset(self, name: str) -> pads.Dataset:
        """The table's current files (what its Delta log says, not the folder)."""
        return self._delta(name).to_pyarrow_dataset()

    def table(self, name: str) -> pd.DataFrame:
        """A small table, read once."""
        if name not in self._loaded:
            self._loaded[name] = self._dataset(name).to_table().to_pandas()
        return self._loaded[name]

    def _scan(
        self,
        name: str,
        column: str,
        values: list[Any],
        columns: list[str] | None = None,
    ) -> pd.DataFrame:
        """``columns`` of the rows of a large table whose ``column`` is one of
        ``values`` (only those columns are read)."""
        return (
            self._dataset(name)
            .to_table(columns=columns, filter=pc.field(column).isin(values))
            .to_pandas()
        )

    def report(self, name: str) -> Any:
        """A report: a frame for a CSV, a dict for a JSON file."""
        path = Path(self.reports[name])
        if not path.is_file():
            raise OutputMissing(f"The report {path.name}", REPORTS[name][1], self.env)
        if path.suffix == ".json":
            return json.loads(path.read_text())
        return pd.read_csv(path)

    def model(self, key: str) -> Any:
        """A registered model, loaded once."""
        if key not in self._loaded:
            uri = self.models[key]
            entry, pipeline = MODELS[key]
            if self.load_model is None:
                raise OutputMissing(f"The model {uri}", pipeline, self.env)
            try:
                self._loaded[key] = self.load_model(uri)
            except Exception as exc:  # noqa: BLE001 - MLflow raises several kinds
                raise OutputMissing(
                    f"The registered model {uri} ({entry})", pipeline, self.env
                ) from exc
        return self._loaded[key]

    # -- products ---------------------------------------------------------------------

    @cached_property
    def products(self) -> pd.DataFrame:
        """One row per product of the event logs: ``product_id, name, brand, category,
        price`` and, where the product maps to a reviewed product, its review facts."""
        features = self.table("product_event_features")
        index = pd.DataFrame(
            {
                "product_id": features["product_id"].astype("int64"),
                "brand": features["brand"],
                "category": features["category_code"],
                "price": features["price_mean"],
            }
        )
        try:
            mapping = self.table("product_mapping_inferred")[
                ["product_id_events", "product_id_reviews"]
            ]
            reviewed = self.table("products_clean")[
                ["product_id", "product_name", "brand_name", "rating", "reviews"]
            ].rename(columns={"product_id": "product_id_reviews"})
        except OutputMissing:
            index["name"] = None
            index["product_id_reviews"] = None
            return index
        named = mapping.merge(reviewed, on="product_id_reviews", how="left")
        index = index.merge(
            named.rename(columns={"product_id_events": "product_id"}),
            on="product_id",
            how="left",
        )
        index["name"] = index["product_name"]
        index["brand"] = index["brand"].fillna(index["brand_name"])
        return index.drop(columns=["product_name", "brand_name"])

    def search_products(self, query: str, limit: int = 25) -> pd.DataFrame:
        """Products whose id is ``query`` or whose name or brand contains it.

        Args:
            query: An id, or part of a name or brand (case ignored).
            limit: At most this many rows, the most viewed first.

        Returns:
            The matching rows of :attr:`products` (empty when none match).
        """
        text = (query or "").strip()
        if not text:
            return self.products.head(0)
        products = self.products
        if text.isdigit():
            hit = products[products["product_id"] == int(text)]
            if len(hit):
                return hit
        lower = text.lower()
        mask = products["name"].fillna("").str.lower().str.contains(
            lower, regex=False
        ) | products["brand"].fillna("").str.lower().str.contains(lower, regex=False)
        mask |= products["product_id_reviews"].fillna("").str.lower() == lower
        found = products[mask]
        views = self.table("product_event_features").set_index("product_id")["views"]
        order = found["product_id"].map(views).fillna(0).to_numpy()
        return found.iloc[np.argsort(-order, kind="stable")].head(limit)

    def product(self, product_id: int) -> dict[str, Any]:
        """Facts of one product: brand, category, price, funnel, review facts.

        Raises:
            UnknownId: The product is not in the event logs.
        """
        row = self.products[self.products["product_id"] == int(product_id)]
        if row.empty:
            raise UnknownId(f"No product {product_id} in the event logs")
        facts = row.iloc[0].to_dict()
        features = self.table("product_event_features")
        counts = features[features["product_id"] == int(product_id)].iloc[0]
        facts["funnel"] = {step: int(counts[step]) for step in FUNNEL}
        facts["review_count"] = None
        facts["mean_rating"] = None
        facts["sentiment"] = None
        reviews_id = facts.get("product_id_reviews")
        if isinstance(reviews_id, str):
            try:
                sentiment = self.table("product_sentiment")
            except OutputMissing as exc:
                facts["sentiment_missing"] = str(exc)
            else:
                match = sentiment[sentiment["product_id"] == reviews_id]
                if len(match):
                    first = match.iloc[0]
                    facts["review_count"] = int(first["review_count"])
                    facts["mean_rating"] = float(first["mean_rating"])
                    facts["sentiment"] = float(first["mean_compound"])
        return facts

    def similar_products(self, product_id: int, k: int = 10) -> pd.DataFrame:
        """The cf model's neighbours of a product: ``rank, rec_product_id, score,
        source`` and the neighbour's name and brand."""
        recs = self.model("cf").predict(
            pd.DataFrame({"product_id": [int(product_id)]}), params={"k": k}
        )
        return self._named(recs, "rec_product_id")

    def bought_together(self, product_id: int) -> pd.DataFrame:
        """fpgrowth's rules whose condition holds the product, strongest first, each
        with its reading in plain words."""
        rules = self.table("association_rules")
        has = rules["antecedent"].map(lambda items: int(product_id) in set(items))
        found = rules[has].sort_values(["lift", "confidence"], ascending=False)
        names = self.products.set_index("product_id")["name"]

        def label(items) -> str:
            return " + ".join(_product_label(names.get(int(i)), int(i)) for i in items)

        return pd.DataFrame(
            {
                "with": found["antecedent"].map(label),
                "also": found["consequent"].map(label),
                "confidence": found["confidence"],
                "lift": found["lift"],
                "in words": [
                    f"{r.confidence:.0%} of the baskets with {label(r.antecedent)} "
                    f"also hold {label(r.consequent)}, {r.lift:.1f} times as often "
                    "as baskets in general"
                    for r in found.itertuples()
                ],
            }
        )

    def _named(self, frame: pd.DataFrame, column: str) -> pd.DataFrame:
        names = self.products.set_index("product_id")[["name", "brand"]]
        return frame.join(names, on=column)

    # -- users ------------------------------------------------------------------------

    def user_events(self, user_id: int) -> pd.DataFrame:
        """The user's events in time order.

        Raises:
            UnknownId: The user has no event.
        """
        events = self._scan(
            "events_clean", "user_id", [int(user_id)], columns=list(EVENT_COLUMNS)
        )
        if events.empty:
            raise UnknownId(f"No user {user_id} in the event logs")
        return events.sort_values("event_time").reset_index(drop=True)

    def user_recommendations(self, user_id: int, k: int = 10) -> pd.DataFrame:
        """The cf model's recommendations for the user, with the model part that made
        each (``source``: item_cosine, repeat, popular)."""
        recs = self.model("cf").predict(
            pd.DataFrame({"user_id": [int(user_id)]}), params={"k": k}
        )
        return self._named(recs, "product_id")

    @cached_property
    def cutoff(self) -> pd.Timestamp:
        """The evaluation cut-off of the last cf run."""
        return pd.Timestamp(self.report("cf_evaluation")["cutoff"].iloc[0], tz="UTC")

    @cached_property
    def _train_model(self) -> tuple[NeighbourIndex, Popularity]:
        """cf's neighbours and popular products fitted before the cut-off."""
        return (
            NeighbourIndex.from_long(self.table("cf_train_neighbours")),
            Popularity.from_frame(self.table("cf_train_popular_products")),
        )

    def history_weights(self, before: pd.DataFrame, times: pd.Series) -> pd.Series:
        """Each product's weight in a user's history, as cf's interactions weigh it
        (event weights, decay by ``half_life_days`` from the cut-off, the transform
        of the positive sums)."""
        weights = before["event_type"].map(self.event_weights).fillna(0.0)
        if self.half_life_days:
            age_days = (self.cutoff - times).dt.total_seconds() / 86400.0
            weights = weights * 0.5 ** (age_days / self.half_life_days)
        summed = weights.groupby(before["product_id"]).sum()
        summed = summed[summed > 0]
        if self.weight_transform == "log1p":
            return np.log1p(summed)
        if self.weight_transform == "binary":
            return pd.Series(1.0, index=summed.index)
        return summed

    def what_came_next(
        self, user_id: int, events: pd.DataFrame, k: int = 10
    ) -> pd.DataFrame | None:
        """For a user active after the cut-off: what the item-cosine model fitted before
        it recommends from the user's earlier events, and the products the user
        engaged with after it, each marked hit (it was recommended) or miss.

        Returns:
            ``product_id, name, first_event, event_types, hit`` for the products after
            the cut-off, or None when the user has no event after it.
        """
        times = pd.to_datetime(events["event_time"], utc=True)
        after, before = events[times >= self.cutoff], events[times < self.cutoff]
        if after.empty:
            return None
        summed = self.history_weights(before, times[times < self.cutoff])
        index, popular = self._train_model
        recs, _, _ = recommend(
            summed.index.to_numpy(np.int64),
            summed.to_numpy(np.float64),
            np.zeros(0, np.int64),
            index,
            popular,
            k,
        )
        shown = set(recs.tolist())
        grouped = after.groupby("product_id").agg(
            first_event=("event_time", "min"),
            event_types=("event_type", lambda s: ", ".join(sorted(set(s)))),
        )
        grouped["hit"] = [p in shown for p in grouped.index]
        grouped = grouped.reset_index().sort_values("first_event")
        return self._named(grouped, "product_id")

    # -- sessions ---------------------------------------------------------------------

    def next_items(self, items: list[int], k: int = 10) -> pd.DataFrame:
        """The session model's next products for a session of ``items`` (in order)."""
        if not items:
            return pd.DataFrame(columns=["rank", "product_id", "score", "source"])
        recs = self.model("sessions").predict(
            pd.DataFrame({"session_items": [[int(i) for i in items]]}),
            params={"k": k},
        )
        return self._named(
            recs[["rank", "product_id", "score", "source"]], "product_id"
        )

    # -- models -----------------------------------------------------------------------

    def eda_pictures(self) -> list[Path]:
        """The EDA pictures, by name."""
        folder = Path(self.eda_dir)
        if not folder.is_dir() or not any(folder.glob("*.png")):
            raise OutputMissing("The EDA pictures", "eda", self.env)
        return sorted(folder.glob("*.png"))


def _product_label(name: Any, product_id: int) -> str:
    """``name (id)``, or the id alone for a product without a name."""
    return f"{name} ({product_id})" if isinstance(name, str) else str(product_id)


def load_outputs(project_path: Path, env: str | None = None) -> ProjectOutputs:
    """The outputs of ``kedro run --env <env>`` in a project, placed by its catalog.

    Reads the environment's configuration with the project's own loader and builds its
    catalog (no Spark: the datasets are only built, never loaded) for the paths of
    every table, report and registered model; the MLflow store is the one its
    ``mlflow.yml`` names. No Kedro session is opened, so no hook runs and MLflow's
    process-wide tracking URI and experiment are left as they were.

    Args:
        project_path: The Kedro project's folder.
        env: The environment (None: the project's default, ``local``).

    Returns:
        The outputs, read on demand.

    Raises:
        ValueError: The environment keeps its tables in Unity Catalog, which only
            Spark reads, or names no MLflow tracking store.
    """
    from kedro.config import MissingConfigException  # noqa: PLC0415
    from kedro.framework.project import settings  # noqa: PLC0415
    from kedro.framework.startup import bootstrap_project  # noqa: PLC0415

    from recsys_kedro.datasets.delta_table import (  # noqa: PLC0415
        SparkDeltaTableDataset,
    )

    project_path = Path(project_path).resolve()
    bootstrap_project(project_path)
    config = settings.CONFIG_LOADER_CLASS(
        conf_source=str(project_path / settings.CONF_SOURCE),
        env=env,
        **settings.CONFIG_LOADER_ARGS,
    )
    try:
        credentials = config["credentials"]
    except MissingConfigException:
        credentials = {}
    entries = config["catalog"]
    catalog = settings.DATA_CATALOG_CLASS.from_config(entries, credentials)

    def local(path: str) -> str:
        """A relative path is the project's, as in a Kedro session."""
        return str(project_path / path) if "://" not in path else path

    tables = {}
    for name in TABLES:
        target = catalog.get(name).target
        if not isinstance(target, SparkDeltaTableDataset):
            raise ValueError(
                f"The environment {env!r} keeps {name} in Unity Catalog "
                f"({catalog.get(name).location}): the explorer reads Delta folders "
                "and object stores only; open it on a Databricks notebook instead"
            )
        tables[name] = (local(target.filepath), dict(target.storage_options))
    reports = {
        name: local(entries[entry]["dataset"]["filepath"])
        for name, (entry, _) in REPORTS.items()
    }
    eda = entries["eda_{picture}_plot"]["dataset"]["filepath"]
    models = {
        key: f"models:/{entries[entry]['registered_model_name']}@"
        f"{entries[entry].get('alias', 'champion')}"
        for key, (entry, _) in MODELS.items()
    }
    cf = config["parameters"]["cf"]
    server = config["mlflow"]["server"]
    if not server.get("mlflow_tracking_uri"):
        raise ValueError(
            f"The environment {env!r} names no mlflow_tracking_uri in its mlflow.yml: "
            "the explorer reads the registered models from there"
        )
    tracking_uri = _absolute_sqlite(server["mlflow_tracking_uri"], project_path)
    registry_uri = _absolute_sqlite(
        server.get("mlflow_registry_uri") or server["mlflow_tracking_uri"], project_path
    )
    logger.info("Explorer over %s (env %s), MLflow %s", project_path, env, tracking_uri)
    return ProjectOutputs(
        tables=tables,
        reports=reports,
        eda_dir=str(Path(local(eda)).parent),
        models=models,
        event_weights=dict(cf["event_weights"]),
        weight_transform=cf.get("weight_transform", "log1p"),
        half_life_days=cf.get("half_life_days"),
        env=env or "local",
        load_model=functools.partial(
            _load_registered, tracking_uri=tracking_uri, registry_uri=registry_uri
        ),
    )


def _absolute_sqlite(uri: str, project_path: Path) -> str:
    """A tracking URI with a relative SQLite file made absolute against the project,
    as ``kedro run`` there resolves it."""
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri[len(prefix) :].startswith("/"):
        return f"{prefix}{project_path / uri[len(prefix) :]}"
    return uri


def _load_registered(uri: str, tracking_uri: str, registry_uri: str) -> Any:
    """Loads ``models:/<name>@<alias>`` from one tracking store and registry, leaving
    MLflow's process-wide URIs alone (a registered version's source is a logged model,
    ``models:/m-<id>``, or a run's artifact URI)."""
    import mlflow  # noqa: PLC0415

    name, alias = uri.removeprefix("models:/").split("@", 1)
    client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri)
    source = client.get_model_version_by_alias(name, alias).source
    if source.startswith("models:/"):
        source = client.get_logged_model(
            source.removeprefix("models:/")
        ).artifact_location
    local = mlflow.artifacts.download_artifacts(
        artifact_uri=source, tracking_uri=tracking_uri
    )
    return mlflow.pyfunc.load_model(local)
