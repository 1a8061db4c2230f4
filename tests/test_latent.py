"""z sampling, interpolation paths, concept vectors and arithmetic, the turn vector, smoothness of walks."""

import math

import pytest
import torch
from torch import nn

from dcgan_lib.arithmetic import (ArithmeticResult, arithmetic_trials, attribute_direction, class_index,
                                  classifier_labeller, concept_vector, confident_mask, draw_codes, equation_codes,
                                  fit_attribute_labeller, fit_celeba_labeller, label_pool, linear_readout,
                                  paper_equations, turn_codes, verdict, wilson_interval)
from dcgan_lib.latent import (generate_many, interpolate, lerp, monotonicity, path_norms, random_paths, sample_z,
                              slerp, spearman, splice, step_ratio, z_from_seed)


def test_sampler_is_standard_normal_and_seeded():
    z = sample_z(4000, 100, generator=torch.Generator().manual_seed(0))
    assert z.shape == (4000, 100, 1, 1)
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01
    assert torch.equal(z_from_seed(3, 2), z_from_seed(3, 2)) and not torch.equal(z_from_seed(3), z_from_seed(4))


def test_paths_start_and_end_at_the_endpoints():
    z0, z1 = z_from_seed(0), z_from_seed(1)
    for method in ("lerp", "slerp"):
        path = interpolate(z0, z1, 7, method)
        assert path.shape == (7, 100, 1, 1)
        assert torch.allclose(path[0], z0[0], atol=1e-5) and torch.allclose(path[-1], z1[0], atol=1e-5)


def test_slerp_keeps_the_norm_where_lerp_shrinks_it():
    z0, z1 = z_from_seed(0).flatten(), z_from_seed(1).flatten()
    mid_lerp, mid_slerp = lerp(z0, z1, 0.5), slerp(z0, z1, 0.5)
    typical = math.sqrt(100)
    assert mid_lerp.norm() < 0.8 * typical  # two near-orthogonal codes: the midpoint has norm ~ sqrt(nz/2)
    assert abs(mid_slerp.norm() - (z0.norm() + z1.norm()) / 2) < 0.05 * typical


def test_slerp_of_parallel_vectors_falls_back_to_lerp():
    z = z_from_seed(0).flatten()
    assert torch.allclose(slerp(z, 2 * z, 0.5), 1.5 * z, atol=1e-5)


def test_slerp_between_opposite_codes_is_refused():
    """No single great circle joins z and -z; the formula would divide ~0 by ~0 and return noise."""
    z = z_from_seed(0).flatten()
    with pytest.raises(ValueError, match="opposite directions"):
        slerp(z, -z, 0.5)
    with pytest.raises(ValueError, match="opposite directions"):
        interpolate(z, -z, 4)
    assert torch.isfinite(slerp(z, -z + 0.5 * z_from_seed(1).flatten(), 0.5)).all()  # far from opposite: fine


def test_bad_arguments():
    with pytest.raises(ValueError, match="lerp' or 'slerp"):
        interpolate(z_from_seed(0), z_from_seed(1), 4, "cubic")
    with pytest.raises(ValueError, match="at least 2"):
        interpolate(z_from_seed(0), z_from_seed(1), 1)


# ----------------------------------------------------------------------------- concept vectors and arithmetic
# A fake world where everything is known: "images" are the codes themselves (a generator that reshapes z),
# and the labeller reads attributes as sharp half-spaces of the first coordinates.


class CodeAsImage(nn.Module):
    """A stand-in generator: z (B, 4, 1, 1) -> "image" (B, 1, 2, 2) holding z's values."""

    nz = 4

    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(()))  # models.generate asks for a parameter's device

    def forward(self, z, edits=None):
        return z.reshape(len(z), 1, 2, 2)


def half_space_labeller(images):
    v = images.flatten(1)
    return {"smiling": torch.sigmoid(20 * v[:, 0]), "long_hair": torch.sigmoid(20 * v[:, 1]),
            "eyeglasses": torch.sigmoid(20 * v[:, 2]), "turn": torch.tanh(v[:, 3])}


