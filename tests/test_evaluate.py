"""Evaluation: the shipped classifiers, the distances against closed forms, and evaluate_generator's scale
(a real-data stand-in sits at the floor, an untrained G at the ceiling, a copier fails the memorisation check)."""

import json
import math
import sys
from urllib.error import URLError

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dcgan_lib import classifiers as cl
from dcgan_lib import evaluate as ev
from dcgan_lib import inception, memorisation, metrics
from dcgan_lib.cli import evaluation_report, train_classifier_command
from dcgan_lib.errors import DCGANError
from dcgan_lib.faces import ATTRIBUTES, HAIR_COLOURS, make_faces
from dcgan_lib.images import to_model_range
from dcgan_lib.models import Generator

FRESH_SEED = 123_457  # faces neither the classifier nor the evaluation's real sets have seen
TRAIN_SEED = 3  # the stand-in "training set" of the memorisation tests


class PoolG(nn.Module):
    """A generator stand-in with the Generator interface that hands out images from a pool, in order."""

    def __init__(self, images: torch.Tensor, nz: int = 8):
        super().__init__()
        self.pool = to_model_range(images)
        self.nz, self.image_size, self.channels = nz, images.shape[-1], images.shape[1]
        self.width = 8  # the ceiling uses an untrained Generator of this width
        self.anchor = nn.Parameter(torch.zeros(1))  # generate() reads the device from a parameter
        self.next = 0

    def forward(self, z, edits=None):
        idx = torch.arange(self.next, self.next + len(z)) % len(self.pool)
        self.next += len(z)
        return self.pool[idx].to(z.device)


def untrained(size=32, channels=3, width=8, seed=1):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Generator(size, channels, nz=16, width=width)


pytestmark = pytest.mark.usefixtures("one_thread")  # 7x faster on a busy 2-core machine (76 s -> 11 s)


@pytest.fixture(scope="module")
def train_faces():
    return make_faces(2000, 32, seed=TRAIN_SEED).images


# ------------------------------------------------------------------------------------------ distances


def test_frechet_distance_of_identical_sets_is_zero_and_of_a_shift_is_its_squared_length():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(400, 6, generator=g) @ torch.randn(6, 6, generator=g)
    assert metrics.frechet_distance(x, x) == pytest.approx(0.0, abs=1e-6)
    m = torch.tensor([1.0, -2.0, 0.5, 0.0, 3.0, 1.0])
    assert metrics.frechet_distance(x, x + m) == pytest.approx(float(m @ m), rel=1e-6)  # same covariance: |m|^2
    y = torch.randn(300, 6, generator=g) * 2
    assert metrics.frechet_distance(x, y) == pytest.approx(metrics.frechet_distance(y, x), rel=1e-6)


def test_frechet_from_stats_matches_closed_forms():
    a, b = torch.tensor([1.0, 4.0, 9.0]), torch.tensor([4.0, 1.0, 0.0])  # diagonal: sum (sqrt a - sqrt b)^2
    mu1, mu2 = torch.zeros(3), torch.tensor([1.0, 1.0, 0.0])
    want = 2.0 + sum((math.sqrt(x) - math.sqrt(y)) ** 2 for x, y in zip(a.tolist(), b.tolist()))
    assert metrics.frechet_from_stats(mu1, torch.diag(a), mu2, torch.diag(b)) == pytest.approx(want, rel=1e-9)
    # non-commuting covariances against scipy's general square root
    scipy_linalg = pytest.importorskip("scipy.linalg")
    g = torch.Generator().manual_seed(1)
    p, q = torch.randn(5, 5, generator=g, dtype=torch.float64), torch.randn(5, 5, generator=g, dtype=torch.float64)
    s1, s2 = p @ p.T + 0.1 * torch.eye(5, dtype=torch.float64), q @ q.T
    cross = scipy_linalg.sqrtm((s1 @ s2).numpy()).real.trace()
    assert metrics.frechet_from_stats(torch.zeros(5), s1, torch.zeros(5), s2) == pytest.approx(
        float(s1.trace() + s2.trace() - 2 * cross), rel=1e-6)


