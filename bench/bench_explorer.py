"""How fast the explorer answers: each page rendered for one lookup, warm.

Opens a project's outputs as ``make app`` does (``load_outputs``), renders each page
with Streamlit's AppTest (the whole script run: the lookups, the tables, the charts'
specs; not the browser's drawing) for a product, a user and a session taken from the
outputs, ``--runs`` times after one warm-up (which loads the registered models and the
small tables once, as the served app does on its first page), and prints the median
seconds per page, and the user page's scan of the events alone. Lookups differ per run
(the next product, user, session), so no run
answers from a previous one.

    .venv/bin/python bench/bench_explorer.py --project /tmp/exp4m/project --runs 7
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from deltalake import DeltaTable
from streamlit.testing.v1 import AppTest

from recsys_kedro.explorer.outputs import load_outputs

APP = (
    Path(__file__).resolve().parents[1] / "src" / "recsys_kedro" / "explorer" / "app.py"
)


def _render(outputs, **query: str) -> float:
    app = AppTest.from_file(str(APP), default_timeout=300)
    app.session_state["outputs"] = outputs
    for key, value in query.items():
        app.query_params[key] = value
    start = time.perf_counter()
    app.run()
    seconds = time.perf_counter() - start
    if app.exception:
        raise RuntimeError(f"{query}: {app.exception[0].value}")
    return seconds


def main() -> None:
    """Prints the events, the lookups and the median seconds per page."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=Path("."))
    parser.add_argument("--env", default=None)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    start = time.perf_counter()
    outputs = load_outputs(args.project, args.env)
    opened = time.perf_counter() - start
    events_uri = outputs.tables["events_clean"][0]
    events = DeltaTable(events_uri).to_pyarrow_dataset()
    n_events = events.count_rows()
    features = outputs.table("product_event_features")
    products = features.sort_values("views", ascending=False)["product_id"].tolist()
    users = (
        events.to_table(columns=["user_id"])
        .to_pandas()["user_id"]
        .value_counts()
        .index[: args.runs + 1]
        .tolist()
    )
    sequences = DeltaTable(
        str(Path(events_uri).parents[1] / "05_model_input" / "session_test_sequences")
    ).to_pandas()
    longer = sequences[sequences["items"].map(len) >= 3]["items"].tolist()
    pages = {
        "product": [{"q": str(p)} for p in products[: args.runs + 1]],
        "user": [{"user": str(u)} for u in users],
        "session": [
            {"items": ", ".join(str(i) for i in items[:3])}
            for items in longer[: args.runs + 1]
        ],
        "models": [{}] * (args.runs + 1),
    }
    lines = [f"{n_events:,} events; outputs opened in {opened:.1f} s"]
    for page, queries in pages.items():
        _render(outputs, page=page, **queries[0])  # warm-up
        seconds = [_render(outputs, page=page, **q) for q in queries[1:]]
        lines.append(
            f"{page:<8} median {statistics.median(seconds):.3f} s  "
            f"({' / '.join(f'{s:.3f}' for s in seconds)})"
        )
    scans = []
    for user in users[1:]:
        start = time.perf_counter()
        outputs.user_events(user)
        scans.append(time.perf_counter() - start)
    lines.append(
        f"user events scan alone median {statistics.median(scans):.3f} s  "
        f"({' / '.join(f'{s:.3f}' for s in scans)})"
    )
    print("\n".join(lines))  # noqa: T201


if __name__ == "__main__":
    main()
