"""The served session model: its files round-trip, its answers, and bad requests."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from recsys_kedro.next_item.model import (
    SessionData,
    SessionModelParams,
    fit_session_model,
)
from recsys_kedro.next_item.serving import SessionRecommenderModel, sessions_from_lists
from recsys_kedro.next_item.storage import load_session_model, save_session_model

# item i is followed by i + 1: a session ending in 7 wants 8 next
CHAINS = [list(range(s, s + 4)) for s in range(1, 30)] * 3


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    lengths = [len(s) for s in CHAINS]
    data = SessionData(
        np.concatenate([[0], np.cumsum(lengths)]), np.concatenate(CHAINS)
    )
    model = fit_session_model(data, SessionModelParams(search={}, rerank=False))
    folder = tmp_path_factory.mktemp("served")
    save_session_model(model, folder / "model")
    (folder / "serving.json").write_text(json.dumps({"top_n": 3}))
    pyfunc = SessionRecommenderModel()
    pyfunc.load_context(
        SimpleNamespace(
            artifacts={
                "session_model": str(folder / "model"),
                "serving": str(folder / "serving.json"),
            }
        )
    )
    return model, folder, pyfunc


def test_files_round_trip(served):
    model, folder, _ = served
    again = load_session_model(folder / "model")
    sessions = SessionData(np.array([0, 2, 3]), np.array([6, 7, 20]))
    for a, b in zip(
        model.recommend(sessions, 5), again.recommend(sessions, 5), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    assert again.components == model.components
    assert not list(folder.glob("**/*.pkl"))


def test_answers_a_session_and_names_its_source(served):
    _, _, pyfunc = served
    out = pyfunc.predict(
        None,
        pd.DataFrame(
            {"user_session": ["a", "b"], "session_items": [[6, 7], json.dumps([999])]}
        ),
    )
    a = out[out["user_session"] == "a"]
    assert a["rank"].tolist() == [1, 2, 3]
    assert a["product_id"].iloc[0] == 8  # the chain's next item
    assert set(a["source"]) == {"session"}
    b = out[out["user_session"] == "b"]
    assert set(b["source"]) == {"popular"}  # an unknown product only
    assert (
        len(pyfunc.predict(None, pd.DataFrame({"session_items": [[6]]}), {"k": 5})) == 5
    )


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"items": [[1]]}), "needs a 'session_items' column"),
        (pd.DataFrame({"session_items": [5]}), "must be a list"),
        (pd.DataFrame({"session_items": ["[1, "]}), "is not a JSON list"),
        (pd.DataFrame({"session_items": [["a", 2]]}), "integer product ids"),
        (pd.DataFrame({"session_items": [[1.5]]}), "integer product ids"),
    ],
)
def test_bad_requests_are_clear_errors(served, frame, message):
    _, _, pyfunc = served
    with pytest.raises(ValueError, match=message):
        pyfunc.predict(None, frame)


def test_sessions_from_lists_keeps_order():
    data = sessions_from_lists([[3, 1], [], [2.0]])
    assert data.ptr.tolist() == [0, 2, 2, 3]
    assert data.items.tolist() == [3, 1, 2]
