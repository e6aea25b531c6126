"""Distances between two sets of feature vectors, shared by the digit-quality and Inception metrics."""

from __future__ import annotations

import warnings

import numpy as np


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)), as in FID (Heusel et al. 2017).

    ``a`` and ``b`` are ``(samples, features)``; the covariances are the unbiased sample covariances.
    """
    from scipy import linalg

    mu_a, mu_b = a.mean(0), b.mean(0)
    if min(len(a), len(b)) <= a.shape[1]:
        return float(((mu_a - mu_b) ** 2).sum() + _low_rank_trace_term(a - mu_a, b - mu_b))
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # collapsed samples give singular covariances: offset as in pytorch-fid
        root, _ = linalg.sqrtm(cov_a @ cov_b, disp=False)
        if not np.isfinite(root).all():
            offset = np.eye(len(cov_a)) * 1e-6
            root, _ = linalg.sqrtm((cov_a + offset) @ (cov_b + offset), disp=False)
    root = root.real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))


def _low_rank_trace_term(x: np.ndarray, y: np.ndarray) -> float:
    """Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) from centred samples, when there are no more samples than features.

    Such covariances are singular, where a d x d matrix square root is slow (seconds at Inception's
    d = 2048) and inaccurate. With S_a = X'X / (n-1) and S_b = Y'Y / (m-1), the eigenvalues of S_a S_b
    are the squared singular values of X Y' / sqrt((n-1)(m-1)), so Tr (S_a S_b)^(1/2) is that small
    matrix's nuclear norm: exact, from an n x m SVD.
    """
    n, m = len(x) - 1, len(y) - 1
    root_trace = np.linalg.svd(x @ y.T, compute_uv=False).sum() / np.sqrt(n * m)
    return float((x * x).sum() / n + (y * y).sum() / m - 2 * root_trace)


def kid_subsets(a: np.ndarray, b: np.ndarray, subsets: int = 10, size: int = 300, seed: int = 0) -> np.ndarray:
    """Unbiased MMD^2 with the cubic polynomial kernel (Binkowski et al. 2018), one value per subset.

    Each subset draws ``size`` rows (at most the smaller set's size) from each set, without
    replacement, with a generator seeded by ``seed``.
    """
    rng = np.random.default_rng(seed)
    size = min(size, len(a), len(b))
    dim = a.shape[1]
    values = []
    for _ in range(subsets):
        x = a[rng.choice(len(a), size, replace=False)]
        y = b[rng.choice(len(b), size, replace=False)]
        kxx, kyy, kxy = ((u @ v.T / dim + 1) ** 3 for u, v in ((x, x), (y, y), (x, y)))
        m = size
        values.append(
            (kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean()
        )
    return np.array(values)


def kernel_inception_distance(a: np.ndarray, b: np.ndarray, subsets: int = 10, size: int = 300, seed: int = 0) -> float:
    """KID: the mean of :func:`kid_subsets`."""
    return float(np.mean(kid_subsets(a, b, subsets, size, seed)))
