"""Sweep of hub-reduction formulas over cached pools (issue 8, the score change of 2026-12-01).

Fits relatedcontent once per corpus and LSA dimension (n_jobs=1), caches the
candidate pools, their TF-IDF cosines and the blended text similarity s (in
the temporary folder's ``relatedcontent_hub_sweep``), then re-ranks the pools
with alternative hub reductions (no refit) and scores the lists with
quality.py's protocol. ``load_variant`` refits with a monkeypatch of
``relatedcontent.scoring.lists`` (or a ``post`` hook on the fitted model) for the
experiments that change s itself (centred LSA, more SVD power iterations, more
smoothing steps, BM25 weights, the two-rank LSA similarity).

The figures in benchmarks/README.md were made with the score before that change
(commit 0495f42): there ``ls(c)`` re-ranked to exactly ``RelatedContent().neighbors_``
(checked on bbc and bbcsport), ``ls_src(c, 30, 1.5)`` is the local scale from the
TF-IDF cosine and ``nested_trunc_post`` the two-rank LSA similarity. With the
current library the cached s already is the two-rank similarity, so
``ls_src(c, 30, 1.5)`` reproduces the default and ``nested_trunc_post`` must not
be applied again. The cache is keyed by corpus, dimension and tag only: delete
it after changing the library.

Used as a library from small driver scripts, e.g.::

    import hub_sweep as H
    H.run(["bbc", "20ng"], [40, 50, 60], {"LS": H.ls, "LScos": lambda c: H.ls_src(c, 30, 1.5)})
"""

from __future__ import annotations

import json
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
from scipy.special import ndtr

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quality as Q  # noqa: E402
from relatedcontent import RelatedContent  # noqa: E402
from relatedcontent.scoring.lists import _pool_similarity  # noqa: E402

CACHE = Path(tempfile.gettempdir()) / "relatedcontent_hub_sweep"
CACHE.mkdir(exist_ok=True)


def load(name, d):
    f = CACHE / f"{name}_{d}.npz"
    articles, labels, rows = Q.load_corpus(name, Q.DATA)
    if f.exists():
        z = np.load(f)
        return dict(z), labels, rows
    model = RelatedContent(n_neighbors=10, n_jobs=1, lsa_components=d)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(articles)
    n = model.X_.shape[0]
    s = _pool_similarity(model, np.arange(n))
    X_ref = Q.tuned_matrix(Q.texts(articles))
    ref = Q.pair_cosines(X_ref, model.pool_idx_)
    out = dict(idx=model.pool_idx_, cos=model.pool_cos_, s=s, nb=np.asarray(model.neighbors_),
               sigma=model.hub_sigma_, refcos=ref, tie=model._tie_rank)
    np.savez(f, **out)
    return out, labels, rows


def rank(score, c, idx, tie, k=10):
    score = np.where((idx >= 0) & (c["s"] > 0) & (c["cos"] < 0.9), score, -np.inf)
    key = np.where(np.isfinite(score), -np.round(score, 12), np.inf)
    rk = tie[np.maximum(idx, 0)]
    o1 = np.argsort(rk, axis=1, kind="stable")
    o2 = np.argsort(np.take_along_axis(key, o1, 1), axis=1, kind="stable")
    order = np.take_along_axis(o1, o2, 1)[:, :k]
    out = np.take_along_axis(idx, order, 1)
    ok = np.isfinite(np.take_along_axis(score, order, 1))
    return np.where(ok, out, -1)


