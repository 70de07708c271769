"""Calibration metrics on small worked examples, and the plots."""
import math

import numpy as np
import pytest

from polarlab.errors import InputError
from polarlab.risk import (CalibrationReport, auroc, brier, calibration_report, consistency_floor, ece, equal_count_bins,
                           r2_binned, reliability_diagram, risk_error_scatter)


def test_ece_worked_example():
    # bins of width 0.1: 0.05 -> bin 0; 0.15, 0.15 -> bin 1; 0.95 -> bin 9
    # bin 0: |0.05 - 0| = 0.05 (1/4 of rows); bin 1: |0.15 - 0.5| = 0.35 (2/4); bin 9: |0.95 - 1| = 0.05 (1/4)
    # ECE = 0.25*0.05 + 0.5*0.35 + 0.25*0.05 = 0.2
    risk = np.array([0.05, 0.15, 0.15, 0.95])
    err = np.array([0, 1, 0, 1])
    assert ece(risk, err) == pytest.approx(0.2)


def test_ece_risk_one_in_last_bin_and_perfect():
    assert ece(np.array([1.0, 1.0]), np.array([1, 1])) == pytest.approx(0.0)
    assert ece(np.array([0.0, 0.0]), np.array([1, 1])) == pytest.approx(1.0)


def test_r2_worked_example():
    # n = 9 -> bins of floor(sqrt(9)) = 3 rows after sorting by risk:
    #   risks 0.1,0.1,0.1 errors 0,0,1 -> r=0.1, e=1/3
    #   risks 0.5,0.5,0.5 errors 0,1,1 -> r=0.5, e=2/3
    #   risks 0.9,0.9,0.9 errors 1,1,1 -> r=0.9, e=1
    # SS_res = (1/3-0.1)^2 + (2/3-0.5)^2 + (1-0.9)^2 = 0.054444 + 0.027778 + 0.01 = 0.092222
    # SS_tot = (1/3-2/3)^2 + 0 + (1-2/3)^2 = 0.222222 ;  R^2 = 1 - 0.092222/0.222222 = 0.585
    risk = np.array([0.1, 0.1, 0.1, 0.5, 0.5, 0.5, 0.9, 0.9, 0.9])
    err = np.array([0, 0, 1, 0, 1, 1, 1, 1, 1])
    perm = np.random.default_rng(0).permutation(9)       # order of the input must not matter
    assert r2_binned(risk[perm], err[perm]) == pytest.approx(1 - 0.0922222 / 0.2222222, abs=1e-5)
    assert r2_binned(risk[perm], err[perm]) == pytest.approx(0.585, abs=1e-3)


def test_r2_is_negative_for_anti_calibrated_risk():
    risk = np.array([0.9] * 3 + [0.5] * 3 + [0.1] * 3)
    err = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1])
    assert r2_binned(risk, err) < 0


def test_equal_count_bins_leftover_joins_last_bin():
    mr, er, cnt = equal_count_bins(np.linspace(0, 1, 10), np.zeros(10))
    assert cnt.tolist() == [3, 3, 4]            # floor(sqrt(10)) = 3; one leftover row
    assert mr[0] == pytest.approx(np.linspace(0, 1, 10)[:3].mean())


def test_brier_auroc_by_hand():
    risk, err = np.array([0.2, 0.9, 0.4]), np.array([0, 1, 1])
    assert brier(risk, err) == pytest.approx((0.04 + 0.01 + 0.36) / 3)
    assert auroc(risk, err) == pytest.approx(1.0)          # every error outranks every non-error
    assert math.isnan(auroc(risk, np.array([1, 1, 1])))


def test_report_drops_nan_and_checks_input():
    rep = calibration_report(np.array([0.05, 0.15, np.nan, 0.15, 0.95]), np.array([0, 1, 1, 0, 1]))
    assert isinstance(rep, CalibrationReport)
    assert rep.n == 4 and rep.error_rate == pytest.approx(0.5) and rep.ece == pytest.approx(0.2)
    assert set(rep.to_dict()) == {"n", "error_rate", "mean_risk", "ece", "r2", "brier", "auroc", "ece_floor", "r2_floor"}
    with pytest.raises(InputError, match="is_error"):
        calibration_report(np.array([0.1, 0.2]), np.array([0, 2]))
    with pytest.raises(InputError, match="risk"):
        calibration_report(np.array([0.1, 1.2]), np.array([0, 1]))


def test_plots_write_png_atomically(tmp_path):
    rng = np.random.default_rng(0)
    risk = rng.random(400)
    err = rng.random(400) < risk
    p1 = reliability_diagram(risk, err, tmp_path / "rel.png")
    p2 = risk_error_scatter(risk, err, tmp_path / "sub" / "scatter.png")
    for p in (p1, p2):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 1000
    assert sorted(x.name for x in tmp_path.rglob("*") if x.is_file()) == ["rel.png", "scatter.png"]


def test_consistency_floor():
    # risks of exactly 0 or 1 leave nothing to chance: a calibrated score shows ECE 0 and R^2 1
    sure = np.repeat([0.0, 1.0], 50)
    assert consistency_floor(sure) == (pytest.approx(0.0), pytest.approx(1.0))
    # with risk 0.5 everywhere one bin holds all rows: E|mean of n coin flips - 0.5| ~ sqrt(1 / (2 pi n))
    for n in (100, 400):
        e, _ = consistency_floor(np.full(n, 0.5), draws=2000)
        assert e == pytest.approx(math.sqrt(1 / (2 * math.pi * n)), rel=0.1)
    spread = np.random.default_rng(0).random(250)
    small, big = consistency_floor(spread)[0], consistency_floor(np.tile(spread, 16))[0]
    assert big < small / 2                              # noise shrinks like 1/sqrt(n)
    assert math.isnan(consistency_floor(np.array([np.nan]))[0])
