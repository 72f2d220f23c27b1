"""The data_processing pipeline."""

from kedro.pipeline import Node, Pipeline

from recsys_kedro.pipelines.data_processing.nodes import (
    build_data_quality_report,
    clean_events,
    clean_product_mapping,
    clean_products,
    clean_reviews,
)


def create_pipeline(**kwargs) -> Pipeline:
    """Raw files -> clean and rejected Delta tables -> data-quality report."""
    return Pipeline(
        [
            Node(
                func=clean_events,
                inputs=["events_raw", "params:data_processing"],
                outputs=["events_clean", "events_rejected"],
                name="clean_events_node",
            ),
            Node(
                func=clean_reviews,
                inputs=["reviews_raw", "params:data_processing"],
                outputs=["reviews_clean", "reviews_rejected"],
                name="clean_reviews_node",
            ),
            Node(
                func=clean_products,
                inputs=["products_raw", "params:data_processing"],
                outputs=["products_clean", "products_rejected"],
                name="clean_products_node",
            ),
            Node(
                func=clean_product_mapping,
                inputs=[
                    "product_mapping_raw",
                    "events_clean",
                    "products_clean",
                    "reviews_clean",
                ],
                outputs=["product_mapping_clean", "product_mapping_rejected"],
                name="clean_product_mapping_node",
            ),
            Node(
                func=build_data_quality_report,
                inputs=[
                    "events_raw",
                    "events_clean",
                    "events_rejected",
                    "reviews_raw",
                    "reviews_clean",
                    "reviews_rejected",
                    "products_raw",
                    "products_clean",
                    "products_rejected",
                    "product_mapping_raw",
                    "product_mapping_clean",
                    "product_mapping_rejected",
                    "params:data_processing",
                ],
                outputs=["data_quality_report", "data_quality_metrics"],
                name="build_data_quality_report_node",
            ),
        ],
        tags="data_processing",
    )