def test_kid_is_unbiased_mmd_with_the_cubic_kernel():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(60, 4, generator=g, dtype=torch.float64), torch.randn(50, 4, generator=g, dtype=torch.float64) + 0.5
    k = lambda a, b: ((a @ b.T) / 4 + 1) ** 3  # noqa: E731
    m = 50  # both sets used whole in every subset (only the order varies), so one hand computation is the answer
    mean, std = metrics.kid(x[:50], y, subsets=3, subset_size=m)
    kxx, kyy, kxy = k(x[:50], x[:50]), k(y, y), k(x[:50], y)
    want = (kxx.sum() - kxx.trace() + kyy.sum() - kyy.trace()) / (m * (m - 1)) - 2 * kxy.mean()
    assert mean == pytest.approx(float(want), rel=1e-9) and std == pytest.approx(0.0, abs=1e-9)
    same_a, same_b = torch.randn(800, 8, generator=g), torch.randn(800, 8, generator=g)
    k0, s0 = metrics.kid(same_a, same_b, subsets=20, subset_size=400)
    k1, _ = metrics.kid(same_a, same_b + 0.5, subsets=20, subset_size=400)
    assert abs(k0) < 3 * s0 + 1e-3 and k1 > 10 * max(abs(k0), 1e-3)


# ------------------------------------------------------------------------------------------ classifiers


def test_shipped_classifiers_load_with_their_cards():
    for kind in cl.KINDS:
        clf = cl.load_classifier(kind)
        assert clf.kind == kind and not clf.training
        card = cl.classifier_card(kind)
        assert card["command"].startswith(f"dcgan train-classifier --kind {kind}")
        assert (cl.classifier_dir() / f"{kind}.pt").stat().st_size < 2 * 2**20
        assert json.loads((cl.classifier_dir() / f"{kind}.json").read_text())["report"] == card["report"]


@pytest.mark.parametrize("size", [32, 64])
def test_faces_classifier_keeps_its_accuracy_on_fresh_faces(size):
    faces = make_faces(1000, size, seed=FRESH_SEED)
    report = cl.evaluate_classifier(cl.load_classifier("faces"), faces.images, faces.attributes)
    for name in ATTRIBUTES:
        assert report[f"acc_{name}"] >= 0.98, (name, size, report)
    assert report["turn_mae"] < 0.1, report


def test_digits_classifier_on_its_held_out_split():
    _, _, x, y = cl._digits_split()
    report = cl.evaluate_classifier(cl.load_classifier("digits"), x, {"digit": y})
    assert report["acc_digit"] >= 0.95, report


def test_a_missing_classifier_says_how_to_train_it(monkeypatch, tmp_path):
    monkeypatch.setattr(cl, "classifier_dir", lambda: tmp_path)
    cl.clear_cache()
    try:
        with pytest.raises(DCGANError, match="dcgan train-classifier --kind faces"):
            cl.load_classifier("faces")
    finally:
        monkeypatch.undo()
        cl.clear_cache()


def test_classifier_round_trip_and_input_handling(tmp_path):
    model = cl.AttributeClassifier("digits")
    path = cl.save_classifier(model, tmp_path / "d.pt", {"note": "untrained"})
    loaded = cl.load_classifier(path)
    assert loaded.card == {"note": "untrained"} and json.loads(path.with_suffix(".json").read_text()) == {"note": "untrained"}
    x = torch.randint(0, 256, (4, 3, 64, 64), dtype=torch.uint8)  # RGB at 64 into a grey 32x32 network
    assert loaded.embed(x)[0].shape == (4, loaded.feature_dim)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))
    # saving over the file replaces what a later load returns; loading never touches the global RNG
    other = cl.AttributeClassifier("digits")
    cl.save_classifier(other, path, {"note": "second"})
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    again = cl.load_classifier(path)
    assert again.card == {"note": "second"} and torch.equal(torch.rand(3), expected)
    again.train()
    assert not cl.load_classifier(path).training  # every caller gets it in eval mode


def test_train_classifier_writes_a_loadable_file_and_card(tmp_path):
    card = train_classifier_command("digits", out=tmp_path / "digits.pt", epochs=1, progress=False)
    assert card["command"] == "dcgan train-classifier --kind digits --seed 0 --epochs 1"
    assert {"acc_digit"} <= set(card["report"]["heldout_32"]) and card["report"]["feature_scale"] > 0
    clf = cl.load_classifier(tmp_path / "digits.pt")
    assert clf.card == card and float(clf.feature_scale) == pytest.approx(card["report"]["feature_scale"], rel=1e-4)


def test_attribute_rates_of_real_faces_match_their_ground_truth():
    faces = make_faces(400, 32, seed=FRESH_SEED)
    rates = ev.attribute_rates(faces.images, "faces")
    for name in ATTRIBUTES:
        assert rates[name] == pytest.approx(faces.attributes[name].float().mean().item(), abs=0.02)
    assert rates["turn_mean"] == pytest.approx(faces.attributes["turn"].mean().item(), abs=0.03)
    assert sum(rates[f"hair_colour:{i}"] for i in range(5)) == pytest.approx(1.0)