def fake_pool(n=4000, seed=0):
    return label_pool(CodeAsImage(), half_space_labeller, n, seed=seed, batch_size=1000)


def test_concept_vector_is_the_mean_of_its_codes():
    z = z_from_seed(5, 3)
    assert torch.allclose(concept_vector(z), (z[0] + z[1] + z[2]) / 3)
    with pytest.raises(ValueError, match="empty"):
        concept_vector(z[:0])


def test_pool_is_seeded_and_groups_are_confident():
    pool, again = fake_pool(), fake_pool()
    assert torch.equal(pool.z, again.z) and pool.z.shape == (4000, 4, 1, 1) and set(pool.labels) >= {"smiling", "turn"}
    idx = pool.group({"smiling": True, "long_hair": False}, 0.99)
    z = pool.z[idx].flatten(1)
    assert len(idx) > 500 and (z[:, 0] > 0.2).all() and (z[:, 1] < -0.2).all()  # p >= 0.99 <=> 20 z >= 4.6
    labels = {"a": torch.tensor([0.95, 0.5, 0.0005, 0.9995])}
    assert confident_mask(labels, {"a": True}, 0.999).tolist() == [False, False, False, True]
    assert confident_mask(labels, {"a": False}, 0.999).tolist() == [False, False, True, False]
    with pytest.raises(KeyError, match="gives no"):
        confident_mask(labels, {"b": True})


def test_equation_result_is_mean_a_minus_mean_b_plus_mean_c():
    pool, eq = fake_pool(), paper_equations()[0]
    terms, result = equation_codes(pool, eq, 3, torch.Generator().manual_seed(0))
    assert terms.shape == (3, 3, 4, 1, 1)
    assert torch.allclose(result, terms[0].mean(0) - terms[1].mean(0) + terms[2].mean(0))
    # each term's codes come from its confident group, and the three codes are distinct
    assert (terms[0].flatten(1)[:, 0] > 0).all() and (terms[1].flatten(1)[:, 0] < 0).all()
    assert len({tuple(t.flatten().tolist()) for t in terms[0]}) == 3


def test_verdict_needs_every_expected_attribute():
    labels = {"smiling": torch.tensor([0.9, 0.9, 0.1, 0.1]), "long_hair": torch.tensor([0.2, 0.8, 0.2, 0.8])}
    assert verdict(labels, {"smiling": True, "long_hair": False}).tolist() == [True, False, False, False]


def test_arithmetic_success_is_counted_on_the_generated_result():
    G, pool = CodeAsImage(), fake_pool()
    eq = paper_equations()[0]  # expected: smiling, not long-haired
    res = arithmetic_trials(G, pool, eq, half_space_labeller, k=3, trials=200, seed=1)
    # recount by hand from the same draws
    g = torch.Generator().manual_seed(1)
    results = torch.stack([equation_codes(pool, eq, 3, g)[1] for _ in range(200)]).flatten(1)
    by_hand = ((results[:, 0] > 0) & (results[:, 1] < 0)).float().mean().item()
    assert res.trials == 200 and res.success.shape == (200,)
    assert abs(res.rate - by_hand) < 1e-6 and abs(res.per_attribute["smiling"] - (results[:, 0] > 0).float().mean().item()) < 1e-6
    assert res.interval == wilson_interval(int(res.success.sum()), 200)


def test_arithmetic_takes_a_combine_of_its_own():
    G, pool, eq = CodeAsImage(), fake_pool(), paper_equations()[0]
    default = arithmetic_trials(G, pool, eq, half_space_labeller, k=3, trials=100, seed=1)
    same = arithmetic_trials(G, pool, eq, half_space_labeller, k=3, trials=100, seed=1,
                             combine=lambda a, b, c: a.mean(0) - b.mean(0) + c.mean(0))
    assert torch.equal(default.success, same.success)
    # only the first code of each term: the same draws, a k = 1 result, fewer successes
    first = arithmetic_trials(G, pool, eq, half_space_labeller, k=3, trials=100, seed=1, combine=lambda a, b, c: a[0] - b[0] + c[0])
    assert first.rate < default.rate