def metrics(nb, c, labels, rows):
    # cosines of listed pairs from the cached reference cosines of the pool
    idx = c["idx"]
    ref = np.zeros(nb.shape)
    for r in range(nb.shape[0]):
        m = dict(zip(idx[r].tolist(), c["refcos"][r].tolist()))
        ref[r] = [m.get(o, 0.0) for o in nb[r].tolist()]
    if rows is None:
        return Q.list_metrics(nb, ref, labels)
    sub = nb[rows]
    hits = np.array([[o >= 0 and bool(labels[i] & labels[o]) for o in sr] for i, sr in zip(rows, sub)])
    first = np.where(hits.any(axis=1), hits.argmax(axis=1) + 1, 0)
    base = Q.list_metrics(nb, ref, labels)
    return {"p@5": float(hits[:, :5].mean()), "p@10": float(hits.mean()),
            "mrr@10": float(np.mean(np.where(first > 0, 1.0 / np.maximum(first, 1), 0.0))),
            "coverage@5": base["coverage@5"], "hubness@5": base["hubness@5"]}


# -- scores ---------------------------------------------------------------------------
def kth(s, k):
    return np.where(np.isfinite(x := -np.partition(-s, k - 1, axis=1)[:, k - 1]), np.maximum(x, 0), 0)


def ls(c, k=10, gamma=0.75):
    s, idx = c["s"], c["idx"]
    sig = np.clip(1 - kth(s, k), 1e-3, 1)
    if gamma == 0:
        return s
    scale = (sig[:, None] * sig[np.maximum(idx, 0)]) ** gamma
    return np.where(s > 0, np.maximum(s, 1e-300) ** (1 / scale), 0)


def nicdm(c, k=10, gamma=0.75):
    """Local scaling with sigma = 1 - mean of the top-k similarities."""
    s, idx = c["s"], c["idx"]
    top = -np.sort(-np.where(np.isfinite(s), s, -1), axis=1)[:, :k]
    sig = np.clip(1 - np.maximum(top, 0).mean(axis=1), 1e-3, 1)
    scale = (sig[:, None] * sig[np.maximum(idx, 0)]) ** gamma
    return np.where(s > 0, np.maximum(s, 1e-300) ** (1 / scale), 0)


def pool_stats(c, m=None):
    s = c["s"]
    valid = np.isfinite(s)
    if m is not None:
        top = -np.sort(-np.where(valid, s, -np.inf), axis=1)[:, :m]
        valid = np.isfinite(top)
        s = top
    v = np.where(valid, s, 0.0)
    cnt = np.maximum(valid.sum(1), 1)
    mu = v.sum(1) / cnt
    sd = np.sqrt(np.maximum((np.where(valid, (s - mu[:, None]) ** 2, 0)).sum(1) / cnt, 0))
    return mu, np.maximum(sd, 1e-6)


def mp(c, m=None, combine="prod", blend=None):
    """Gaussian mutual proximity (Schnitzer et al. 2012), pool statistics of both articles."""
    s, idx = c["s"], c["idx"]
    mu, sd = pool_stats(c, m)
    j = np.maximum(idx, 0)
    pi = ndtr((s - mu[:, None]) / sd[:, None])
    pj = ndtr((s - mu[j]) / sd[j])
    if combine == "prod":
        out = pi * pj
    elif combine == "j":
        out = pj
    elif combine == "min":
        out = np.minimum(pi, pj)
    if blend is not None:
        out = blend * out + (1 - blend) * np.where(s > 0, s, 0)
    return np.where(np.isfinite(s), out, -np.inf)


def zscore(c, m=None, gamma=1.0):
    """s standardised by the pool stats of j (rank-equivalent to j's MP factor alone)."""
    s, idx = c["s"], c["idx"]
    mu, sd = pool_stats(c, m)
    j = np.maximum(idx, 0)
    return (s - gamma * mu[j]) / sd[j]


VARIANTS = {}


def run(corpora, dims, variants):
    res = []
    for name in corpora:
        for d in dims:
            c, labels, rows = load(name, d)
            for vname, fn in variants.items():
                nb = rank(fn(c), c, c["idx"], c["tie"])
                m = metrics(nb, c, labels, rows)
                row = {"corpus": name, "d": d, "variant": vname, **{k: round(v, 4) for k, v in m.items()
                       if k in ("p@5", "mrr@10", "coverage@5", "hubness@5")}}
                res.append(row)
                print(json.dumps(row), flush=True)
    return res


