"""Fitting the answer models and measuring calibration, on small built data."""

from __future__ import annotations

import numpy as np
import pytest

from eval.calibration import expected_calibration_error, fit_choice, fit_logistic, is_held_out, reliability
from index.confidence import agreement, bm25_ceiling, missing_numbers, missing_specific


def test_the_held_out_split_is_fixed_and_about_a_third() -> None:
    ids = [f"q{i:03d}" for i in range(600)]
    share = sum(map(is_held_out, ids)) / len(ids)
    assert 0.28 < share < 0.39
    assert [is_held_out(i) for i in ids] == [is_held_out(i) for i in ids]


def test_fit_logistic_is_calibrated_on_data_drawn_from_a_logistic_model() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 2))
    p = 1 / (1 + np.exp(-(2.0 * x[:, 0] - 1.0)))
    y = (rng.random(4000) < p).astype(float)
    model = fit_logistic(x, y, np.ones(4000), ("signal", "noise"), l2=0.0)
    assert abs(model.weights[1]) < 0.15 < model.weights[0]
    predicted = model.probability(x)
    bins = reliability(predicted, y.astype(bool))
    assert expected_calibration_error(bins) < 0.03


def test_fit_logistic_respects_sample_weights() -> None:
    x = np.array([[0.0], [0.0], [1.0], [1.0]])
    y = np.array([1.0, 0.0, 1.0, 0.0])
    heavy_positive = fit_logistic(x, y, np.array([9.0, 1.0, 9.0, 1.0]), ("x",), l2=0.0)
    assert heavy_positive.probability(x)[0] == pytest.approx(0.9, abs=0.01)


def test_fit_choice_learns_which_feature_marks_the_right_candidate() -> None:
    rng = np.random.default_rng(1)
    groups, correct = [], []
    for _ in range(60):
        x = rng.normal(size=(5, 2))
        right = int(np.argmax(x[:, 1]))  # the right one is the one with the highest second feature
        groups.append(x)
        correct.append(np.arange(5) == right)
    model = fit_choice(groups, correct, ("noise", "signal"), l2=0.01)
    chosen = [int(np.argmax(model.logit(x))) for x in groups]
    assert chosen == [int(np.argmax(c)) for c in correct]
    assert model.weights[1] > abs(model.weights[0])


def test_reliability_bins_count_and_average() -> None:
    bins = reliability([0.1, 0.15, 0.9, 0.95, 1.0], [False, True, True, True, False], bins=5)
    assert [(b.count, b.accuracy) for b in bins] == [(2, 0.5), (3, pytest.approx(2 / 3))]
    assert bins[0].mean_confidence == pytest.approx(0.125)


def test_bm25_ceiling_and_agreement() -> None:
    assert bm25_ceiling(["a", "b", "a"], {"a": 1.5, "b": 2.0}) == 3.5
    assert agreement(1, 1) == 1.0
    assert agreement(2, None) == 0.25
    assert agreement(None, None) == 0.0


def test_missing_specific_weighs_the_rarest_absent_word() -> None:
    idf = {"광주": 0.5, "수료생": 2.0, "3기": 4.0}.__getitem__
    assert missing_specific(["광주", "수료생", "3기"], {"광주", "수료생"}, idf) == 1.0
    assert missing_specific(["광주", "수료생", "3기"], {"3기"}, idf) == 0.5
    assert missing_specific(["광주", "수료생"], {"광주", "수료생"}, idf) == 0.0
    assert missing_specific([], set(), idf) == 0.0


def test_missing_numbers_are_the_stated_numbers_the_passage_lacks() -> None:
    passage = "1기 수료생은 155명, 2기 수료생은 180명이다. 선포 3년만에 130개 기업을 유치했다."
    assert missing_numbers("인공지능 사관학교 3기 수료생은 몇 명인가?", passage) == 1.0
    assert missing_numbers("2기 수료생은 몇 명인가?", passage) == 0.0
    assert missing_numbers("3년 동안 유치한 기업은 몇 곳인가?", passage) == 0.0
    assert missing_numbers("3 년 동안 유치한 기업은?", "선포 3 년만에 130개") == 0.0  # spacing does not matter
    assert missing_numbers("1기와 4기 수료생은 모두 몇 명인가?", passage) == 0.5
    assert missing_numbers("수료생은 몇 명인가?", passage) == 0.0  # no number stated