def test_arithmetic_result_describes_itself_in_one_line():
    eq = paper_equations()[0]
    res = ArithmeticResult(eq, 3, 8, torch.tensor([True] * 6 + [False] * 2), {"smiling": 0.875, "long_hair": 0.75}, 10.04)
    lo, hi = wilson_interval(6, 8)
    assert res.describe() == f"75.0% [{lo:.0%}, {hi:.0%}] of 8  (smiling 88%, long_hair 75%; |y| = 10.0)"
    assert "\n" not in res.describe()


def test_averaging_makes_arithmetic_reliable_in_a_linear_world():
    G, pool = CodeAsImage(), fake_pool(8000)
    eq = paper_equations()[1]
    rates = {k: arithmetic_trials(G, pool, eq, half_space_labeller, k=k, trials=400, seed=2).rate for k in (1, 3, 20)}
    assert rates[1] < rates[3] < rates[20] and rates[20] > 0.95, rates


def flipped_labeller(images):
    """A world where long hair is linear within each "hair colour" (the sign of z3) but its direction flips
    between them, as the shipped faces32 does for grey hair (notebook 05)."""
    v = images.flatten(1)
    return {"smiling": torch.sigmoid(20 * v[:, 0]), "long_hair": torch.sigmoid(20 * v[:, 1] * v[:, 3].sign()),
            "grey": torch.sigmoid(20 * v[:, 3])}


def test_terms_sharing_a_nuisance_fix_arithmetic_where_the_attribute_flips_with_it():
    G = CodeAsImage()
    pool = label_pool(G, flipped_labeller, 8000, seed=0, batch_size=1000)
    eq = paper_equations()[0]
    shared = eq.sharing({"grey": True})
    assert shared.a == {**eq.a, "grey": True} and shared.expected == eq.expected
    terms, _ = equation_codes(pool, shared, 3, torch.Generator().manual_seed(0))
    assert (terms.flatten(2)[..., 3] > 0).all()  # every code of every term is "grey"
    plain = arithmetic_trials(G, pool, eq, flipped_labeller, k=3, trials=300, seed=1, confidence=0.99)
    both = [{"grey": True}, {"grey": False}]
    matched = arithmetic_trials(G, pool, eq, flipped_labeller, k=3, trials=300, seed=1, confidence=0.99, shared=both)
    assert plain.per_attribute["long_hair"] < 0.7 and matched.rate > 0.8 and matched.rate > plain.rate + 0.2
    # one z-direction cannot read the flipped attribute; within one "colour" it can, in opposite directions
    acc_all, _ = linear_readout(pool, "long_hair")
    acc_grey, d_grey = linear_readout(pool, "long_hair", pool.labels["grey"] > 0.5)
    acc_other, d_other = linear_readout(pool, "long_hair", pool.labels["grey"] < 0.5)
    assert acc_all < 0.7 and min(acc_grey, acc_other) > 0.95 and float(d_grey @ d_other) < -0.9
    with pytest.raises(ValueError, match="larger pool"):
        linear_readout(pool, "long_hair", torch.arange(len(pool)) < 8)


def test_balanced_read_out_sees_chance_where_plain_accuracy_sees_the_larger_share():
    def rare_labeller(images):  # "rare": ~20% of codes, in thin slivers no plane can follow; "sharp": a half-space
        v = images.flatten(1)
        return {"rare": (torch.sin(1000 * v[:, 2]) > 0.8).float(), "sharp": torch.sigmoid(20 * v[:, 0])}

    pool = label_pool(CodeAsImage(), rare_labeller, 8000, seed=0, batch_size=1000)
    share = float(pool.labels["rare"][6000:].mean())
    plain, _ = linear_readout(pool, "rare")
    balanced, _ = linear_readout(pool, "rare", balanced=True)
    assert 0.1 < share < 0.3 and abs(plain - (1 - share)) < 0.02 and abs(balanced - 0.5) < 0.02, (share, plain, balanced)
    # where one direction does carry the attribute, both scores say so
    assert min(linear_readout(pool, "sharp")[0], linear_readout(pool, "sharp", balanced=True)[0]) > 0.97


