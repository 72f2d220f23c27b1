"""Generates raw data shaped like the public cosmetics-shop events and Sephora reviews.

Everything is drawn from one seeded ``numpy`` generator, in a fixed order, so a seed gives
the same files byte for byte. Events are produced in chunks of sessions and appended to the
monthly files, so memory stays bounded by the chunk size, not by the number of events.

Planted structure (written beside the raw folder as ground truth, never inside it):

* bundles: small groups of products bought together in one session;
* view groups: products viewed together in one session;
* taste (``taste > 0``): each user has favourite categories, drawn in proportion to
  their share of all events, from which that share of their regular sessions' products
  come (the rest from the global popularity curve), and a few staple products that start
  ``repeat_share`` of their regular sessions (repeat engagement); view groups are
  alternatives within one category, and that share of a user's group sessions browse a
  group of a favourite category. ``taste = 0`` gives the taste-free generator (view
  groups across categories, sessions independent of the user), in which a user's future
  does not depend on their past;
* the true mapping between event product ids and review product ids, of which
  ``product_mapping.csv`` holds a known share.
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from recsys_kedro.raw_schemas import (
    EVENT_COLUMNS,
    PRODUCT_INFO_COLUMNS,
)
from recsys_kedro.sample_data.vocabulary import (
    BRANDS,
    CATEGORY_CODES,
    EYE_COLORS,
    HAIR_COLORS,
    NEGATIVE_PHRASES,
    NEUTRAL_PHRASES,
    POSITIVE_PHRASES,
    PRODUCT_NOUNS,
    PRODUCT_WORDS,
    SEPHORA_CATEGORIES,
    SKIN_TONES,
    SKIN_TYPES,
    TEXT_NOISE,
)

logger = logging.getLogger(__name__)

EVENT_TYPES = np.array(["view", "cart", "remove_from_cart", "purchase"])
REVIEW_FILES = [
    "reviews_0-250.csv",
    "reviews_250-500.csv",
    "reviews_500-750.csv",
    "reviews_750-1250.csv",
    "reviews_1250-end.csv",
]
RAW_FILES = ("events", "reviews", "product_mapping.csv")


@dataclass(frozen=True)
class SampleConfig:
    """What to generate.

    Attributes:
        events: Rows in the event files, duplicates included.
        seed: Seed of the random generator.
        products: Event products (default: events / 400, between 300 and 50,000).
        users: Users (default: events / 12, at least 1,000).
        start: First day of the data.
        months: Number of monthly files.
        bundle_session_share: Share of sessions that buy a planted bundle.
        group_session_share: Share of sessions that browse a planted view group.
        review_share: Share of event products that have a review-side product.
        mapping_coverage: Share of the true pairs written to ``product_mapping.csv``.
        reviews: Review rows (default: events / 40, at least 2,000).
        duplicate_share: Share of event rows written twice.
        nonpositive_price_share: Share of event rows with a price of 0 or less.
        missing_session_share: Share of event rows with an empty ``user_session``.
        chunk_sessions: Sessions generated per chunk (bounds memory).
        taste: Share of a regular session's products drawn from the user's favourite
            categories (0: none, every product from the global popularity curve).
        favourite_categories: Favourite categories per user (drawn with replacement,
            in proportion to each category's popularity, so the products' overall
            popularity curve is kept).
        staples: Staple products per user, drawn from their favourite categories.
        repeat_share: Share of a user's regular sessions that start with one of their
            staples (only with ``taste > 0``).
    """

    events: int = 200_000
    seed: int = 42
    products: int | None = None
    users: int | None = None
    start: str = "2019-10-01"
    months: int = 5
    bundle_session_share: float = 0.06
    group_session_share: float = 0.25
    review_share: float = 0.6
    mapping_coverage: float = 0.8
    reviews: int | None = None
    duplicate_share: float = 0.003
    nonpositive_price_share: float = 0.004
    missing_session_share: float = 0.0002
    chunk_sessions: int = 50_000
    taste: float = 0.8
    favourite_categories: int = 2
    staples: int = 2
    repeat_share: float = 0.3

    def __post_init__(self) -> None:
        for name in ("taste", "repeat_share"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        if self.favourite_categories < 1 or self.staples < 1:
            raise ValueError("favourite_categories and staples must be at least 1")

    @property
    def n_products(self) -> int:
        return self.products or int(np.clip(self.events // 400, 300, 50_000))

    @property
    def n_users(self) -> int:
        return self.users or max(1_000, self.events // 12)

    @property
    def n_reviews(self) -> int:
        return self.reviews or max(2_000, self.events // 40)


# Funnel of a product inside a session: views = 1 + Poisson(VIEW_EXTRA); carted with
# probability p_cart, then 1 + Poisson(CART_EXTRA) carts, removed with P_REMOVE and bought
# with p_buy. Calibrated so the event mix matches the real January 2020 month
# (view 50.4 %, cart 28.0 %, remove_from_cart 15.1 %, purchase 6.5 %).
VIEW_EXTRA = 0.14
CART_EXTRA = 0.17
P_REMOVE = 0.62
FUNNEL = {  # session kind -> (p_cart, p_buy given cart)
    "regular": (0.55, 0.21),
    "group": (0.45, 0.17),
    "bundle": (0.97, 0.85),
}
SESSION_GAP_SECONDS = 45.0


@dataclass
class _Catalogue:
    product_id: np.ndarray
    category_id: np.ndarray
    category_code: np.ndarray
    brand: np.ndarray
    price: np.ndarray
    popularity: np.ndarray
    category: np.ndarray  # category index of each product
    category_ids: np.ndarray  # category id of each category index
    bundles: list[np.ndarray]
    groups: list[np.ndarray]


def _catalogue(cfg: SampleConfig, rng: np.random.Generator) -> _Catalogue:
    n = cfg.n_products
    product_id = rng.choice(5_900_000, size=n, replace=False).astype(np.int64) + 3_700
    n_categories = max(20, n // 25)
    category_ids = 1_487_580_005_000_000_000 + rng.choice(
        10**15, size=n_categories, replace=False
    ).astype(np.int64)
    category_codes = rng.choice(np.array(CATEGORY_CODES), size=n_categories)
    product_category = rng.integers(0, n_categories, size=n)
    # As in the real logs, category_code is empty on about 98 % of rows.
    product_code = np.where(rng.random(n) < 0.02, category_codes[product_category], "")
    brand = np.where(
        rng.random(n) < 0.42, rng.choice(np.array(BRANDS), size=n), ""
    ).astype(object)
    price = np.round(np.exp(rng.normal(1.6, 0.85, size=n)) + 0.3, 2)
    # Zipf-like popularity over a random order of the products.
    ranks = rng.permutation(n) + 1
    popularity = 1.0 / ranks**1.05
    popularity /= popularity.sum()

    order = rng.permutation(n)
    n_bundles = max(5, n // 40)
    n_groups = max(8, n // 25)
    sizes = rng.integers(2, 4, size=n_bundles)
    bundles, pos = [], 0
    for size in sizes:
        bundles.append(order[pos : pos + size])
        pos += size
    groups = []
    for _ in range(n_groups):
        size = int(rng.integers(4, 7))
        groups.append(order[pos : pos + size] if pos + size <= n else order[:size])
        pos += size
    return _Catalogue(
        product_id=product_id,
        category_id=category_ids[product_category],
        category_code=product_code,
        brand=brand,
        price=price,
        popularity=popularity,
        category=product_category,
        category_ids=category_ids,
        bundles=bundles,
        groups=groups,
    )


@dataclass
class _Taste:
    """Each user's planted preferences (indices into the catalogue)."""

    favourites: np.ndarray  # users x favourite_categories, category indices
    staples: np.ndarray  # users x staples, product indices
    order: np.ndarray  # products sorted by category
    cumulative: np.ndarray  # cumulative popularity in that order
    start: np.ndarray  # per category: first position in ``order``
    size: np.ndarray  # per category: number of products
    mass: np.ndarray  # per category: summed popularity
    group_category: np.ndarray = field(default_factory=lambda: np.zeros(0, int))

    def category_groups(self, cat: _Catalogue, rng: np.random.Generator) -> None:
        """Replaces the view groups by groups of one category each (alternatives a
        shopper compares), the category drawn by popularity, members by popularity
        within it."""
        n_groups = len(cat.groups)
        categories = rng.choice(
            len(self.mass), size=n_groups, p=self.mass / self.mass.sum()
        )
        sizes = rng.integers(4, 7, size=n_groups)
        groups = []
        for c, size in zip(categories.tolist(), sizes.tolist(), strict=True):
            members = self.order[self.start[c] : self.start[c] + self.size[c]]
            weights = cat.popularity[members] / cat.popularity[members].sum()
            take = min(size, len(members))
            groups.append(rng.choice(members, size=take, replace=False, p=weights))
        cat.groups = groups
        self.group_category = categories

    @classmethod
    def draw(cls, cfg: SampleConfig, rng: np.random.Generator, cat: _Catalogue):
        """Favourite categories in proportion to their popularity, staples within them."""
        order = np.argsort(cat.category, kind="stable")
        size = np.bincount(cat.category)
        mass = np.bincount(cat.category, weights=cat.popularity)
        taste = cls(
            favourites=rng.choice(
                len(mass),
                size=(cfg.n_users, cfg.favourite_categories),
                p=mass / mass.sum(),
            ),
            staples=np.zeros((cfg.n_users, 0), dtype=np.int64),
            order=order,
            cumulative=np.cumsum(cat.popularity[order]),
            start=np.r_[0, np.cumsum(size)][:-1],
            size=size,
            mass=mass,
        )
        which = rng.integers(0, cfg.favourite_categories, (cfg.n_users, cfg.staples))
        categories = np.take_along_axis(taste.favourites, which, axis=1)
        taste.staples = taste.products_in(rng, categories.ravel()).reshape(
            cfg.n_users, cfg.staples
        )
        return taste

    def products_in(self, rng: np.random.Generator, categories: np.ndarray):
        """One product per entry of ``categories``, by popularity within the category."""
        before = np.r_[0.0, self.cumulative][self.start[categories]]
        target = before + rng.random(len(categories)) * self.mass[categories]
        pos = np.searchsorted(self.cumulative, target, side="right")
        lo = self.start[categories]
        pos = np.clip(pos, lo, lo + self.size[categories] - 1)
        return self.order[pos]