def fake_face_predictions(long_hair_by_colour: list[float], per_colour: int = 400) -> dict[str, torch.Tensor]:
    """Confident classifier outputs for `per_colour` faces of each hair colour, with these long-hair rates."""
    n = per_colour * len(long_hair_by_colour)
    colour = torch.arange(n) // per_colour
    long_hair = torch.cat([(torch.arange(per_colour) < round(r * per_colour)).float() for r in long_hair_by_colour])
    return {"smiling": torch.full((n,), 0.9), "eyeglasses": torch.full((n,), 0.1), "long_hair": 0.05 + 0.9 * long_hair,
            "turn": torch.zeros(n), "hair_colour": F.one_hot(colour, 5).float(),
            "skin_tone": F.one_hot(torch.zeros(n, dtype=torch.long), 4).float(),
            "background": F.one_hot(torch.zeros(n, dtype=torch.long), 5).float()}


def test_a_bias_within_one_hair_colour_shows_although_the_overall_rate_matches():
    """Long hair at 0.2 among grey-haired faces, 0.7 among blonde and 0.6 among red ones averages to the data's 0.5."""
    names = list(HAIR_COLOURS)
    biased = [0.5] * 5
    biased[names.index("grey")], biased[names.index("blonde")], biased[names.index("red")] = 0.2, 0.7, 0.6
    gen = ev.rates_from_predictions("faces", fake_face_predictions(biased))
    data = ev.rates_from_predictions("faces", fake_face_predictions([0.5] * 5))
    assert gen["long_hair"] == pytest.approx(data["long_hair"])  # the marginal check cannot see it
    assert gen[f"long_hair|hair_colour:{names.index('grey')}"] == pytest.approx(0.2)
    assert ev.within_colour_gap(gen, data, "long_hair") == (pytest.approx(0.3), "grey")
    assert ev.within_colour_gap(gen, data, "smiling") == (pytest.approx(0.0), "black")
    assert math.isnan(ev.within_colour_gap(gen, data, "long_hair", min_images=401)[0])  # no colour has 401 images


def test_evaluation_reports_the_worst_hair_colour_of_each_attribute():
    """End to end through the classifier: real faces with every long-haired grey one swapped for a short-haired
    grey one. Grey hair is one face in five, so long hair's overall rate drops by about 0.1 and its rate within
    grey hair by about 0.5."""
    faces = make_faces(1500, 32, seed=FRESH_SEED)
    grey = faces.attributes["hair_colour"] == HAIR_COLOURS.index("grey")
    long_grey = (grey & faces.attributes["long_hair"]).nonzero().flatten()
    short_grey = (grey & ~faces.attributes["long_hair"]).nonzero().flatten()
    pool = faces.images.clone()
    pool[long_grey] = faces.images[short_grey[torch.arange(len(long_grey)) % len(short_grey)]]
    res = ev.evaluate_generator(PoolG(pool), "faces", n=1500, seed=0, ceiling=False, memorisation=False, kid_subsets=5)
    s = res.summary()
    assert s["long_hair_diff"] < 0.2 and s["long_hair_within_colour"] > 0.35
    assert s["smiling_within_colour"] < 0.1  # smiles are untouched
    assert "long_hair, worst hair colour (grey)" in res.table()


# ------------------------------------------------------------------------------------------ evaluate_generator


def test_real_images_score_at_the_floor_and_an_untrained_g_at_the_ceiling(train_faces):
    fresh = make_faces(600, 32, seed=FRESH_SEED).images
    real = ev.evaluate_generator(PoolG(fresh), "faces", n=600, seed=0, train_images=train_faces, nn_queries=300)
    assert real.fd < 2 * real.fd_floor and real.fd_floor < 0.05 * real.fd_ceiling
    assert real.gap_closed == pytest.approx(1.0, abs=0.05)
    for name in ATTRIBUTES:
        assert real.summary()[f"{name}_diff"] < 0.1
    assert real.nn.passed, real.table()

    bad = ev.evaluate_generator(untrained(), "faces", n=600, seed=0, train_images=train_faces, nn_queries=300)
    assert bad.fd > 10 * bad.fd_floor
    assert bad.gap_closed == pytest.approx(0.0, abs=0.2)  # another init seed than the ceiling's: about 0

    table = real.table()
    for text in ("floor", "ceiling (untrained G)", "gap closed", "not Inception FID", "not comparable with published",
                 "Memorisation", "passed"):
        assert text in table
    summary = real.summary()
    assert all(isinstance(v, float) for v in summary.values())
    assert {"fd", "fd_floor", "fd_ceiling", "fd_gap_closed", "kid", "smiling_gen", "nn_passed"} <= set(summary)
    json.dumps(summary)


