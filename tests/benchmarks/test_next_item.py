"""The next-item benchmark command: bad input, the JSON it writes, and a run on real rows."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys_kedro.benchmarks.next_item import (
    BenchmarkInputError,
    main,
    read_sessions,
)
from recsys_kedro.next_item.model import (
    SessionData,
    SessionModelParams,
    fit_session_model,
)

DIGINETICA = (
    Path(__file__).resolve().parents[2].parent / "shared" / "data" / "diginetica"
)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _synthetic(folder: Path, n_train: int = 1500, n_test: int = 150, seed: int = 0):
    """Sessions that walk along chains of items: item i is mostly followed by i + 1."""
    rng = np.random.default_rng(seed)

    def sessions(n, first_id):
        rows = []
        for s in range(n):
            start = int(rng.integers(0, 60))
            length = int(rng.integers(2, 7))
            for p in range(length):
                rows.append((first_id + s, start + p + int(rng.random() < 0.1), p))
        return pd.DataFrame(rows, columns=["session_id", "item_id", "position"])

    folder.mkdir(parents=True, exist_ok=True)
    sessions(n_train, 1).to_csv(folder / "train_sessions.csv", index=False)
    with gzip.open(folder / "test_sessions.csv.gz", "wt") as f:
        sessions(n_test, n_train + 1).to_csv(f, index=False)
    return folder


def test_reads_sessions_in_file_order_and_by_position(tmp_path):
    path = _write(
        tmp_path / "s.csv",
        "session_id,item_id,position\n9,5,1\n9,4,0\n3,7,0\n3,8,1\n3,6,2\n",
    )
    data = read_sessions(path)
    assert data.ptr.tolist() == [0, 2, 5]
    assert data.items.tolist() == [4, 5, 7, 8, 6]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        ("session_id,item_id,position\n", "header but no rows"),
        ("session_id,item,position\n1,2,0\n", r"lacks the column\(s\) \['item_id'\]"),
        ("session_id,item_id,position\n1,2,0\n1,x7,1\n", "non-integer item_id"),
        ("session_id,item_id,position\n1,2,0\n1,3,\n", "non-integer position"),
        ("session_id,item_id,position\n1,2.5,0\n", "non-integer item_id"),
        (
            "session_id,item_id,position\n1,2,0\n1,3,0\n",
            "repeated .session_id, position",
        ),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path, text, message):
    with pytest.raises(BenchmarkInputError, match=message):
        read_sessions(_write(tmp_path / "s.csv", text))


def test_command_says_what_is_wrong_and_exits_2(tmp_path, capsys):
    _write(tmp_path / "train_sessions.csv", "session_id,item_id,position\n1,2,0\n")
    assert main(["--sessions", str(tmp_path)]) == 2
    assert (
        "neither test_sessions.csv nor test_sessions.csv.gz" in capsys.readouterr().err
    )
    _write(tmp_path / "test_sessions.csv", "session_id,item_id\n1,2\n")
    assert main(["--sessions", str(tmp_path)]) == 2
    assert "lacks the column(s) ['position']" in capsys.readouterr().err
    assert main(["--sessions", str(tmp_path), "--models", "nope"]) == 2


def test_command_writes_every_model_and_the_chain_is_learnt(tmp_path):
    folder = _synthetic(tmp_path / "bench")
    out = tmp_path / "result.json"
    assert (
        main(
            [
                "--sessions",
                str(folder),
                "--models",
                "popularity,sequential_rules",
                "session_knn",
                "blend",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    got = json.loads(out.read_text())
    test = pd.read_csv(folder / "test_sessions.csv.gz")
    assert got["cases"] == int((test.groupby("session_id").size() - 1).sum())
    assert set(got["models"]) == {
        "popularity",
        "sequential_rules",
        "session_knn",
        "blend",
    }
    keys = {
        "hit_rate_at_10",
        "mrr_at_10",
        "hit_rate_at_20",
        "mrr_at_20",
        "coverage_at_20",
    }
    for metrics in got["models"].values():
        assert keys <= set(metrics)
    # the next item is i + 1 in 90 % of steps: rules find it, popularity (~60 flat
    # items) cannot
    assert got["models"]["sequential_rules"]["hit_rate_at_10"] > 0.8
    assert got["models"]["popularity"]["hit_rate_at_10"] < 0.4
    assert got["seconds"] > 0


@pytest.mark.integration  # several seconds: left out of make test-fast
@pytest.mark.skipif(
    not DIGINETICA.is_dir(), reason=f"{DIGINETICA} is absent (the real DIGINETICA rows)"
)
def test_real_rows_of_diginetica(tmp_path):
    """A slice of the real benchmark: the newest 40,000 training sessions and the first
    1,500 test sessions; the tuned models must beat popularity by far."""
    train = pd.read_csv(DIGINETICA / "train_sessions.csv.gz")
    keep = train["session_id"].drop_duplicates().iloc[-40000:]
    folder = tmp_path / "digi"
    folder.mkdir()
    train[train["session_id"].isin(keep)].to_csv(
        folder / "train_sessions.csv", index=False
    )
    test = pd.read_csv(DIGINETICA / "test_sessions.csv.gz")
    first = test["session_id"].drop_duplicates().iloc[:1500]
    test[test["session_id"].isin(first)].to_csv(
        folder / "test_sessions.csv", index=False
    )
    out = tmp_path / "digi.json"
    assert main(["--sessions", str(folder), "--out", str(out)]) == 0
    got = json.loads(out.read_text())
    m = got["models"]
    assert m["popularity"]["hit_rate_at_20"] < 0.05
    assert m["session_knn"]["hit_rate_at_20"] > 0.3
    assert m["blend"]["hit_rate_at_20"] >= m["sequential_rules"]["hit_rate_at_20"]
    assert got["tuning"]["val_sessions"] == 4000


@pytest.mark.integration  # several seconds: left out of make test-fast
@pytest.mark.skipif(
    not DIGINETICA.is_dir(), reason=f"{DIGINETICA} is absent (the real DIGINETICA rows)"
)
def test_reranked_recommendations_on_real_rows():
    """The newest 20,000 real training sessions: tuning keeps the re-ranker, and its
    recommendations say where they come from and are ordered by its score."""

    train = read_sessions(DIGINETICA / "train_sessions.csv.gz")
    model = fit_session_model(
        train.slice(train.n_sessions - 20000, train.n_sessions),
        SessionModelParams(search={}),
    )
    assert model.reranker is not None, model.tuning["rerank"]
    known = model.index.item_ids[:3]
    sessions = SessionData(np.array([0, 2, 3]), np.array([known[0], known[1], -5]))
    ids, scores, answered = model.recommend(sessions, 10)
    assert answered.tolist() == [True, False]
    assert (ids >= 0).all()
    assert (np.diff(scores[0]) <= 0).all()  # the re-ranker's order
    popular = model.index.item_ids[np.argsort(-model.index.clicks, kind="stable")[:10]]
    assert ids[1].tolist() == popular.tolist()  # nothing known: the popular items
