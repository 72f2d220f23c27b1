"""fpgrowth nodes on tiny baskets, checked by hand and against mlxtend."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest
from mlxtend.frequent_patterns import association_rules as mlx_rules
from mlxtend.frequent_patterns import fpgrowth as mlx_fpgrowth
from mlxtend.preprocessing import TransactionEncoder

from recsys_kedro.pipelines.fpgrowth.nodes import (
    BasketError,
    build_baskets,
    crosssell_queries,
    hybrid_recommendations,
    mine_rules,
    rules_reports,
)
from recsys_kedro.pipelines.fpgrowth.params import FpGrowthParams
from tests.params import typed


def _baskets(spark, lists):
    return spark.createDataFrame(
        [(i, sorted(set(x))) for i, x in enumerate(lists)],
        "basket_id long, items array<long>",
    )


def test_baskets_dedupe_filter_and_drop_large(events, fp_params):
    rows = [
        (1, 10, "cart", 0, "a"),
        (1, 10, "purchase", 0, "a"),  # same product twice: once in the basket
        (1, 20, "cart", 0, "a"),
        (1, 30, "view", 0, "a"),  # a view does not enter the basket
        (2, 10, "cart", 0, "b"),
        (3, 10, "cart", 0, "c"),
        (3, 20, "cart", 0, "c"),
        (3, 30, "cart", 0, "c"),
    ]
    baskets, stats = build_baskets(
        events(rows), typed("fpgrowth", {**fp_params, "max_basket_size": 2})
    )
    got = sorted(tuple(r.items) for r in baskets.collect())
    assert got == [(10,), (10, 20)]
    assert stats["baskets"] == 2 and stats["baskets_dropped_too_large"] == 1
    assert stats["baskets_with_2_or_more"] == 2  # counted before the drop: a and c
    by_user, _ = build_baskets(
        events(rows), typed("fpgrowth", {**fp_params, "basket": "user_id"})
    )
    assert sorted(tuple(r.items) for r in by_user.collect()) == [
        (10,),
        (10, 20),
        (10, 20, 30),
    ]
    with pytest.raises(BasketError, match="No event of the types"):
        build_baskets(events([(1, 10, "view")]), typed("fpgrowth", fp_params))


def test_min_count_below_two_is_refused(fp_params):
    with pytest.raises(ValueError, match="at least 2 baskets"):
        FpGrowthParams.model_validate({**fp_params, "min_count": 1})


BASKETS = [
    [1, 2, 3],
    [1, 2],
    [1, 2, 4],
    [2, 3],
    [1, 3],
    [1, 2, 3, 4],
    [4, 5],
    [2, 4],
    [1, 2, 5],
    [3, 5],
]


def test_itemsets_by_hand_at_min_count_four(spark, fp_params):
    itemsets, rules, stats = mine_rules(
        _baskets(spark, BASKETS),
        typed("fpgrowth", {**fp_params, "min_count": 4, "min_confidence": 0.5}),
    )
    got = {tuple(r.items): r.freq for r in itemsets.collect()}
    # counted by hand over the 10 baskets
    assert got == {(1,): 6, (2,): 7, (3,): 5, (4,): 4, (1, 2): 5}
    assert stats["min_count"] == 4 and stats["frequent_itemsets"] == 5
    by_rule = {(tuple(r.antecedent), tuple(r.consequent)): r for r in rules.collect()}
    # 1 -> 2: 5/6; 2 -> 1: 5/7 (both >= 0.5); lift = conf / support(consequent)
    assert set(by_rule) == {((1,), (2,)), ((2,), (1,))}
    assert by_rule[(1,), (2,)].confidence == pytest.approx(5 / 6)
    assert by_rule[(1,), (2,)].lift == pytest.approx((5 / 6) / 0.7)
    assert by_rule[(1,), (2,)].support == pytest.approx(0.5)
    assert by_rule[(1,), (2,)].rule == "if [1] then [2]: confidence 83 %, lift 1.2"


def test_same_itemsets_and_rules_as_mlxtend(spark, fp_params):
    rng = pd.Series(range(300)).sample(frac=1, random_state=3).to_numpy()
    baskets = [
        sorted({int(x) % 9 for x in rng[i : i + 1 + (i % 5)]}) for i in range(0, 240, 2)
    ]
    min_count, min_conf = 6, 0.3
    itemsets, rules, _ = mine_rules(
        _baskets(spark, baskets),
        typed(
            "fpgrowth",
            {**fp_params, "min_count": min_count, "min_confidence": min_conf},
        ),
    )
    encoder = TransactionEncoder()
    onehot = pd.DataFrame(
        encoder.fit(baskets).transform(baskets), columns=encoder.columns_
    )
    ref = mlx_fpgrowth(onehot, min_support=min_count / len(baskets), use_colnames=True)
    expected = {
        frozenset(s): sup
        for s, sup in zip(ref["itemsets"], ref["support"], strict=True)
    }
    got = {frozenset(r.items): r.support for r in itemsets.collect()}
    assert got.keys() == expected.keys()
    for key, support in expected.items():
        assert got[key] == pytest.approx(support)
    ref_rules = mlx_rules(ref, metric="confidence", min_threshold=min_conf)
    ref_rules = ref_rules[
        ref_rules["consequents"].map(len) == 1
    ]  # Spark: one consequent
    expected_rules = {
        (frozenset(a), frozenset(c)): (conf, lift)
        for a, c, conf, lift in zip(
            ref_rules["antecedents"],
            ref_rules["consequents"],
            ref_rules["confidence"],
            ref_rules["lift"],
            strict=True,
        )
    }
    got_rules = {
        (frozenset(r.antecedent), frozenset(r.consequent)): (r.confidence, r.lift)
        for r in rules.collect()
    }
    assert got_rules.keys() == expected_rules.keys()
    for key, (conf, lift) in expected_rules.items():
        assert got_rules[key] == pytest.approx((conf, lift))
    assert len(got_rules) > 5 and any(len(a) > 1 for a, _ in got_rules)


def test_queries_hide_the_last_product(events, fp_params):
    rows = [
        (1, 30, "cart", 2, "a"),
        (1, 10, "cart", 0, "a"),
        (1, 20, "purchase", 1, "a"),
        (1, 10, "purchase", 3, "a"),  # 10 first appeared at day 0
        (2, 40, "cart", 0, "b"),  # one product: no query
        (3, 50, "view", 0, "c"),
        (3, 60, "cart", 1, "c"),  # only one basket-type product
    ]
    got = [
        (r.query, r.hidden)
        for r in crosssell_queries(events(rows), typed("fpgrowth", fp_params)).collect()
    ]
    assert got == [([10, 20], 30)]


def test_hybrid_table_by_hand(spark, fp_params):
    neighbours = spark.createDataFrame(
        [(1, 1, 2, 0.8), (1, 2, 3, 0.4)],
        "product_id long, rank int, rec_product_id long, score double",
    )
    rules = spark.createDataFrame(
        [
            ([1], [3], 0.5, 4.0, 0.1),
            ([1], [4], 0.5, 2.0, 0.1),
            ([1, 2], [5], 0.9, 9.0, 0.1),
        ],
        "antecedent array<long>, consequent array<long>, confidence double, lift double, support double",
    )
    out = hybrid_recommendations(
        neighbours,
        rules,
        typed(
            "fpgrowth",
            {**fp_params, "crosssell": {**fp_params["crosssell"], "blend_weight": 0.5}},
        ),
    )
    got = [(r.rec_product_id, r.score, r.source) for r in out.orderBy("rank").collect()]
    # rules of [1] normalised by 2.0: 3 -> 1.0, 4 -> 0.5; the two-product rule is not used
    assert got == [
        (3, pytest.approx(0.5 * 1.0 + 0.5 * 0.4), "both"),
        (2, pytest.approx(0.5 * 0.8), "item_cosine"),
        (4, pytest.approx(0.5 * 0.5), "rules"),
    ]
    assert list(itertools.chain(out.columns)) == [
        "product_id",
        "rank",
        "rec_product_id",
        "score",
        "source",
    ]


def test_reports_sort_what_a_table_read_gives_in_any_order(spark, fp_params):
    """A Delta table read back has no row order; the reports take the highest lift."""
    rules = spark.createDataFrame(
        [
            ([1], [2], 0.5, 2.0, 0.1, "if [1] then [2]"),
            ([3], [4], 0.9, 9.0, 0.1, "if [3] then [4]"),
            ([2], [1], 0.6, 2.0, 0.1, "if [2] then [1]"),
            ([5], [6], 0.7, 5.0, 0.1, "if [5] then [6]"),
        ],
        "antecedent array<bigint>, consequent array<bigint>, confidence double, "
        "lift double, support double, rule string",
    ).repartition(3)
    itemsets = spark.createDataFrame(
        [([1], 3, 0.3), ([3, 4], 7, 0.7), ([2], 5, 0.5)],
        "items array<bigint>, freq bigint, support double",
    ).repartition(2)
    params = typed("fpgrowth", {**fp_params, "artifact_rows": 3, "top_rules": 2})
    itemsets_pdf, rules_pdf, text, _ = rules_reports(
        itemsets,
        rules,
        {"baskets": 10.0},
        {"frequent_itemsets": 3.0, "association_rules": 4.0},
        params,
    )
    assert list(rules_pdf["lift"]) == [9.0, 5.0, 2.0]
    assert list(rules_pdf["rule"]) == [
        "if [3] then [4]",
        "if [5] then [6]",
        "if [2] then [1]",
    ]
    assert text.splitlines()[1:] == ["if [3] then [4]", "if [5] then [6]"]
    assert list(itemsets_pdf["items"]) == ["3 4", "2", "1"]
