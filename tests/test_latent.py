"""z sampling and interpolation paths."""

import math

import pytest
import torch

from dcgan_lib.latent import interpolate, lerp, sample_z, slerp, z_from_seed


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


def test_bad_arguments():
    with pytest.raises(ValueError, match="lerp' or 'slerp"):
        interpolate(z_from_seed(0), z_from_seed(1), 4, "cubic")
    with pytest.raises(ValueError, match="at least 2"):
        interpolate(z_from_seed(0), z_from_seed(1), 1)