def topmean(x, k):
    top = -np.sort(-np.where(np.isfinite(x), x, -1), axis=1)[:, :k]
    return np.maximum(top, 0).mean(axis=1)


def csls(c, k=10, beta=1.0, src="s"):
    """CSLS (Conneau et al. 2018): 2 s - r_i - r_j, r = mean of the top-k similarities."""
    s, idx = c["s"], c["idx"]
    base = c[src] if src != "cos" else np.where(idx >= 0, c["cos"], -np.inf)
    r = topmean(base, k)
    return np.where(s > 0, 2 * s - beta * (r[:, None] + r[np.maximum(idx, 0)]), -np.inf)


def ls_src(c, k=10, gamma=0.75, src="cos"):
    """Local scaling with sigma from another similarity (cos = raw TF-IDF cosine)."""
    s, idx = c["s"], c["idx"]
    base = np.where(idx >= 0, c["cos"], -np.inf)
    sig = np.clip(1 - kth(base, k), 1e-3, 1)
    scale = (sig[:, None] * sig[np.maximum(idx, 0)]) ** gamma
    return np.where(s > 0, np.maximum(s, 1e-300) ** (1 / scale), 0)


def global_stats(name, d):
    """Mean and sd of s(i, j) over all j != i (exact, chunked)."""
    f = CACHE / f"{name}_{d}_global.npz"
    if f.exists():
        z = np.load(f)
        return z["mu"], z["sd"]
    articles, labels, rows = Q.load_corpus(name, Q.DATA)
    model = RelatedContent(n_neighbors=10, n_jobs=1, lsa_components=d)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(articles)
    X, Z = model.X_, model.lsa_
    wt, wl, _ = model.weights_
    n = X.shape[0]
    XT = X.T.tocsc()
    mu = np.zeros(n); sd = np.zeros(n)
    for a in range(0, n, 1024):
        b = min(a + 1024, n)
        S = wt * (X[a:b] @ XT).toarray() + wl * (Z[a:b] @ Z.T)
        S[np.arange(b - a), np.arange(a, b)] = np.nan
        mu[a:b] = np.nanmean(S, axis=1); sd[a:b] = np.nanstd(S, axis=1)
    np.savez(f, mu=mu, sd=sd)
    return mu, sd


def mp_global(c, mu, sd, combine="prod"):
    from scipy.special import log_ndtr
    s, idx = c["s"], c["idx"]
    j = np.maximum(idx, 0)
    lqi = log_ndtr(-(s - mu[:, None]) / sd[:, None])   # log P(S_i > s)
    lqj = log_ndtr(-(s - mu[j]) / sd[j])
    if combine == "prod":   # 1 - MP = Qi + Qj - Qi Qj; rank by -log(1 - MP)
        q = np.exp(lqi) + np.exp(lqj) - np.exp(lqi + lqj)
        out = -np.log(np.maximum(q, 1e-300))
        # where q underflows use -logaddexp
        out = np.where(q < 1e-250, -np.logaddexp(lqi, lqj), out)
    else:
        out = -lqj
    return np.where(np.isfinite(s), out, -np.inf)


