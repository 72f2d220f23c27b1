"""The fpgrowth pipeline: mine all baskets, evaluate rules mined before cf's cut-off."""

from kedro.pipeline import Node, Pipeline

from recsys_kedro.evaluation.split import split_node
from recsys_kedro.pipelines.fpgrowth.nodes import (
    build_baskets,
    crosssell_queries,
    evaluate_crosssell,
    hybrid_recommendations,
    mine_rules,
    rules_reports,
)


def _mine(events: str) -> Pipeline:
    """Baskets -> frequent itemsets and rules, from ``events``."""
    return Pipeline(
        [
            Node(
                func=build_baskets,
                inputs=[events, "params:fpgrowth"],
                outputs=["fpgrowth_baskets", "fpgrowth_basket_stats"],
                name="build_baskets_node",
            ),
            Node(
                func=mine_rules,
                inputs=["fpgrowth_baskets", "params:fpgrowth"],
                outputs=[
                    "frequent_itemsets",
                    "association_rules",
                    "fpgrowth_mining_stats",
                ],
                name="mine_rules_node",
            ),
        ],
        tags="mining",
    )


def create_pipeline(**kwargs) -> Pipeline:
    """Rules on all events, their reports, the hybrid table and the cross-sell evaluation."""
    report = Pipeline(
        [
            Node(
                func=rules_reports,
                inputs=[
                    "frequent_itemsets",
                    "association_rules",
                    "fpgrowth_basket_stats",
                    "fpgrowth_mining_stats",
                    "params:fpgrowth",
                ],
                outputs=[
                    "frequent_itemsets_report",
                    "association_rules_report",
                    "top_rules",
                    "fpgrowth_metrics",
                ],
                name="rules_reports_node",
            ),
            Node(
                func=hybrid_recommendations,
                inputs=[
                    "product_recommendations_long",
                    "association_rules",
                    "params:fpgrowth",
                ],
                outputs="hybrid_recommendations",
                name="hybrid_recommendations_node",
            ),
        ]
    )
    mine_train = Pipeline(
        _mine("events"),
        namespace="fpgrowth_evaluation",
        inputs={"events": "train_events"},
        outputs={
            "fpgrowth_baskets": "fpgrowth_train_baskets",
            "fpgrowth_basket_stats": "fpgrowth_train_basket_stats",
            "frequent_itemsets": "fpgrowth_train_itemsets",
            "association_rules": "fpgrowth_train_rules",
            "fpgrowth_mining_stats": "fpgrowth_train_mining_stats",
        },
        parameters={"params:fpgrowth": "params:fpgrowth"},
    )
    evaluate = Pipeline(
        [
            split_node(),
            Node(
                func=crosssell_queries,
                inputs=["test_events", "params:fpgrowth"],
                outputs="crosssell_queries",
                name="crosssell_queries_node",
            ),
            Node(
                func=evaluate_crosssell,
                inputs=[
                    "crosssell_queries",
                    "fpgrowth_train_rules",
                    "cf_train_neighbours",
                    "cf_train_popular_products",
                    "train_events",
                    "params:fpgrowth",
                ],
                outputs=["crosssell_evaluation_table", "crosssell_evaluation_metrics"],
                name="evaluate_crosssell_node",
            ),
        ]
    )
    return Pipeline(
        [_mine("events_clean"), report, mine_train, evaluate], tags="fpgrowth"
    )