def _uuid_strings(rng: np.random.Generator, n: int) -> np.ndarray:
    raw = rng.integers(0, 2**32, size=(n, 4), dtype=np.uint64)
    hexes = [
        f"{a:08x}{b:08x}{c:08x}{d:08x}" for a, b, c, d in raw.tolist()
    ]  # 32 hex digits
    return np.array(
        [f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}" for h in hexes],
        dtype=object,
    )


def _apply_taste(
    cfg: SampleConfig,
    rng: np.random.Generator,
    taste: _Taste,
    groups: list[np.ndarray],
    product: np.ndarray,
    slots: tuple[np.ndarray, np.ndarray, np.ndarray],
    slot_user: np.ndarray,
) -> None:
    """Redraws ``taste`` of the regular slots from the user's favourite categories,
    gives ``taste`` of the group sessions a view group of a favourite category, and puts
    a staple first in ``repeat_share`` of the regular sessions (in place)."""
    slot_kind, slot_pos, slot_session = slots
    regular = np.flatnonzero(slot_kind == 0)
    owner = slot_user[regular]
    liked = rng.random(len(regular)) < cfg.taste
    which = rng.integers(0, cfg.favourite_categories, int(liked.sum()))
    product[regular[liked]] = taste.products_in(
        rng, taste.favourites[owner[liked], which]
    )

    grouped = np.flatnonzero(slot_kind == 1)
    sessions, first_slot, inverse = np.unique(
        slot_session[grouped], return_index=True, return_inverse=True
    )
    liked = rng.random(len(sessions)) < cfg.taste
    category = taste.favourites[
        slot_user[grouped[first_slot]],
        rng.integers(0, cfg.favourite_categories, len(sessions)),
    ]
    n_categories = len(taste.mass)
    by_category = np.argsort(taste.group_category, kind="stable")
    count = np.bincount(taste.group_category, minlength=n_categories)
    start = np.r_[0, np.cumsum(count)][:-1]
    pick = rng.random(len(sessions))
    has_group = liked & (count[category] > 0)
    session_group = np.full(len(sessions), -1)
    session_group[has_group] = by_category[
        start[category[has_group]]
        + (pick[has_group] * count[category[has_group]]).astype(int)
    ]
    draw = rng.random(len(grouped))
    for j, slot in enumerate(grouped.tolist()):
        g = session_group[inverse[j]]
        if g >= 0:
            members = groups[g]
            product[slot] = members[int(draw[j] * len(members))]

    first = regular[slot_pos[regular] == 0]
    repeat = first[rng.random(len(first)) < cfg.repeat_share]
    product[repeat] = taste.staples[
        slot_user[repeat], rng.integers(0, cfg.staples, len(repeat))
    ]


