"""The recommendations explorer: ``make app`` (``streamlit run`` this file).

Four pages over the outputs of ``kedro run`` (:mod:`recsys_kedro.explorer.outputs`):
Product, User, Session and Models. Each page's state is in the address (``?page=product&
q=lipstick``), so a view can be shared or opened by a test. Arguments after ``--``:
``--env <kedro env>`` and ``--project <folder>``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from recsys_kedro.explorer.outputs import (
    OutputMissing,
    ProjectOutputs,
    UnknownId,
    load_outputs,
)

PAGES = {"product": "Product", "user": "User", "session": "Session", "models": "Models"}


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--env", default=None)
    parser.add_argument("--project", default=".")
    return parser.parse_known_args(sys.argv[1:])[0]


@st.cache_resource(show_spinner="Opening the project's outputs...")
def _open(project: str, env: str | None) -> ProjectOutputs:
    return load_outputs(Path(project), env)


def _outputs() -> ProjectOutputs | None:
    """The outputs (a test may put its own in the session state)."""
    if "outputs" in st.session_state:
        return st.session_state["outputs"]
    args = _args()
    try:
        return _open(args.project, args.env)
    except Exception as exc:  # noqa: BLE001 - shown on the page, not a crash
        st.error(
            f"Cannot open the project's outputs in {Path(args.project).resolve()} "
            f"(env {args.env or 'local'}): {exc}"
        )
        return None


def _text(value: object, missing: str = "-") -> str:
    """A text field, or ``missing`` for None and NaN (pandas' missing value)."""
    return value if isinstance(value, str) and value else missing


def _ids(text: str) -> list[int] | None:
    """Integer ids from text separated by commas or spaces; None if one is not."""
    parts = [p for p in text.replace(",", " ").split() if p]
    if not all(p.isdigit() for p in parts):
        return None
    return [int(p) for p in parts]


def _query_input(label: str, param: str, hint: str) -> str | None:
    """A text box kept in the address as ``?<param>=``; None (and the hint) if empty."""
    text = st.text_input(label, value=st.query_params.get(param, ""), key=param)
    st.query_params[param] = text
    if not text.strip():
        st.info(hint)
        return None
    return text


def _recommendations(recs: pd.DataFrame, product: str = "product_id") -> None:
    """A ranked list as a static table (its text is in the page, for the browser)."""
    columns = ["rank", product, "name", "brand", "score", "source"]
    st.table(recs[columns].set_index("rank"))


def _guarded(render, *args) -> None:
    """Runs a page part; a missing output or an unknown id is a message, not a crash."""
    try:
        render(*args)
    except OutputMissing as exc:
        st.warning(str(exc))
    except UnknownId as exc:
        st.info(str(exc))


# -- Product ----------------------------------------------------------------------------


def product_page(out: ProjectOutputs) -> None:
    """Search, then the chosen product's facts, funnel, neighbours and rules."""
    st.header("Product")
    query = _query_input(
        "Search by product id, name or brand",
        "q",
        "Type a product id, part of a name or a brand.",
    )
    if query is None:
        return
    found = out.search_products(query)
    if found.empty:
        st.info(f"No product matches {query!r}.")
        return
    labels = {
        int(r.product_id): f"{r.product_id} - {_text(r.name, 'unnamed')} "
        f"({_text(r.brand, 'no brand')})"
        for r in found.itertuples()
    }
    chosen = st.selectbox(
        f"{len(found)} match(es)", list(labels), format_func=labels.get, key="product"
    )
    _guarded(_product_details, out, int(chosen))


def _product_details(out: ProjectOutputs, product_id: int) -> None:
    """One product's facts, funnel, similar products and rules."""
    facts = out.product(product_id)
    cols = st.columns(4)
    cols[0].metric("Brand", _text(facts.get("brand")))
    cols[1].metric("Category", _text(facts.get("category")))
    cols[2].metric("Mean price", f"{facts['price']:.2f}")
    cols[3].metric("Name", _text(facts.get("name")))
    cols = st.columns(3)
    cols[0].metric(
        "Reviews", "-" if facts["review_count"] is None else facts["review_count"]
    )
    cols[1].metric(
        "Mean rating",
        "-" if facts["mean_rating"] is None else f"{facts['mean_rating']:.2f}",
    )
    cols[2].metric(
        "Sentiment (VADER, -1..1)",
        "-" if facts["sentiment"] is None else f"{facts['sentiment']:+.2f}",
    )
    if facts.get("sentiment_missing"):
        st.caption(facts["sentiment_missing"])
    elif facts["review_count"] is None:
        st.caption("No reviewed product maps to this one.")

    funnel = pd.DataFrame(
        {"step": list(facts["funnel"]), "events": list(facts["funnel"].values())}
    )
    st.subheader("Funnel")
    st.altair_chart(
        alt.Chart(funnel)
        .mark_bar()
        .encode(
            x=alt.X("step:N", sort=list(facts["funnel"]), title=None),
            y=alt.Y("events:Q"),
            tooltip=["step", "events"],
        ),
        width="stretch",
    )
    st.subheader("Similar products (item-item cosine)")
    _guarded(
        lambda: _recommendations(out.similar_products(product_id), "rec_product_id")
    )
    st.subheader("Bought together (association rules)")

    def rules() -> None:
        together = out.bought_together(product_id)
        if together.empty:
            st.info("No rule starts from this product.")
            return
        for sentence in together["in words"].head(5):
            st.markdown(f"- {sentence}")
        st.dataframe(together.drop(columns=["in words"]), hide_index=True)

    _guarded(rules)


# -- User -------------------------------------------------------------------------------


def user_page(out: ProjectOutputs) -> None:
    """A user id, then their history, recommendations and what came next."""
    st.header("User")
    text = _query_input("User id", "user", "Type a user id.")
    if text is None:
        return
    ids = _ids(text)
    if ids is None or len(ids) != 1:
        st.error(f"{text!r} is not a user id (a whole number).")
        return
    _guarded(_user_details, out, ids[0])


def _user_details(out: ProjectOutputs, user_id: int) -> None:
    """One user's timeline, recommendations and hits after the cut-off."""
    events = out.user_events(user_id)
    st.subheader(f"History: {len(events):,} events")
    latest = events.tail(out.history_shown)
    if len(latest) < len(events):
        st.caption(
            f"The timeline and the table show the latest {len(latest):,} of "
            f"{len(events):,} events."
        )
    timeline = latest.assign(event_time=pd.to_datetime(latest["event_time"], utc=True))
    st.altair_chart(
        alt.Chart(timeline)
        .mark_circle(size=80)
        .encode(
            x=alt.X("event_time:T", title=None),
            y=alt.Y(
                "event_type:N",
                sort=["view", "cart", "remove_from_cart", "purchase"],
                title=None,
            ),
            color="event_type:N",
            tooltip=["event_time", "event_type", "product_id", "price"],
        ),
        width="stretch",
    )
    st.dataframe(latest, hide_index=True)
    st.subheader("Recommendations")
    _guarded(lambda: _recommendations(out.user_recommendations(user_id)))
    st.caption("source: the part of the cf model that made each recommendation.")

    def next_steps() -> None:
        came = out.what_came_next(user_id, events)
        if came is None:
            st.info(
                f"No event after the evaluation cut-off ({out.cutoff:%Y-%m-%d %H:%M}): "
                "nothing to check recommendations against."
            )
            return
        hits = int(came["hit"].sum())
        st.subheader(
            f"After the cut-off: {hits} of {len(came)} products were recommended"
        )
        st.caption(
            "Recommended by the item-cosine model fitted on the events before "
            f"{out.cutoff:%Y-%m-%d %H:%M} from this user's events before it."
        )
        st.dataframe(
            came.assign(result=came["hit"].map({True: "hit", False: "miss"}))[
                ["product_id", "name", "first_event", "event_types", "result"]
            ],
            hide_index=True,
        )

    _guarded(next_steps)


# -- Session ----------------------------------------------------------------------------


def session_page(out: ProjectOutputs) -> None:
    """Products in order, then the session model's next products."""
    st.header("Session")
    text = _query_input(
        "Products of the session so far, in order (ids separated by commas)",
        "items",
        "Type the product ids a shopper has looked at, oldest first.",
    )
    if text is None:
        return
    items = _ids(text)
    if items is None:
        st.error(f"{text!r}: product ids are whole numbers separated by commas.")
        return
    known = set(out.products["product_id"])
    unknown = [i for i in items if i not in known]
    if unknown:
        st.warning(f"Not in the event logs (the model ignores them): {unknown}")

    def answer() -> None:
        recs = out.next_items(items)
        st.subheader("Next products")
        _recommendations(recs)

    _guarded(answer)


# -- Models -----------------------------------------------------------------------------

EVALUATIONS = {
    "cf_evaluation": ("cf: users' next products", "hit_rate", "segment == 'all'"),
    "sessions_evaluation": ("sessions: the next item", "hit_rate_at_10", None),
    "crosssell_evaluation": ("fpgrowth: cross-sell", "hit_rate", None),
}


def models_page(out: ProjectOutputs) -> None:
    """Evaluation charts, the engagement table, data quality, EDA pictures."""
    st.header("Models")
    for name, (title, metric, where) in EVALUATIONS.items():
        st.subheader(title)
        _guarded(_evaluation_chart, out, name, metric, where)
    st.subheader("engagement: the level a view reaches")
    _guarded(lambda: st.dataframe(out.report("engagement_evaluation"), hide_index=True))
    st.subheader("Data quality: rows in, clean, rejected")
    _guarded(_quality, out)
    st.subheader("Exploratory pictures")

    def pictures() -> None:
        for path in out.eda_pictures():
            st.image(str(path), caption=path.stem.replace("_", " "))

    _guarded(pictures)


def _evaluation_chart(
    out: ProjectOutputs, name: str, metric: str, where: str | None
) -> None:
    """One evaluation table as bars with the intervals of their differences."""
    table = out.report(name)
    if where:
        table = table.query(where)
    low, high = f"{metric}_diff_low", f"{metric}_diff_high"
    base = table[metric] - table[f"{metric}_diff"]
    shown = table.assign(low=base + table[low], high=base + table[high])
    bars = (
        alt.Chart(shown)
        .mark_bar()
        .encode(
            x=alt.X(f"{metric}:Q"),
            y=alt.Y("model:N", sort=None),
            tooltip=["model", metric, low, high],
        )
    )
    errors = (
        alt.Chart(shown)
        .mark_errorbar()
        .encode(
            x=alt.X(
                "low:Q",
                title=f"{metric}; lines: 95% paired-bootstrap interval against "
                "the reference model",
            ),
            x2="high:Q",
            y=alt.Y("model:N", sort=None),
        )
    )
    st.altair_chart(bars + errors, width="stretch")


def _quality(out: ProjectOutputs) -> None:
    """The data-quality report: rows in, clean and rejected by reason per table."""
    report = out.report("data_quality_report")
    rows = [
        {
            "table": table,
            "rows in": facts.get("rows_in"),
            "clean": facts.get("clean"),
            "rejected": facts.get("rejected"),
            "reason": reason,
            "rows": count,
        }
        for table, facts in report["tables"].items()
        for reason, count in (facts.get("rejected_by_check") or {"-": 0}).items()
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True)


# -- the app ----------------------------------------------------------------------------


def main() -> None:
    """Opens the outputs and renders the page the address names."""
    st.set_page_config(
        page_title="recsys_kedro explorer",
        layout="wide",
        initial_sidebar_state="expanded",
    )
    st.title("recsys_kedro explorer")
    out = _outputs()
    if out is None:
        return
    current = st.query_params.get("page", "product")
    if current not in PAGES:
        current = "product"
    page = st.sidebar.radio(
        "Page", list(PAGES), index=list(PAGES).index(current), format_func=PAGES.get
    )
    st.query_params["page"] = page
    render = {"product": product_page, "user": user_page, "session": session_page,
              "models": models_page}[page]  # fmt: skip
    _guarded(render, out)


main()