# -- centering experiments (Suzuki et al. 2013, "Centering similarity measures to reduce hubs") --
def load_variant(name, d, tag, patch=None, params=None, post=None):
    """Fit with a monkeypatch of _ranking (an experiment) and cache like load()."""
    f = CACHE / f"{name}_{d}_{tag}.npz"
    articles, labels, rows = Q.load_corpus(name, Q.DATA)
    if f.exists():
        return dict(np.load(f)), labels, rows
    import relatedcontent.scoring.lists as R
    saved = {k: getattr(R, k) for k in (patch or {})}
    for k, v in (patch or {}).items():
        setattr(R, k, v)
    try:
        model = RelatedContent(n_neighbors=10, n_jobs=1, lsa_components=d, **(params or {}))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(articles)
    finally:
        for k, v in saved.items():
            setattr(R, k, v)
    n = model.X_.shape[0]
    if post is not None:
        post(model)
    s = _pool_similarity(model, np.arange(n))
    X_ref = Q.tuned_matrix(Q.texts(articles))
    ref = Q.pair_cosines(X_ref, model.pool_idx_)
    m = np.asarray(model.X_.mean(axis=0)).ravel()
    xm = np.asarray(model.X_ @ m).ravel()
    out = dict(idx=model.pool_idx_, cos=model.pool_cos_, s=s, nb=np.asarray(model.neighbors_),
               sigma=model.hub_sigma_, refcos=ref, tie=model._tie_rank, xm=xm, mm=float(m @ m),
               w=np.array(model.weights_),
               lsa_part=(s - model.weights_[0] * np.where(model.pool_idx_ >= 0, model.pool_cos_, 0)))
    np.savez(f, **out)
    return out, labels, rows


CENTER = {}


def centered_patch():
    from relatedcontent.scoring import score as S
    orig_fit, orig_vec = S.fit_lsa, S.lsa_vectors

    def fit_lsa(X, d, random_state=0):
        comps = orig_fit(X, d, random_state)
        if comps is not None:
            CENTER["c"] = orig_vec(X, comps).mean(axis=0)
        return comps

    def lsa_vectors(X, comps):
        return S._unit_rows(orig_vec(X, comps) - CENTER["c"])

    return {"fit_lsa": fit_lsa, "lsa_vectors": lsa_vectors}


def with_s(c, s):
    c = dict(c); c["s"] = s
    return c


def centered_tfidf_s(c):
    """s with the TF-IDF cosine replaced by the centred cosine (exact from cos and x.m)."""
    idx = c["idx"]; j = np.maximum(idx, 0)
    cos = np.where(idx >= 0, c["cos"], 0)
    xm, mm = c["xm"], float(c["mm"])
    num = cos - xm[:, None] - xm[j] + mm
    den = np.sqrt(np.maximum(1 - 2 * xm + mm, 1e-12))
    cc = num / (den[:, None] * den[j])
    s = c["w"][0] * cc + c["lsa_part"]
    return np.where(idx >= 0, s, -np.inf)


def empirical_mp(c, combine="prod"):
    """Empirical mutual proximity over the pools: share of each article's pool below s."""
    s, idx = c["s"], c["idx"]
    n, K = s.shape
    srt = np.sort(np.where(np.isfinite(s), s, -np.inf), axis=1)
    cnt = np.isfinite(s).sum(1)
    j = np.maximum(idx, 0)
    # rank of s_ij within row i's pool and within row j's pool (share strictly below)
    below_i = np.array([np.searchsorted(srt[r], s[r], side="left") for r in range(n)]) - (K - cnt)[:, None]
    below_j = np.zeros_like(s)
    for r in range(n):
        jj = j[r]
        below_j[r] = [np.searchsorted(srt[q], v, side="left") - (K - cnt[q]) for q, v in zip(jj, s[r])]
    pi = below_i / np.maximum(cnt, 1)[:, None]
    pj = below_j / np.maximum(cnt[j], 1)
    out = pi * pj if combine == "prod" else pj
    # ties broken by s
    return np.where(np.isfinite(s), out + 1e-6 * s, -np.inf)


def snn(c, m=10, weight=1.0, base=None):
    """Shared nearest neighbours: overlap of the top-m pools, added to the (hub-reduced) score."""
    s, idx = c["s"], c["idx"]
    n = s.shape[0]
    top = idx[:, :m]
    out = np.zeros(s.shape)
    for a in range(0, n, 1024):
        b = min(a + 1024, n)
        mark = np.zeros((b - a, n + 1), dtype=bool)
        rr = np.repeat(np.arange(b - a), m)
        mark[rr, np.where(top[a:b] >= 0, top[a:b], n).ravel()] = True
        mark[:, n] = False
        jt = top[np.maximum(idx[a:b], 0)]  # (rows, K, m)
        out[a:b] = mark[np.arange(b - a)[:, None, None], np.where(jt >= 0, jt, n)].sum(-1) / m
    b0 = ls(c) if base is None else base
    return np.where(np.isfinite(s), b0 + weight * out * 0.1, -np.inf)