def _session_chunk(
    cfg: SampleConfig,
    rng: np.random.Generator,
    cat: _Catalogue,
    user_ids: np.ndarray,
    user_weights: np.ndarray,
    span: tuple[np.datetime64, int],
    taste: _Taste | None = None,
) -> pd.DataFrame:
    """Events of one chunk of sessions, in time order within each session.

    Without ``taste`` the random draws are made in the taste-free generator's order,
    so ``taste = 0`` writes the same bytes as before taste existed.
    """
    n_sessions = cfg.chunk_sessions
    kind = rng.choice(
        3,
        size=n_sessions,
        p=[
            1 - cfg.bundle_session_share - cfg.group_session_share,
            cfg.group_session_share,
            cfg.bundle_session_share,
        ],
    )  # 0 regular, 1 group, 2 bundle
    bundle_pick = rng.integers(0, len(cat.bundles), size=n_sessions)
    group_pick = rng.integers(0, len(cat.groups), size=n_sessions)
    bundle_size = np.array([len(b) for b in cat.bundles])[bundle_pick]
    n_slots = np.where(
        kind == 2,
        bundle_size,
        np.where(
            kind == 1,
            rng.integers(2, 5, size=n_sessions),
            1 + rng.poisson(1.3, n_sessions),
        ),
    )
    session_of_slot = np.repeat(np.arange(n_sessions), n_slots)
    slot_kind = kind[session_of_slot]
    total_slots = len(session_of_slot)
    first_slot = np.repeat(np.cumsum(n_slots) - n_slots, n_slots)
    slot_pos = np.arange(total_slots) - first_slot

    if taste is not None:
        session_user = rng.choice(len(user_ids), size=n_sessions, p=user_weights)
    product = rng.choice(len(cat.product_id), size=total_slots, p=cat.popularity)
    bundles_flat = [cat.bundles[b] for b in bundle_pick]
    groups_flat = [cat.groups[g] for g in group_pick]
    group_draw = rng.random(total_slots)
    for i in np.flatnonzero(slot_kind == 2):
        product[i] = bundles_flat[session_of_slot[i]][slot_pos[i]]
    for i in np.flatnonzero(slot_kind == 1):
        members = groups_flat[session_of_slot[i]]
        product[i] = members[int(group_draw[i] * len(members))]
    if taste is not None:
        _apply_taste(
            cfg,
            rng,
            taste,
            cat.groups,
            product,
            (slot_kind, slot_pos, session_of_slot),
            session_user[session_of_slot],
        )
    p_cart = np.array([FUNNEL[k][0] for k in ("regular", "group", "bundle")])[slot_kind]
    p_buy = np.array([FUNNEL[k][1] for k in ("regular", "group", "bundle")])[slot_kind]
    views = 1 + rng.poisson(VIEW_EXTRA, total_slots)
    carted = rng.random(total_slots) < p_cart
    carts = carted * (1 + rng.poisson(CART_EXTRA, total_slots))
    removes = (carted & (rng.random(total_slots) < P_REMOVE)).astype(int)
    buys = (carted & (rng.random(total_slots) < p_buy)).astype(int)

    counts = np.stack([views, carts, removes, buys], axis=1)  # slot x stage
    per_slot = counts.sum(axis=1)
    ev_slot = np.repeat(np.arange(total_slots), per_slot)
    ev_stage = np.repeat(np.tile(np.arange(4), total_slots), counts.ravel())
    ev_session = session_of_slot[ev_slot]
    order = np.lexsort((slot_pos[ev_slot], ev_stage, ev_session))
    ev_slot, ev_stage, ev_session = ev_slot[order], ev_stage[order], ev_session[order]

    start, span_seconds = span
    session_start = rng.integers(0, span_seconds - 4 * 3600, size=n_sessions)
    gaps = rng.exponential(SESSION_GAP_SECONDS, size=len(ev_slot)).astype(np.int64) + 1
    cum = np.cumsum(gaps)
    session_first = np.searchsorted(ev_session, np.arange(n_sessions))
    base = np.r_[0, cum][session_first]
    offsets = cum - base[ev_session]
    seconds = session_start[ev_session] + offsets
    times = start + seconds.astype("timedelta64[s]")

    if taste is None:
        session_user = rng.choice(len(user_ids), size=n_sessions, p=user_weights)
    session_ids = _uuid_strings(rng, n_sessions)
    prod = product[ev_slot]
    price = cat.price[prod].copy()
    bad_price = rng.random(len(price)) < cfg.nonpositive_price_share
    price[bad_price] = np.where(
        rng.random(int(bad_price.sum())) < 0.85,
        0.0,
        -np.round(rng.uniform(1, 80, int(bad_price.sum())), 2),
    )
    user_session = session_ids[ev_session]
    user_session[rng.random(len(user_session)) < cfg.missing_session_share] = ""
    frame = pd.DataFrame(
        {
            "event_time": np.char.add(
                np.char.replace(np.datetime_as_string(times, unit="s"), "T", " "),
                " UTC",
            ),
            "event_type": EVENT_TYPES[ev_stage],
            "product_id": cat.product_id[prod],
            "category_id": cat.category_id[prod],
            "category_code": cat.category_code[prod],
            "brand": cat.brand[prod],
            "price": price,
            "user_id": user_ids[session_user][ev_session],
            "user_session": user_session,
        }
    )
    frame["_month"] = times.astype("datetime64[M]")
    dupes = rng.random(len(frame)) < cfg.duplicate_share
    if dupes.any():
        frame = pd.concat([frame, frame[dupes]]).sort_index(kind="stable")
    return frame.reset_index(drop=True)


