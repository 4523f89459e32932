"""Sweep grids and records, time to accuracy, seed groups and the diff of two runs, on run
directories written by the project's own recorder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mnist_tui.errors import ConfigError
from mnist_tui.runs import compare, milestones, store
from mnist_tui.runs import sweep as sw
from tests.experiments_helpers import curve_run, labels


# ----------------------------------------------------------------------------- the grid
def test_the_grid_is_the_product_of_every_list_with_seeds_fastest() -> None:
    plan = sw.plan_sweep({"preset": "mlp", "learning_rate": "1e-4, 1e-3,1e-2", "batch_size": "32,128",
                          "epochs": "2"}, "0,1")
    assert plan.axes == {"preset": ["mlp"], "learning_rate": [1e-4, 1e-3, 1e-2], "batch_size": [32, 128],
                         "epochs": [2], "seed": [0, 1]}
    assert len(plan.configs) == 12 and plan.varying == ["learning_rate", "batch_size", "seed"]
    assert plan.points[:3] == [{"learning_rate": 1e-4, "batch_size": 32, "seed": 0},
                               {"learning_rate": 1e-4, "batch_size": 32, "seed": 1},
                               {"learning_rate": 1e-4, "batch_size": 128, "seed": 0}]
    assert all(c.epochs == 2 and c.optimizer == "rmsprop" for c in plan.configs)  # the preset's defaults
    assert plan.describe() == "12 runs: learning_rate (3) × batch_size (2) × seed (2)"
    assert sw.plan_sweep({"seed": "3,3,4"}).axes["seed"] == [3, 4]  # duplicates dropped
    assert sw.plan_sweep({"data_path": "/a,b"}).configs[0].data_path == "/a,b"  # a comma is legal in a path


@pytest.mark.parametrize(("values", "seeds", "field", "words"), [
    ({"learning_rate": "0.1,x"}, None, "learning_rate", "must be a number, got 'x'"),
    ({"batch_size": "32,,64"}, None, "batch_size", "empty item"),
    ({"epochs": "0,1"}, None, "epochs", "at least 1"),
    ({}, "0,-1", "seed", "at least 0"),
    ({"preset": "scratch", "optimizer": "sgd,adam"}, None, "optimizer", "grid point optimizer=adam"),
])
def test_a_bad_value_names_its_field(values: dict[str, str], seeds: str | None, field: str, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        sw.plan_sweep(values, seeds)
    assert err.value.field == field and words in err.value.reason


def test_the_sweep_lives_beside_the_runs_and_is_never_listed_as_one(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    curve_run(runs, "20260102-120000-mlp", [0.9])
    path = sw.create_sweep(runs, sw.plan_sweep({"preset": "scratch", "learning_rate": "0.1,0.5"}), parallel=1)
    assert path.parent == runs / ".sweeps" and (path / "control").is_dir()
    record = json.loads((path / "sweep.json").read_text())
    assert record["state"] == "queued" and [p["values"] for p in record["points"]] == [
        {"learning_rate": 0.1}, {"learning_rate": 0.5}]
    assert all(p["run"] is None and p["config"]["preset"] == "scratch" for p in record["points"])
    assert [r.id for r in store.list_runs(runs)] == ["20260102-120000-mlp"]
    (info,) = sw.list_sweeps(runs)
    assert info.id == path.name and info.state == "queued" and info.summary() == "0/2 done · learning_rate (2)"
    assert sw.resolve_sweep(runs, path.name[:8]).path == path
    rows = sw.leaderboard(info)
    assert [(r.index, r.label, r.state, r.run) for r in rows] == [(0, "lr=0.1", "queued", None),
                                                                  (1, "lr=0.5", "queued", None)]


def test_a_runner_that_died_leaves_an_incomplete_sweep(tmp_path: Path) -> None:
    path = sw.create_sweep(tmp_path, sw.plan_sweep({"learning_rate": "0.1,0.5"}))
    record = sw.read_sweep(path)
    record |= {"state": "running", "owner": {"pid": 999_999_999, "host": __import__("socket").gethostname()}}
    (path / "sweep.json").write_text(json.dumps(record))
    assert sw.list_sweeps(tmp_path)[0].state == "incomplete"


# ----------------------------------------------------------------------------- time to accuracy
def test_time_and_samples_to_each_threshold(tmp_path: Path) -> None:
    run = curve_run(tmp_path, "r", [0.95, 0.975, 0.981, 0.985], seconds=10.0, n_train=1000)
    reached = milestones.time_to_accuracy(run)
    assert reached[0.97] == milestones.Milestone(0.97, 2, 20.0, 2000)
    assert reached[0.98] == milestones.Milestone(0.98, 3, 30.0, 3000)
    assert reached[0.99] is None
    assert milestones.describe(run) == "97%: 20.0s/2,000 · 98%: 30.0s/3,000 · 99%: not reached"
    doc = store.load_run(run).to_json()["time_to_accuracy"]
    assert doc == {"97": {"epoch": 2, "seconds": 20.0, "samples": 2000},
                   "98": {"epoch": 3, "seconds": 30.0, "samples": 3000}, "99": None}
    killed = curve_run(tmp_path, "k", [0.95, 0.975, 0.981], status=None)  # no summary: from the log
    assert milestones.time_to_accuracy(killed) == {t: m for t, m in reached.items() if t != 0.99} | {0.99: None}


def test_runs_sort_by_time_to_98(tmp_path: Path) -> None:
    slow = curve_run(tmp_path, "slow", [0.97, 0.98], seconds=30.0, minutes=1)
    fast = curve_run(tmp_path, "fast", [0.98, 0.99], seconds=5.0, minutes=2)
    never = curve_run(tmp_path, "never", [0.9, 0.91], minutes=3)
    order = [r.id for r in store.sort_runs(store.list_runs(tmp_path), "to98")]
    assert order == [fast.name, slow.name, never.name]


# ----------------------------------------------------------------------------- seed groups
def test_runs_that_differ_only_in_seed_are_a_group_and_bands_decide(tmp_path: Path) -> None:
    for seed, acc in enumerate((0.90, 0.91, 0.92)):
        curve_run(tmp_path, f"a{seed}", [acc], lr=1e-3, seed=seed, minutes=seed)
    for seed, acc in enumerate((0.905, 0.915, 0.925)):
        curve_run(tmp_path, f"b{seed}", [acc], lr=1e-2, seed=seed, minutes=10 + seed)
    for seed, acc in enumerate((0.95, 0.96, 0.97)):
        curve_run(tmp_path, f"c{seed}", [acc], lr=1e-1, seed=seed, minutes=20 + seed)
    groups = compare.seed_groups(store.list_runs(tmp_path))
    assert sorted(len(g.runs) for g in groups.values()) == [3, 3, 3]
    by_lr = {g.config["learning_rate"]: g for g in groups.values()}
    a, b, c = by_lr[1e-3], by_lr[1e-2], by_lr[1e-1]
    assert a.mean == pytest.approx(0.91) and a.std == pytest.approx(0.01) and (a.low, a.high) == (0.90, 0.92)
    assert a.text() == "91.00±1.00% (3 seeds)"
    assert compare.verdict(a, b).startswith("within seed noise: +0.50 pp")
    assert compare.verdict(a, c).startswith("an improvement: +5.00 pp")
    assert compare.verdict(c, a).startswith("worse")
    assert compare.compare_groups(a, b).startswith("learning_rate 0.001→0.01: 91.00±1.00% (3 seeds) vs")
    labels_ = compare.group_labels(store.list_runs(tmp_path))
    assert labels_["a0"] == labels_["a2"] == "lr=0.001" and labels_["c1"] == "lr=0.1"
    one = compare.SeedGroup("x", (store.load_run(tmp_path / "a0"),))
    assert "one seed a side" in compare.verdict(one, c)


# ----------------------------------------------------------------------------- diff
def test_the_digits_that_flipped_between_two_runs(tmp_path: Path) -> None:
    y = labels().astype(np.int64)
    pred_a, pred_b = y.copy(), y.copy()
    pred_a[[0, 1, 2]] = (y[[0, 1, 2]] + 1) % 10  # A wrong on 0, 1, 2
    pred_b[[2, 3, 13]] = (y[[2, 3, 13]] + 1) % 10  # B wrong on 2, 3, 13: fixed 0, 1; broke 3, 13
    a = curve_run(tmp_path, "a", [0.9, 0.94], pred=pred_a)
    b = curve_run(tmp_path, "b", [0.9, 0.94], pred=pred_b, minutes=1)
    diff = compare.diff_runs(a, b)
    assert diff.epoch_a == diff.epoch_b == 2
    assert diff.fixed.tolist() == [0, 1] and diff.broken.tolist() == [3, 13]
    per_class = diff.per_class()
    assert per_class[3].tolist() == [2, 0] and per_class[0].tolist() == [0, 1] and per_class.sum() == 4
    assert diff.confusion_a.sum() == diff.confusion_b.sum() == len(y)
    assert diff.confusion_delta[3, 4] == 2 and diff.confusion_delta[3, 3] == -2
    assert diff.confusion_delta[0, 0] == 1 and diff.confusion_delta[0, 1] == -1
    (b / "test-set.npz").unlink()
    with pytest.raises(store.RunStoreError, match="test-set.npz"):
        compare.diff_runs(a, b)


# ----------------------------------------------------------------------------- the CLI
def test_sweep_usage_errors_name_the_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mnist_tui.cli import main

    runs = str(tmp_path / "runs")
    assert main(["sweep", "--model", "scratch", "--lr", "0.1,x", "--runs-dir", runs]) == 2
    assert "--lr: must be a number, got 'x'" in capsys.readouterr().err
    assert main(["sweep", "--seeds", "0,-1", "--runs-dir", runs]) == 2
    assert "--seeds: must be at least 0" in capsys.readouterr().err
    assert main(["sweep", "--parallel", "0", "--runs-dir", runs]) == 2
    assert main(["sweep", "--resume", "x", "--lr", "0.1", "--runs-dir", runs]) == 2
    assert "leave out --lr" in capsys.readouterr().err
    assert main(["sweep", "--resume", "nope", "--runs-dir", runs]) == 1
    assert "no sweep 'nope'" in capsys.readouterr().err
    assert main(["sweep", "--list", "--runs-dir", runs]) == 0
    assert "No sweeps yet" in capsys.readouterr().out
    assert not (tmp_path / "runs" / ".sweeps").exists()  # nothing was queued by a bad command


def test_runs_list_json_has_time_to_accuracy_and_sorts_by_it(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    from mnist_tui.cli import main

    curve_run(tmp_path, "slow", [0.97, 0.98], seconds=30.0, minutes=1)
    curve_run(tmp_path, "fast", [0.98, 0.99], seconds=5.0, minutes=2, n_train=2000)
    assert main(["runs", "list", "--json", "--sort", "to98", "--runs-dir", str(tmp_path)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in doc] == ["fast", "slow"]
    assert doc[0]["time_to_accuracy"] == {"97": {"epoch": 1, "seconds": 5.0, "samples": 2000},
                                          "98": {"epoch": 1, "seconds": 5.0, "samples": 2000},
                                          "99": {"epoch": 2, "seconds": 10.0, "samples": 4000}}
    assert doc[1]["time_to_accuracy"]["99"] is None