def svd_iter_patch(n_iter):
    """fit_lsa with more power iterations (a more exact SVD)."""
    from relatedcontent.scoring import score as S

    def fit_lsa(X, n_components, random_state=0):
        from sklearn.decomposition import TruncatedSVD
        from threadpoolctl import threadpool_limits
        n, m = X.shape
        d = min(int(n_components), n // 2, m - 1)
        if d < 2 or X.nnz == 0:
            return None
        svd = TruncatedSVD(n_components=d, algorithm="randomized", n_iter=n_iter, random_state=random_state)
        with threadpool_limits(limits=1, user_api="blas"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            svd.fit(X.astype(np.float32))
        return np.ascontiguousarray(svd.components_, dtype=np.float32)

    return {"fit_lsa": fit_lsa}


def diffuse_post(steps=2, m=None, weight=None):
    """Extra smoothing steps: z <- unit(raw + w * W @ z) (diffusion on the pool graph)."""
    from relatedcontent.scoring.score import neighbour_weights, _unit_rows

    def post(model):
        W = neighbour_weights(model.pool_idx_, model.pool_cos_, int(m or model.smoothing_neighbors))
        w = float(model.smoothing_weight if weight is None else weight)
        Z = model.lsa_
        for _ in range(steps - 1):
            Z = _unit_rows(model.lsa_raw_ + np.float32(w) * np.asarray(W @ Z, dtype=np.float32))
        model.lsa_ = Z

    return post


def ls_pair(c, k=10, gamma=0.75, how="min"):
    s, idx = c["s"], c["idx"]
    sig = np.clip(1 - kth(s, k), 1e-3, 1)
    a, b = sig[:, None], sig[np.maximum(idx, 0)]
    pair = {"min": np.minimum(a, b) ** 2, "max": np.maximum(a, b) ** 2, "j": b * b,
            "clipi": a * np.minimum(a, b)}[how]
    return np.where(s > 0, np.maximum(s, 1e-300) ** (1 / pair ** gamma), 0)


def geometric_s(c):
    """Weighted geometric mean of the TF-IDF cosine and the LSA cosine (both must agree)."""
    idx = c["idx"]
    wt, wl = float(c["w"][0]), float(c["w"][1])
    cos = np.where(idx >= 0, np.maximum(c["cos"], 0), 0)
    lsa = np.maximum(c["lsa_part"] / wl, 0) if wl else np.ones_like(cos)
    with np.errstate(divide="ignore"):
        s = np.exp(wt * np.log(cos) + wl * np.log(lsa))
    return np.where(idx >= 0, s, -np.inf)


def _lscale(x, idx, k, gamma, sig_from=None):
    base = x if sig_from is None else sig_from
    sig = np.clip(1 - kth(np.where(idx >= 0, base, -np.inf), k), 1e-3, 1)
    scale = (sig[:, None] * sig[np.maximum(idx, 0)]) ** gamma
    return np.where(x > 0, np.maximum(x, 1e-300) ** (1 / scale), 0.0)


def ls_parts(c, k=10, gamma=0.75, gl=None):
    """Local scaling of each similarity (TF-IDF cosine, LSA cosine) by its own scale, then blended."""
    idx = c["idx"]
    wt, wl = float(c["w"][0]), float(c["w"][1])
    cos = np.where(idx >= 0, c["cos"], 0)
    lsa = np.where(idx >= 0, c["lsa_part"] / wl, 0)
    out = wt * _lscale(cos, idx, k, gamma) + wl * _lscale(lsa, idx, k, gamma if gl is None else gl)
    return np.where((idx >= 0) & (c["s"] > 0), out, -np.inf)


def ls_mixed(c, k=10, gamma=1.0, how="geo"):
    """sigma combining the TF-IDF-cosine scale and the text-similarity scale."""
    s, idx = c["s"], c["idx"]
    sc = np.clip(1 - kth(np.where(idx >= 0, c["cos"], -np.inf), k), 1e-3, 1)
    ss = np.clip(1 - kth(s, k), 1e-3, 1)
    sig = np.sqrt(sc * ss) if how == "geo" else np.minimum(sc, ss)
    scale = (sig[:, None] * sig[np.maximum(idx, 0)]) ** gamma
    return np.where(s > 0, np.maximum(s, 1e-300) ** (1 / scale), 0)


def nicdm_cos(c, k=10, gamma=1.0):
    s, idx = c["s"], c["idx"]
    sig = np.clip(1 - topmean(np.where(idx >= 0, c["cos"], -np.inf), k), 1e-3, 1)
    scale = (sig[:, None] * sig[np.maximum(idx, 0)]) ** gamma
    return np.where(s > 0, np.maximum(s, 1e-300) ** (1 / scale), 0)


def mp_cos(c, m=None):
    """Gaussian MP of s with each article's pool statistics of the TF-IDF cosine."""
    s, idx = c["s"], c["idx"]
    cc = dict(c); cc["s"] = np.where(idx >= 0, c["cos"], -np.inf)
    mu, sd = pool_stats(cc, m)
    j = np.maximum(idx, 0)
    # standardise s's TF-IDF part? use cos itself with the cos stats, blended with s's rank
    pi = ndtr((cc["s"] - mu[:, None]) / sd[:, None]); pj = ndtr((c["cos"] - mu[j]) / sd[j])
    return np.where(np.isfinite(s), s * pi * pj, -np.inf)


def lscos_pair(c, k=30, gamma=1.5, how="clipi"):
    s, idx = c["s"], c["idx"]
    sig = np.clip(1 - kth(np.where(idx >= 0, c["cos"], -np.inf), k), 1e-3, 1)
    a, b = sig[:, None], sig[np.maximum(idx, 0)]
    pair = {"clipi": a * np.minimum(a, b), "min": np.minimum(a, b) ** 2}[how]
    return np.where(s > 0, np.maximum(s, 1e-300) ** (1 / pair ** gamma), 0)


def nested_post(fraction=0.5):
    """LSA part = mean of the smoothed-LSA cosines with all d and with the first d*fraction dimensions."""
    from relatedcontent.scoring.score import neighbour_weights, smooth_vectors, _unit_rows

    def post(model):
        d = model.lsa_raw_.shape[1]
        h = max(2, int(round(d * fraction)))
        W = neighbour_weights(model.pool_idx_, model.pool_cos_, int(model.smoothing_neighbors))
        full = model.lsa_
        half = smooth_vectors(_unit_rows(model.lsa_raw_[:, :h].copy()), W, float(model.smoothing_weight))
        # <a,b>/2 + <c,d>/2 = <[a,c]/sqrt2, [b,d]/sqrt2>: concatenation keeps unit rows
        model.lsa_ = (np.hstack([full, half]) / np.sqrt(2)).astype(np.float32)

    return post


def nested_trunc_post(fraction=0.5):
    """As nested_post, but the coarse vector is the truncation of the smoothed vector itself.

    LSA part = (<z_i, z_j> + <z_i[:h], z_j[:h]> / (|z_i[:h]| |z_j[:h]|)) / 2, h = d * fraction:
    needs nothing stored beyond the smoothed vectors z.
    """
    from relatedcontent.scoring.score import _unit_rows

    def post(model):
        d = model.lsa_.shape[1]
        h = max(2, int(round(d * fraction)))
        full = model.lsa_
        half = _unit_rows(full[:, :h].copy())
        model.lsa_ = (np.hstack([full, half]) / np.sqrt(2)).astype(np.float32)

    return post