def _write_events(
    cfg: SampleConfig, rng: np.random.Generator, cat: _Catalogue, out: Path
) -> tuple[dict[str, int], pd.DataFrame]:
    """Writes the monthly event files; returns their row counts and the planted
    preferences (``user_id, kind, rank, value``; empty with ``taste = 0``)."""
    events_dir = out / "events"
    events_dir.mkdir(parents=True, exist_ok=True)
    start = np.datetime64(cfg.start, "M")
    end = start + np.timedelta64(cfg.months, "M")
    span_seconds = int(
        (end.astype("datetime64[s]") - start.astype("datetime64[s]")).astype(int)
    )
    user_ids = (
        rng.choice(600_000_000, size=cfg.n_users, replace=False).astype(np.int64)
        + 10_000_000
    )
    ranks = rng.permutation(cfg.n_users) + 1
    user_weights = 1.0 / (ranks + 5.0) ** 0.9
    user_weights /= user_weights.sum()
    taste = _Taste.draw(cfg, rng, cat) if cfg.taste > 0 else None
    if taste is not None:
        taste.category_groups(cat, rng)

    written: dict[str, int] = {}
    remaining = cfg.events
    while remaining > 0:
        chunk = _session_chunk(
            cfg,
            rng,
            cat,
            user_ids,
            user_weights,
            (start.astype("datetime64[s]"), span_seconds),
            taste,
        )
        chunk = chunk.iloc[:remaining]
        remaining -= len(chunk)
        for month, rows in chunk.groupby("_month", sort=True):
            name = pd.Timestamp(month).strftime("%Y-%b") + ".csv"
            path = events_dir / name
            rows[EVENT_COLUMNS].to_csv(
                path, mode="a", header=name not in written, index=False
            )
            written[name] = written.get(name, 0) + len(rows)
    return written, _preferences(cat, user_ids, taste)


