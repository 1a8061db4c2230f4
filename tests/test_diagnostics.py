"""Failure diagnosis: recent means, diversity, the rules of `diagnose`."""

import math

import pytest

from dcgan_lib.diagnostics import D_WINS_BELOW, diagnose, diversity, recent, spread_ratio
from dcgan_lib.errors import DCGANError
from dcgan_lib.faces import make_faces


def records(d_x: float, d_g_z: float, n: int = 5, loss_d: float = 0.3) -> list[dict[str, float]]:
    return [{"step": i, "epoch": i / 10, "loss_D": loss_d, "loss_G": 3.0, "D_x": d_x, "D_G_z": d_g_z, "time_s": i} for i in range(n)]


def test_recent_averages_the_last_loss_records_only():
    h = records(0.9, 0.5, n=3) + records(0.8, 0.1, n=2) + [{"step": 9, "fd_gap_closed": 0.5}]
    r = recent(h, last=2)
    assert r["D_x"] == pytest.approx(0.8) and r["D_G_z"] == pytest.approx(0.1)
    with pytest.raises(DCGANError, match="no loss records"):
        recent([{"fd_gap_closed": 0.5}])


def test_diagnose_healthy_d_wins_and_no_separation():
    assert diagnose(records(0.92, 0.08)) == []  # the healthy faces32 run's typical numbers
    names = [f.name for f in diagnose(records(0.998, D_WINS_BELOW / 2, loss_d=0.006))]
    assert names == ["D wins"]
    names = [f.name for f in diagnose(records(0.5, 0.5))]
    assert names == ["D no longer separates real from fake"]
    finding = diagnose(records(0.9, 0.1), spread_ratio=0.01)[0]
    assert finding.name == "mode collapse" and "0.01" in str(finding) and "change:" in str(finding)
    assert diagnose(records(0.9, 0.1), spread_ratio=0.9) == []
    assert [f.name for f in diagnose(records(0.9, 0.1), spread_ratio=math.nan)] == ["mode collapse"]


def test_diversity_separates_real_faces_from_one_repeated_face():
    faces = make_faces(200, 32, seed=3).images
    varied = diversity(faces)
    same = diversity(faces[:1].repeat(200, 1, 1, 1))
    assert varied["distinct_looks"] > 20 and varied["effective_looks"] > 10
    assert same["distinct_looks"] == 1 and same["effective_looks"] == pytest.approx(1.0)
    assert same["feature_spread"] < 1e-6 < varied["feature_spread"]
    assert spread_ratio(same, varied) < 0.01 and spread_ratio(varied, varied) == pytest.approx(1.0)
    with pytest.raises(DCGANError, match="at least 2"):
        diversity(faces[:1])


