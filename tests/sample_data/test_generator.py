"""The sample generator: schemas, the real month's event mix, messiness, determinism."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import pandas as pd
import pytest

from recsys_kedro.sample_data import (
    EVENT_COLUMNS,
    PRODUCT_INFO_COLUMNS,
    REVIEW_COLUMNS,
    SampleConfig,
    generate,
)
from recsys_kedro.sample_data.__main__ import main


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("s") / "raw"
    generate(SampleConfig(events=120_000, seed=7), out)
    return out


def _events(out: Path) -> pd.DataFrame:
    return pd.concat(
        pd.read_csv(p, dtype=str, keep_default_na=False)
        for p in sorted((out / "events").glob("*.csv"))
    )


def _header(path: Path) -> list[str]:
    with path.open(newline="") as handle:
        return next(csv.reader(handle))


@pytest.mark.integration  # several seconds: left out of make test-fast
def test_layout_and_headers_match_the_public_datasets(sample: Path):
    assert sorted(p.name for p in (sample / "events").glob("*.csv")) == [
        "2019-Dec.csv", "2019-Nov.csv", "2019-Oct.csv", "2020-Feb.csv", "2020-Jan.csv",
    ]  # fmt: skip
    for path in (sample / "events").glob("*.csv"):
        assert _header(path) == EVENT_COLUMNS
    assert len(_header(sample / "reviews" / "product_info.csv")) == 27
    reviews = sorted((sample / "reviews").glob("reviews_*.csv"))
    assert len(reviews) == 5
    assert all(len(_header(p)) == 19 for p in reviews)
    assert _header(sample / "product_mapping.csv") == [
        "product_id_events",
        "product_id_reviews",
    ]
    truth = sample.parent / "raw_truth"
    assert {p.name for p in truth.iterdir()} >= {
        "bundles.csv",
        "view_groups.csv",
        "product_mapping_true.csv",
    }
    assert not list(
        sample.rglob("bundles.csv")
    )  # ground truth never inside the raw folder


def test_headers_equal_the_real_files(sample: Path, shared_data: Path):
    real_events = sorted((shared_data / "cosmetics_shop_sample").glob("*.csv"))[0]
    assert _header(real_events) == EVENT_COLUMNS
    assert (
        _header(shared_data / "sephora_sample" / "product_info.csv")
        == PRODUCT_INFO_COLUMNS
    )
    assert (
        _header(sorted((shared_data / "sephora_sample").glob("reviews_*.csv"))[0])
        == REVIEW_COLUMNS
    )


def test_event_mix_structure_and_messiness(sample: Path):
    events = _events(sample)
    assert len(events) == 120_000
    shares = events["event_type"].value_counts(normalize=True)
    # The real January 2020 month: view 50.4 %, cart 28.0 %, remove 15.1 %, purchase 6.5 %.
    assert shares["view"] == pytest.approx(0.504, abs=0.015)
    assert shares["cart"] == pytest.approx(0.280, abs=0.015)
    assert shares["remove_from_cart"] == pytest.approx(0.151, abs=0.015)
    assert shares["purchase"] == pytest.approx(0.065, abs=0.01)
    sessions_per_user = events.groupby("user_id")["user_session"].nunique()
    assert events["user_id"].nunique() > 3_000
    assert (sessions_per_user >= 2).sum() > 1_000
    assert (events["category_code"] == "").mean() > 0.9
    assert 0.4 < (events["brand"] == "").mean() < 0.75
    assert (events["price"].astype(float) <= 0).sum() > 100
    assert events.duplicated().sum() > 100
    assert events["event_time"].str.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$").all()
    # Zipf-like popularity: the top 10 % of products hold far more than 10 % of events.
    counts = events["product_id"].value_counts()
    assert counts.iloc[: len(counts) // 10].sum() / counts.sum() > 0.4


def test_funnel_order_within_sessions(sample: Path):
    events = _events(sample)
    events = events[events["user_session"] != ""].drop_duplicates()
    stage = events["event_type"].map(
        {"view": 0, "cart": 1, "remove_from_cart": 2, "purchase": 3}
    )
    ordered = events.assign(stage=stage).sort_values(
        ["user_session", "event_time", "stage"]
    )
    first = ordered.groupby("user_session")["stage"].first()
    assert (first == 0).mean() > 0.99  # sessions start with a view


def test_planted_bundles_are_bought_together(sample: Path):
    truth = pd.read_csv(sample.parent / "raw_truth" / "bundles.csv", dtype=str)
    events = _events(sample)
    bought = (
        events[events["event_type"] == "purchase"]
        .groupby("user_session")["product_id"]
        .apply(set)
    )
    bundle = set(truth[truth["bundle_id"] == truth["bundle_id"].iloc[0]]["product_id"])
    together = sum(1 for items in bought if bundle <= items)
    assert together >= 5


def test_reviews_follow_their_rating_and_mapping_is_a_known_share(sample: Path):
    reviews = pd.concat(
        pd.read_csv(p) for p in sorted((sample / "reviews").glob("reviews_*.csv"))
    )
    positive = reviews["review_text"].str.contains(
        "love|amazing|best|perfect|excellent", case=False
    )
    assert positive[reviews["rating"] >= 4].mean() > 0.7
    assert positive[reviews["rating"] <= 2].mean() < 0.2
    assert reviews["product_id"].str.match(r"^P\d{6}$").all()
    true_map = pd.read_csv(sample.parent / "raw_truth" / "product_mapping_true.csv")
    mapping = pd.read_csv(sample / "product_mapping.csv")
    assert set(map(tuple, mapping.values)) <= set(map(tuple, true_map.values))
    assert len(mapping) / len(true_map) == pytest.approx(0.8, abs=0.08)


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*.csv")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


@pytest.mark.integration  # several seconds: left out of make test-fast
def test_same_seed_same_bytes_other_seed_other_data(tmp_path: Path):
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        generate(SampleConfig(events=5_000, seed=seed), tmp_path / name / "raw")
    assert _digest(tmp_path / "a" / "raw") == _digest(tmp_path / "b" / "raw")
    assert _digest(tmp_path / "a" / "raw") != _digest(tmp_path / "c" / "raw")


def test_cli_never_overwrites_and_if_empty_says_so(tmp_path: Path, caplog):
    out = tmp_path / "raw"
    (out / "events").mkdir(parents=True)
    mine = out / "events" / "mine.csv"
    mine.write_text("my data\n")
    assert main(["--out", str(out), "--events", "1000"]) == 2
    with caplog.at_level("INFO"):
        assert main(["--out", str(out), "--events", "1000", "--if-empty"]) == 0
    assert "not writing the sample data" in caplog.text
    assert mine.read_text() == "my data\n"
    assert [p.name for p in (out / "events").iterdir()] == ["mine.csv"]
    with pytest.raises(FileExistsError):
        generate(SampleConfig(events=1000), out)


def _regular_category_share(events: pd.DataFrame, prefs: pd.DataFrame) -> float:
    """Share of the events of users with planted favourites that fall in them."""
    fav = prefs[prefs["kind"] == "category"][["user_id", "value"]].astype(str)
    fav = fav.rename(columns={"value": "category_id"}).drop_duplicates()
    joined = events.merge(
        fav.assign(liked=1), on=["user_id", "category_id"], how="left"
    )
    return float(joined["liked"].notna().mean())


def test_taste_plants_preferences_and_zero_keeps_the_taste_free_generator(
    sample: Path, tmp_path: Path
):
    prefs = pd.read_csv(sample.parent / "raw_truth" / "user_preferences.csv")
    assert set(prefs["kind"]) == {"category", "staple"}
    events = _events(sample)
    # by chance (taste 0) a user's two favourite categories would hold about
    # their popularity share of the events; with taste 0.8, 80 % of the regular
    # sessions' products (about 70 % of the events) come from them
    categories = events["category_id"].value_counts(normalize=True)
    fav = prefs[prefs["kind"] == "category"].astype({"value": str})
    chance = fav["value"].map(categories).fillna(0).groupby(fav["user_id"]).sum()
    share = _regular_category_share(events, prefs)
    assert share > 0.5
    assert share > 3 * chance.mean()
    # staples come back: a user's staple is in more than one of their sessions
    staples = prefs[prefs["kind"] == "staple"][["user_id", "value"]].astype(str)
    staples = staples.rename(columns={"value": "product_id"}).drop_duplicates()
    per = (
        events.merge(staples, on=["user_id", "product_id"])
        .groupby(["user_id", "product_id"])["user_session"]
        .nunique()
    )
    assert (per >= 2).sum() > 500

    out = tmp_path / "raw"
    generate(SampleConfig(events=30_000, seed=7, taste=0), out)
    flat_prefs = pd.read_csv(tmp_path / "raw_truth" / "user_preferences.csv")
    assert flat_prefs.empty
    with pytest.raises(ValueError, match="taste"):
        SampleConfig(taste=1.5)
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "x"), "--taste", "-1"])