def test_a_generator_that_copies_its_training_images_fails_the_memorisation_check(train_faces):
    copier = ev.evaluate_generator(PoolG(train_faces[:600]), "faces", n=600, seed=0, train_images=train_faces,
                                   ceiling=False, nn_queries=300)
    assert not copier.nn.passed
    assert copier.nn.spaces["pixel"]["near_copy_share"] == 1.0 and copier.nn.spaces["pixel"]["p5_ratio"] < 0.01
    assert "FAILED" in copier.table()
    assert copier.fd < 2 * copier.fd_floor  # FD alone cannot see copying: that is why the check exists
    assert math.isnan(copier.gap_closed)


def test_n_rates_measures_the_rates_on_more_images_and_leaves_the_rest_alone():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(2)
        G = Generator(16, 3, nz=100, width=8)
    # n = 301, nz = 100: n * nz is not a multiple of 16, so a longer randn draw's first n rows differ from a short one's
    small = ev.evaluate_generator(G, "faces", n=301, seed=0, ceiling=False, memorisation=False, kid_subsets=5)
    big = ev.evaluate_generator(G, "faces", n=301, seed=0, ceiling=False, memorisation=False, kid_subsets=5, n_rates=1200)
    assert big.fd == small.fd and big.kid == small.kid  # the first 301 samples are the same
    assert (small.n_rates, big.n_rates) == (301, 1200) and big.summary()["n_rates"] == 1200.0
    assert big.rate_stderr == pytest.approx(math.sqrt(0.5 / 1200))
    assert "1200 generated" in big.table()
    real = make_faces(1200, 16, seed=ev._REAL_A_SEED).images  # real set A, grown to n_rates
    assert big.rates_data["smiling"] == pytest.approx(ev.attribute_rates(real)["smiling"], abs=1e-6)
    gen = ev._generate(G, 1200, ev.Z_SEED, prefix=301)
    assert torch.equal(gen[:301], ev._generate(G, 301, ev.Z_SEED))
    assert big.rates_gen["smiling"] == pytest.approx(ev.attribute_rates(gen)["smiling"], abs=1e-6)


def test_digits_evaluation_uses_disjoint_halves_and_says_so():
    digits = ev._digits(32)[0]
    res = ev.evaluate_generator(PoolG(digits), "digits", n=1000, seed=0, nn_queries=200)
    assert res.n_fd == 898 and any("1797" in note for note in res.notes)
    assert res.gap_closed == pytest.approx(1.0, abs=0.1)
    assert not res.nn.passed  # it hands out the training digits themselves
    assert res.rates_gen["classes_covered"] == 10


def test_datasets_without_a_classifier_get_a_clear_error():
    with pytest.raises(DCGANError, match="no course classifier for 'mnist'.*Inception"):
        ev.evaluate_generator(untrained(), "mnist", n=10)
    with pytest.raises(DCGANError):
        ev.check_evaluable("cifar10")
    ev.check_evaluable("faces")


def test_evaluate_checkpoint_reads_dataset_seed_and_training_size(tmp_path):
    from dcgan_lib.checkpoint import FORMAT, atomic_save

    G = untrained(size=16, width=8, seed=5)
    path = atomic_save({"format": FORMAT, "arch": {"image_size": 16, "channels": 3, "nz": 16, "width": 8},
                        "config": {"dataset": "faces", "seed": 5, "n_images": 300}, "G": G.state_dict()},
                       tmp_path / "checkpoint.pt")
    text = evaluation_report(tmp_path, n=200, device="cpu")
    assert "16x16 faces generator: 200 samples, seed 5" in text and "300 training images" in text
    # the ceiling is the run's own untrained G (same seed), so this G closes nothing
    assert ev.evaluate_checkpoint(path, n=200, device="cpu").gap_closed == pytest.approx(0.0, abs=0.15)


# ------------------------------------------------------------------------------------------ standard FID