def test_classifier_labeller_gives_the_class_it_reads_as_one_hot_labels():
    from dcgan_lib.classifiers import AttributeClassifier

    torch.manual_seed(0)
    clf = AttributeClassifier("faces").eval()
    label = classifier_labeller(clf, categories=("hair_colour",))
    x = torch.rand(6, 3, 32, 32) * 2 - 1
    out, probs = label(x), clf.predict(x)["hair_colour"]
    hair = torch.stack([out[f"hair_colour={c}"] for c in ("black", "brown", "blonde", "red", "grey")], 1)
    assert torch.equal(hair, torch.nn.functional.one_hot(probs.argmax(1), 5).float())
    assert torch.equal(class_index(out, "hair_colour"), probs.argmax(1))
    with pytest.raises(ValueError, match="categories="):
        class_index(out, "skin_tone")
    assert "skin_tone=light" not in out and out["smiling"].shape == (6,)
    assert not any("=" in k for k in classifier_labeller(clf)(torch.zeros(2, 3, 32, 32)))
    with pytest.raises(ValueError, match="not categorical heads"):
        classifier_labeller(clf, categories=("smiling",))


def test_too_small_a_pool_says_so():
    pool = fake_pool(50)
    with pytest.raises(ValueError, match="larger pool"):
        draw_codes(pool, {"smiling": True, "long_hair": True, "eyeglasses": True}, 40, torch.Generator(), 0.999)


def test_attribute_direction_points_along_the_attribute():
    d = attribute_direction(fake_pool(), "eyeglasses", 0.99).flatten()
    assert d[2] > 1.0 and d[[0, 1, 3]].abs().max() < 0.15


def test_paper_equations_for_celeba_names():
    eqs = paper_equations("Smiling", "Eyeglasses", woman="Male", woman_value=False)
    assert eqs[0].expected == {"Smiling": True, "Male": True} and eqs[1].expected == {"Eyeglasses": True, "Male": False}
    assert eqs[0].a == {"Smiling": True, "Male": False}


def test_turn_path_is_monotone_in_a_linear_world():
    G, pool = CodeAsImage(), fake_pool()
    left, right = turn_codes(pool, 4, torch.Generator().manual_seed(0))
    turn = half_space_labeller(generate_many(G, interpolate(left, right, 10, "lerp")))["turn"]
    m = monotonicity(turn)
    assert turn[0] < -0.3 and turn[-1] > 0.3 and m == {"spearman": pytest.approx(1.0), "monotone_share": 1.0}


def test_monotonicity_and_spearman():
    assert monotonicity(torch.tensor([3.0, 2.0, 1.0, 0.0])) == {"spearman": pytest.approx(-1.0), "monotone_share": 1.0}
    zigzag = monotonicity(torch.tensor([0.0, 2.0, 1.0, 3.0, 2.0, 4.0]))
    assert zigzag["monotone_share"] == pytest.approx(3 / 5) and 0.5 < zigzag["spearman"] < 1
    from scipy.stats import spearmanr

    x, y = torch.randn(30, generator=torch.Generator().manual_seed(0)), torch.randn(30, generator=torch.Generator().manual_seed(1))
    assert spearman(x, y) == pytest.approx(spearmanr(x.numpy(), y.numpy())[0], abs=1e-9)
    # saturated readings tie: they share their average rank, in either direction of the path
    pos = torch.arange(9.0)
    for tied in (torch.tensor([0.01, 0.2, 0.9, 1, 1, 1, 1, 1, 1]), torch.tensor([-1, -1, -1, -0.5, 0, 0.5, 1, 1, 1])):
        for seq in (tied, tied.flip(0)):
            assert spearman(pos, seq) == pytest.approx(spearmanr(pos.numpy(), seq.numpy())[0], abs=1e-9)
    assert math.isnan(spearman(pos, torch.ones(9)))