def _preferences(
    cat: _Catalogue, user_ids: np.ndarray, taste: _Taste | None
) -> pd.DataFrame:
    """The planted truth: each user's favourite category ids and staple product ids."""
    columns = ["user_id", "kind", "rank", "value"]
    if taste is None:
        return pd.DataFrame(columns=columns)
    parts = []
    for kind, values in (
        ("category", cat.category_ids[taste.favourites]),
        ("staple", cat.product_id[taste.staples]),
    ):
        n_users, n = values.shape
        parts.append(
            pd.DataFrame(
                {
                    "user_id": np.repeat(user_ids, n),
                    "kind": kind,
                    "rank": np.tile(np.arange(1, n + 1), n_users),
                    "value": values.ravel(),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)[columns]


def _review_products(
    cfg: SampleConfig, rng: np.random.Generator, cat: _Catalogue
) -> pd.DataFrame:
    """Review-side products: mapped ones share brand, price and category with an event
    product; the rest exist only in the reviews."""
    n = len(cat.product_id)
    mapped = np.sort(
        rng.choice(n, size=int(round(cfg.review_share * n)), replace=False)
    )
    n_extra = max(10, len(mapped) // 3)
    n_review = len(mapped) + n_extra
    codes = rng.choice(900_000, size=n_review, replace=False) + 100_000
    review_ids = np.array([f"P{c}" for c in codes])
    brand = np.empty(n_review, dtype=object)
    event_brand = cat.brand[mapped]
    fallback = rng.choice(np.array(BRANDS), size=n_review)
    brand[: len(mapped)] = np.where(
        event_brand == "", fallback[: len(mapped)], event_brand
    )
    brand[len(mapped) :] = fallback[len(mapped) :]
    price = np.empty(n_review)
    price[: len(mapped)] = np.round(
        cat.price[mapped] * rng.uniform(0.9, 1.1, len(mapped)), 2
    )
    price[len(mapped) :] = np.round(np.exp(rng.normal(1.6, 0.85, n_extra)) + 0.3, 2)
    category_index = np.empty(n_review, dtype=int)
    category_index[: len(mapped)] = (
        cat.category_id[mapped] % len(SEPHORA_CATEGORIES)
    ).astype(int)
    category_index[len(mapped) :] = rng.integers(0, len(SEPHORA_CATEGORIES), n_extra)
    names = [
        f"{PRODUCT_WORDS[a]} {PRODUCT_WORDS[b]} {PRODUCT_NOUNS[c]}"
        for a, b, c in zip(
            rng.integers(0, len(PRODUCT_WORDS), n_review),
            rng.integers(0, len(PRODUCT_WORDS), n_review),
            rng.integers(0, len(PRODUCT_NOUNS), n_review),
            strict=True,
        )
    ]
    return pd.DataFrame(
        {
            "product_id": review_ids,
            "event_index": np.r_[mapped, np.full(n_extra, -1)],
            "product_name": names,
            "brand_name": [str(b).title() for b in brand],
            "price_usd": price,
            "category_index": category_index,
            "weight": 1.0 / (rng.permutation(n_review) + 1) ** 0.9,
        }
    )


def _product_info(rng: np.random.Generator, products: pd.DataFrame) -> pd.DataFrame:
    n = len(products)
    brand_codes = {
        b: 5000 + i for i, b in enumerate(sorted(set(products["brand_name"])))
    }
    size_ml = rng.choice([15, 30, 50, 75, 100, 150, 200, 250], size=n)
    size = [f"{round(ml / 29.57, 1)} oz/ {ml} mL" for ml in size_ml]
    categories = [SEPHORA_CATEGORIES[i] for i in products["category_index"]]
    on_sale = rng.random(n) < 0.03
    return pd.DataFrame(
        {
            "product_id": products["product_id"],
            "product_name": products["product_name"],
            "brand_id": [brand_codes[b] for b in products["brand_name"]],
            "brand_name": products["brand_name"],
            "loves_count": rng.integers(0, 200_000, n),
            "rating": np.where(
                rng.random(n) < 0.97, np.round(rng.uniform(3.0, 5.0, n), 4), np.nan
            ),
            "reviews": np.where(
                rng.random(n) < 0.97, rng.integers(1, 2_000, n).astype(float), np.nan
            ),
            "size": np.where(rng.random(n) < 0.8, size, ""),
            "variation_type": np.where(rng.random(n) < 0.8, "Size", ""),
            "variation_value": np.where(rng.random(n) < 0.8, size, ""),
            "variation_desc": "",
            "ingredients": [
                "['Water, Glycerin, Niacinamide, Squalane, Tocopherol.']"
                if r < 0.9
                else ""
                for r in rng.random(n)
            ],
            "price_usd": products["price_usd"],
            "value_price_usd": np.where(
                rng.random(n) < 0.05, products["price_usd"] * 1.2, np.nan
            ).round(2),
            "sale_price_usd": np.where(
                on_sale, products["price_usd"] * 0.8, np.nan
            ).round(2),
            "limited_edition": (rng.random(n) < 0.07).astype(int),
            "new": (rng.random(n) < 0.07).astype(int),
            "online_only": (rng.random(n) < 0.22).astype(int),
            "out_of_stock": (rng.random(n) < 0.07).astype(int),
            "sephora_exclusive": (rng.random(n) < 0.28).astype(int),
            "highlights": np.where(
                rng.random(n) < 0.75, "['Vegan', 'Without Parabens']", ""
            ),
            "primary_category": [c[0] for c in categories],
            "secondary_category": [c[1] for c in categories],
            "tertiary_category": [c[2] for c in categories],
            "child_count": rng.integers(0, 5, n),
            "child_max_price": np.nan,
            "child_min_price": np.nan,
        }
    )[PRODUCT_INFO_COLUMNS]


def _review_text(
    rng: np.random.Generator, ratings: np.ndarray
) -> tuple[list[str], list[str]]:
    """Text whose sentiment follows the rating, with 12 % of texts from a neighbouring
    class, and some HTML entities, tags, URLs and emoji for the nlp pipeline to clean."""
    tone = np.where(ratings >= 4, 2, np.where(ratings == 3, 1, 0))
    flip = rng.random(len(ratings)) < 0.12
    tone = np.where(flip, np.clip(tone + rng.choice([-1, 1], len(tone)), 0, 2), tone)
    pools = (NEGATIVE_PHRASES, NEUTRAL_PHRASES, POSITIVE_PHRASES)
    texts, titles = [], []
    n_sentences = rng.integers(2, 5, len(ratings))
    noise = rng.random(len(ratings))
    for t, k, z in zip(
        tone.tolist(), n_sentences.tolist(), noise.tolist(), strict=True
    ):
        pool = pools[t]
        picks = rng.integers(0, len(pool), k)
        sentences = [pool[i] for i in picks]
        if z < 0.15:
            sentences.append(TEXT_NOISE[int(z * 100) % len(TEXT_NOISE)])
        texts.append(" ".join(sentences))
        titles.append(pool[int(picks[0])].split(".")[0][:40])
    return texts, titles


def _write_reviews(
    cfg: SampleConfig, rng: np.random.Generator, products: pd.DataFrame, out: Path
) -> int:
    reviews_dir = out / "reviews"
    reviews_dir.mkdir(parents=True, exist_ok=True)
    weights = products["weight"].to_numpy() / products["weight"].sum()
    chunk = 20_000
    written = 0
    index_pool = rng.permutation(max(cfg.n_reviews * 2, 10))
    started: set[str] = set()
    while written < cfg.n_reviews:
        n = min(chunk, cfg.n_reviews - written)
        pick = rng.choice(len(products), size=n, p=weights)
        rating = rng.choice([1, 2, 3, 4, 5], size=n, p=[0.08, 0.06, 0.08, 0.18, 0.60])
        texts, titles = _review_text(rng, rating)
        total = rng.poisson(1.5, n)
        neg = rng.binomial(total, np.where(rating >= 4, 0.1, 0.5))
        recommended = np.where(
            rating >= 4, 1.0, np.where(rating <= 2, 0.0, (rng.random(n) < 0.5) * 1.0)
        )
        recommended = np.where(rng.random(n) < 0.1, np.nan, recommended)
        days = rng.integers(0, 5 * 365, n)
        frame = pd.DataFrame(
            {
                "Unnamed: 0": index_pool[written : written + n],
                "author_id": rng.integers(10**9, 3 * 10**10, n),
                "rating": rating,
                "is_recommended": recommended,
                "helpfulness": np.where(
                    total > 0, (total - neg) / np.maximum(total, 1), np.nan
                ),
                "total_feedback_count": total,
                "total_neg_feedback_count": neg,
                "total_pos_feedback_count": total - neg,
                "submission_time": (
                    np.datetime64("2018-06-01") + days.astype("timedelta64[D]")
                ).astype(str),
                "review_text": texts,
                "review_title": np.where(rng.random(n) < 0.7, titles, ""),
                "skin_tone": rng.choice(np.array(SKIN_TONES), n),
                "eye_color": rng.choice(np.array(EYE_COLORS), n),
                "skin_type": rng.choice(np.array(SKIN_TYPES), n),
                "hair_color": rng.choice(np.array(HAIR_COLORS), n),
                "product_id": products["product_id"].to_numpy()[pick],
                "product_name": products["product_name"].to_numpy()[pick],
                "brand_name": products["brand_name"].to_numpy()[pick],
                "price_usd": products["price_usd"].to_numpy()[pick],
            }
        )
        file_of_row = rng.integers(0, len(REVIEW_FILES), n)
        for f, rows in frame.groupby(file_of_row, sort=True):
            name = REVIEW_FILES[int(f)]
            rows.to_csv(
                reviews_dir / name, mode="a", header=name not in started, index=False
            )
            started.add(name)
        written += n
    return written


@dataclass(frozen=True)
class SampleSummary:
    """What was written, for the log and for tests."""

    event_rows: dict[str, int]
    review_rows: int
    review_products: int
    mapping_rows: int
    truth_dir: str


def existing_raw_files(out: Path) -> list[Path]:
    """Raw files already in ``out`` (the generator never overwrites them)."""
    found: list[Path] = []
    for name in RAW_FILES:
        path = out / name
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found.extend(p for p in sorted(path.iterdir()) if p.is_file())
    return found


def generate(
    cfg: SampleConfig, out: Path, truth_dir: Path | None = None
) -> SampleSummary:
    """Writes events, reviews, product info and mapping into ``out``; truth beside it.

    Args:
        cfg: What to generate.
        out: The raw folder (``events/``, ``reviews/``, ``product_mapping.csv``).
        truth_dir: Where the planted structure goes (default: ``<out>_truth`` beside
            ``out``, never inside it).

    Returns:
        Counts of what was written.

    Raises:
        FileExistsError: ``out`` already holds raw files.
    """
    out = Path(out)
    truth_dir = Path(truth_dir) if truth_dir else out.parent / f"{out.name}_truth"
    existing = existing_raw_files(out)
    if existing:
        raise FileExistsError(
            f"'{out}' already holds raw data ({len(existing)} file(s), e.g. "
            f"{existing[0]}); the sample generator never overwrites files."
        )
    rng = np.random.default_rng(cfg.seed)
    cat = _catalogue(cfg, rng)
    review_products = _review_products(cfg, rng, cat)
    event_rows, preferences = _write_events(cfg, rng, cat, out)

    info = _product_info(rng, review_products)
    (out / "reviews").mkdir(parents=True, exist_ok=True)
    info.to_csv(out / "reviews" / "product_info.csv", index=False)
    review_rows = _write_reviews(cfg, rng, review_products, out)

    mapped = review_products[review_products["event_index"] >= 0]
    truth_map = pd.DataFrame(
        {
            "product_id_events": cat.product_id[mapped["event_index"].to_numpy()],
            "product_id_reviews": mapped["product_id"].to_numpy(),
        }
    )
    keep = rng.random(len(truth_map)) < cfg.mapping_coverage
    truth_map[keep].to_csv(
        out / "product_mapping.csv", index=False, quoting=csv.QUOTE_MINIMAL
    )

    truth_dir.mkdir(parents=True, exist_ok=True)
    truth_map.to_csv(truth_dir / "product_mapping_true.csv", index=False)
    pd.DataFrame(
        [(i, int(cat.product_id[p])) for i, b in enumerate(cat.bundles) for p in b],
        columns=["bundle_id", "product_id"],
    ).to_csv(truth_dir / "bundles.csv", index=False)
    pd.DataFrame(
        [(i, int(cat.product_id[p])) for i, g in enumerate(cat.groups) for p in g],
        columns=["group_id", "product_id"],
    ).to_csv(truth_dir / "view_groups.csv", index=False)
    preferences.to_csv(truth_dir / "user_preferences.csv", index=False)
    summary = SampleSummary(
        event_rows=event_rows,
        review_rows=review_rows,
        review_products=len(review_products),
        mapping_rows=int(keep.sum()),
        truth_dir=str(truth_dir),
    )
    (truth_dir / "sample_info.json").write_text(
        json.dumps({"config": asdict(cfg), "summary": asdict(summary)}, indent=2)
    )
    return summary