def test_standard_fid_without_torchmetrics_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "torchmetrics", None)
    monkeypatch.setitem(sys.modules, "torchmetrics.image.fid", None)
    with pytest.raises(DCGANError, match=r"pip install 'torchmetrics\[image\]'"):
        inception.standard_fid(untrained(), torch.zeros(4, 3, 32, 32, dtype=torch.uint8), n=4, device="cpu")


def test_standard_fid_offline_gives_a_clear_message_not_a_failed_download(monkeypatch, tmp_path):
    pytest.importorskip("torchmetrics.image.fid")
    pytest.importorskip("torch_fidelity")

    def offline(*args, **kwargs):
        raise URLError("no network")

    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path))  # no cached weights
    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(DCGANError, match="needs the Inception weights.*internet") as info:
        inception.standard_fid(untrained(), torch.zeros(4, 3, 32, 32, dtype=torch.uint8), n=4, device="cpu")
    assert "\n" not in str(info.value)


def test_standard_fid_feeds_real_and_generated_images(monkeypatch):
    class Stub:
        def __init__(self):
            self.seen = {True: 0, False: 0}

        def update(self, x, real):
            assert x.dtype == torch.float32 and x.shape[1] == 3 and 0 <= x.min() and x.max() <= 1
            self.seen[real] += len(x)

        def compute(self):
            return (torch.tensor(0.5), torch.tensor(0.1)) if hasattr(self, "kid") else torch.tensor(12.0)

    fid, kid_metric = Stub(), Stub()
    kid_metric.kid = True
    monkeypatch.setattr(inception, "_inception_metrics", lambda *a, **k: (fid, kid_metric))
    digits = torch.randint(0, 256, (30, 1, 16, 16), dtype=torch.uint8)
    out = inception.standard_fid(untrained(16, channels=1), digits, n=20, batch_size=8, device="cpu")
    assert out == {"fid": 12.0, "kid": 0.5, "kid_std": pytest.approx(0.1), "n_real": 20.0, "n_fake": 20.0}
    assert fid.seen == {True: 20, False: 20}


def test_total_variation_reads_only_the_named_category():
    a = {"hair:0": 0.5, "hair:1": 0.5, "skin:0": 1.0}
    b = {"hair:0": 0.2, "hair:1": 0.8, "skin:0": 0.0}
    assert metrics.total_variation(a, b, "hair") == pytest.approx(0.3)
    assert metrics.total_variation(a, a, "hair") == 0.0
    assert metrics.total_variation(a, {}, "skin") == pytest.approx(0.5)  # a missing key counts as rate 0


def test_nearest_neighbours_match_brute_force_and_skip_the_excluded_row():
    g = torch.Generator().manual_seed(0)
    ref, q = torch.randn(300, 12, generator=g), torch.randn(70, 12, generator=g)
    d, idx = metrics.nearest_neighbours(q, ref, chunk=16)  # several chunks
    full = torch.cdist(q, ref)
    assert torch.equal(idx, full.argmin(1)) and torch.allclose(d, full.min(1).values, atol=1e-4)
    own = torch.arange(20)
    d_loo, idx_loo = metrics.nearest_neighbours(ref[:20], ref, exclude=own)
    assert (idx_loo != own).all() and (d_loo > 0).all()  # without the exclusion each row finds itself
    assert torch.equal(metrics.nearest_neighbours(ref[:20], ref)[1], own)
    with pytest.raises(ValueError, match="flatten"):
        metrics.nearest_neighbours(q.reshape(70, 3, 4), ref)


def test_the_memorisation_check_keeps_the_pairs_it_measured(train_faces):
    # samples that are exact copies of known training faces: the check must point each one at its original
    copied = torch.randperm(len(train_faces), generator=torch.Generator().manual_seed(1))[:100]
    check = memorisation.nearest_neighbour_check(train_faces[copied], train_faces, n_queries=40, seed=2)
    assert check.generated_index.shape == check.nearest_index["pixel"].shape == (40,)
    assert len(set(check.generated_index.tolist())) == 40 and check.generated_index.max() < 100
    assert torch.equal(check.nearest_index["pixel"], copied[check.generated_index])


def test_gap_closed_reads_an_fd_between_floor_and_ceiling():
    assert metrics.gap_closed(1.0, 1.0, 11.0) == 1.0
    assert metrics.gap_closed(11.0, 1.0, 11.0) == 0.0
    assert metrics.gap_closed(3.0, 1.0, 11.0) == pytest.approx(0.8)
    assert math.isnan(metrics.gap_closed(3.0, 5.0, 5.0))