def test_wilson_interval():
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-3) and hi == pytest.approx(0.9433, abs=1e-3)
    assert wilson_interval(0, 50)[0] == 0.0 and wilson_interval(50, 50)[1] == 1.0


# ------------------------------------------------------------------------------------------------ smoothness


def test_slerp_paths_keep_norms_near_sqrt_nz_better_than_lerp():
    typical = math.sqrt(100)
    s = torch.stack([path_norms(p) for p in random_paths(50, 9, seed=0, method="slerp")])
    l = torch.stack([path_norms(p) for p in random_paths(50, 9, seed=0, method="lerp")])
    assert (s[:, 4] - typical).abs().mean() < 0.1 * typical  # midpoints stay on the shell
    assert (l[:, 4] / typical).mean() < 0.8  # lerp midpoints sink to about sqrt(nz / 2)
    assert (s - typical).abs().mean() < 0.5 * (l - typical).abs().mean()


def test_step_ratio_flags_a_path_with_a_jump():
    even = torch.linspace(0, 1, 16).reshape(1, 16, 1).expand(4, 16, 10) + torch.arange(4).reshape(4, 1, 1)
    assert torch.allclose(step_ratio(even), torch.ones(4))
    jumped = splice(even)
    assert jumped.shape == even.shape and torch.equal(jumped[0, 8], even[1, 8])
    assert (step_ratio(jumped[:3]) > 5).all()  # one step of ~1 against 14 of 1/15: max/mean ~ 8


def test_fit_attribute_labeller_learns_an_attribute(one_thread):
    from dcgan_lib.faces import make_faces

    train, test = make_faces(1024, 32, seed=11), make_faces(256, 32, seed=12)
    label = fit_attribute_labeller(train.images, {"eyeglasses": train.attributes["eyeglasses"]}, epochs=4, batch_size=64)
    p = label(test.images)["eyeglasses"]
    assert ((p > 0.5) == test.attributes["eyeglasses"]).float().mean() > 0.9  # an untrained one: about 0.5
    with pytest.raises(ValueError, match="one label per image"):
        fit_attribute_labeller(train.images, {"eyeglasses": train.attributes["eyeglasses"][:5]})


def test_celeba_labeller_reads_the_real_format(tmp_path, one_thread):
    from dcgan_lib.errors import DatasetError

    try:
        import fixtures_datasets as fx
    except ImportError:  # if tests/ ever becomes a package
        from tests import fixtures_datasets as fx

    fx.make_celeba(tmp_path)  # tiny files in CelebA's official layout and text formats
    with pytest.warns(UserWarning, match="MD5"):  # the fixture cannot carry the official checksums
        label = fit_celeba_labeller(tmp_path, image_size=32, n_images=100, epochs=1)
    out = label(torch.rand(3, 3, 32, 32) * 2 - 1)
    assert set(out) == {"smiling", "male", "eyeglasses"}
    assert all(v.shape == (3,) and ((v >= 0) & (v <= 1)).all() for v in out.values())
    with pytest.raises(DatasetError, match="unknown CelebA attribute 'Smile'"):
        fit_celeba_labeller(tmp_path, attributes={"smiling": "Smile"})
    with pytest.raises(DatasetError, match="celeba"):
        fit_celeba_labeller(tmp_path / "nowhere")


def test_generate_many_batches_and_applies_edits():
    from dcgan_lib.models import Generator, generate
    from dcgan_lib.probes import drop_maps

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        G = Generator(16, 3, 8, 8)
    z = sample_z(5, 8, generator=torch.Generator().manual_seed(1))
    edits = {"block1": drop_maps([0, 1])}
    assert torch.allclose(generate_many(G, z, batch_size=2), generate(G, z), atol=1e-6)
    edited = generate_many(G, z, batch_size=2, edits=edits)
    assert torch.allclose(edited, generate(G, z, edits=edits), atol=1e-6) and not torch.allclose(edited, generate(G, z))
