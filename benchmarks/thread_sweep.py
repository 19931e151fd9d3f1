"""Sweep of text-similarity formulas for the 20ng-threads loss (issue 8, follow-up).

Re-ranks the cached candidate pools of hub_sweep.load_variant (tag "base": the
current library, no patch) with alternative text similarities ``s`` and the
default hub reduction (sigma from the TF-IDF cosine of the 30th candidate,
gamma 1.5), no refit, and scores the lists with quality.py's protocol. With
``s`` unchanged (variant ``default``) the lists are the library's.

``c`` = TF-IDF cosine of the pair (the library's), ``l`` = two-rank smoothed-LSA
similarity, ``w`` = lsa_weight (0.6).

    python benchmarks/thread_sweep.py --dims 50 --corpora 20ng-threads,bbc,bbcsport,20ng,bbc-snippets
    python benchmarks/thread_sweep.py --dims 40,50,60 --only default,adapt_lin1
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hub_sweep as H  # noqa: E402

H.CACHE = Path(tempfile.gettempdir()) / "relatedcontent_thread_sweep"
H.CACHE.mkdir(exist_ok=True)


def parts(c):
    idx = c["idx"]
    wl = float(c["w"][1])
    cos = np.where(idx >= 0, c["cos"], 0.0)
    lsa = np.where(idx >= 0, c["lsa_part"] / wl, 0.0)
    return cos, lsa, wl, idx


def hub(c, s, k=30, gamma=1.5):
    """The default hub reduction of a text similarity s."""
    idx = c["idx"]
    s = np.where(idx >= 0, s, -np.inf)
    return H.ls_src(H.with_s(c, s), k, gamma), s


def blend_w(c, wfun):
    """s = (1 - w) c + w l with a pair weight w = wfun(c, l, w0)."""
    cos, lsa, w0, idx = parts(c)
    w = wfun(cos, lsa, w0)
    return hub(c, (1 - w) * cos + w * lsa)


def rrf(c, k=60, which="final"):
    """Reciprocal rank fusion of the TF-IDF order (pool position) and the default order."""
    score, s = hub(c, c["s"])
    idx = c["idx"]
    n, K = idx.shape
    key = np.where(np.isfinite(score) & (s > 0), score, -np.inf)
    order = np.argsort(-key, axis=1, kind="stable")
    r_blend = np.empty_like(order)
    np.put_along_axis(r_blend, order, np.arange(K)[None, :].repeat(n, 0), axis=1)
    r_tfidf = np.arange(K)[None, :].repeat(n, 0)  # pools are in TF-IDF order
    f = 1.0 / (k + r_blend + 1) + 1.0 / (k + r_tfidf + 1)
    return np.where(np.isfinite(key), f, 0.0), s


def peaked(c, kind="ratio", a=1.0):
    """Per-query LSA weight from how peaked the query's candidate cosines are (pair: mean of both)."""
    cos, lsa, w0, idx = parts(c)
    top = cos[:, 0]
    h = np.where(idx[:, 29] >= 0, cos[:, 29], 0.0)
    if kind == "ratio":
        pk = np.clip(1 - h / np.maximum(top, 1e-9), 0, 1)   # 0 flat, 1 peaked
    else:
        pk = np.clip(top - h, 0, 1)
    j = np.maximum(idx, 0)
    pair = 0.5 * (pk[:, None] + pk[j])
    w = w0 * np.clip(1 - a * pair, 0, 1)
    return hub(c, (1 - w) * cos + w * lsa)


def excess(c, a=1.0):
    """LSA weight lowered by how far c is above the local density h (of both articles)."""
    cos, lsa, w0, idx = parts(c)
    h = np.where(idx[:, 29] >= 0, cos[:, 29], 0.0)
    j = np.maximum(idx, 0)
    hij = np.maximum(h[:, None], h[j])
    t = np.clip((cos - hij) / np.maximum(1 - hij, 1e-9), 0, 1)
    w = w0 * np.clip(1 - a * t, 0, 1)
    return hub(c, (1 - w) * cos + w * lsa)


V = {
    "default": lambda c: hub(c, c["s"]),
    "tfidf_only": lambda c: hub(c, parts(c)[0]),
    "default_nohub": lambda c: (lambda s: (s, s))(c["s"]),
    "max(c,blend)": lambda c: hub(c, np.maximum(parts(c)[0], c["s"])),
    "max(c,l)": lambda c: hub(c, np.maximum(*parts(c)[:2])),
}
for p in (0.5, 1, 2, 3):
    V[f"w=w0(1-c)^{p}"] = (lambda p: lambda c: blend_w(c, lambda cos, l, w0: w0 * (1 - np.clip(cos, 0, 1)) ** p))(p)
for t in (0.3, 0.5, 0.7, 0.9):
    V[f"w=w0*clip(1-c/{t})"] = (lambda t: lambda c: blend_w(c, lambda cos, l, w0: w0 * np.clip(1 - cos / t, 0, 1)))(t)
for t0, t1 in ((0.2, 0.5), (0.3, 0.6), (0.4, 0.8), (0.5, 0.9)):
    V[f"w ramps 0.6->0 over c {t0}-{t1}"] = (lambda t0, t1: lambda c: blend_w(
        c, lambda cos, l, w0: w0 * np.clip((t1 - cos) / (t1 - t0), 0, 1)))(t0, t1)
for b in (0.25, 0.5, 1.0):
    V[f"blend+{b}*max(0,c-l)"] = (lambda b: lambda c: hub(c, c["s"] + b * np.maximum(0, parts(c)[0] - parts(c)[1])))(b)
for k in (10, 30, 60):
    V[f"rrf k={k}"] = (lambda k: lambda c: rrf(c, k))(k)
for kind in ("ratio", "diff"):
    for a in (0.5, 1.0):
        V[f"peaked {kind} a={a}"] = (lambda kind, a: lambda c: peaked(c, kind, a))(kind, a)
for a in (0.5, 1.0, 2.0):
    V[f"excess a={a}"] = (lambda a: lambda c: excess(c, a))(a)


def rank_scores(score, s, c, hide=True):
    cc = H.with_s(c, np.where(np.isfinite(s), s, -np.inf))
    if not hide:
        cc["cos"] = np.minimum(cc["cos"], 0.0)
    return H.rank(score, cc, c["idx"], c["tie"])


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--dims", default="50")
    ap.add_argument("--corpora", default="20ng-threads,bbc,bbcsport,20ng,bbc-snippets")
    ap.add_argument("--only", default="")
    ap.add_argument("--nohide", action="store_true", help="also the default without hiding near-copies")
    args = ap.parse_args(argv)
    only = [v for v in args.only.split(",") if v]
    variants = {k: v for k, v in V.items() if not only or k in only}
    for name in args.corpora.split(","):
        for d in (int(x) for x in args.dims.split(",")):
            c, labels, rows = H.load_variant(name, d, "base")
            for vname, fn in variants.items():
                score, s = fn(c)
                nb = rank_scores(score, s, c)
                m = H.metrics(nb, c, labels, rows)
                print(json.dumps({"corpus": name, "d": d, "variant": vname,
                                  **{k: round(v, 4) for k, v in m.items()
                                     if k in ("p@5", "mrr@10", "coverage@5", "hubness@5")}}), flush=True)
            if args.nohide:
                score, s = V["default"](c)
                m = H.metrics(rank_scores(score, s, c, hide=False), c, labels, rows)
                print(json.dumps({"corpus": name, "d": d, "variant": "default, near-copies shown",
                                  **{k: round(v, 4) for k, v in m.items()
                                     if k in ("p@5", "mrr@10", "coverage@5", "hubness@5")}}), flush=True)
    return 0



def peaked_row(c, a=0.5, kind="ratio"):
    """As peaked, but the query's own peakedness only (asymmetric)."""
    cos, lsa, w0, idx = parts(c)
    h = np.where(idx[:, 29] >= 0, cos[:, 29], 0.0)
    pk = np.clip(1 - h / np.maximum(cos[:, 0], 1e-9), 0, 1) if kind == "ratio" else np.clip(cos[:, 0] - h, 0, 1)
    w = w0 * np.clip(1 - a * pk, 0, 1)[:, None]
    return hub(c, (1 - w) * cos + w * lsa)


def boost(c, b=0.1):
    """s plus b times the pair's TF-IDF excess over the local density of both articles."""
    cos, lsa, w0, idx = parts(c)
    h = np.where(idx[:, 29] >= 0, cos[:, 29], 0.0)
    hij = np.maximum(h[:, None], h[np.maximum(idx, 0)])
    t = np.clip((cos - hij) / np.maximum(1 - hij, 1e-9), 0, 1)
    return hub(c, np.minimum(c["s"] + b * t, 1.0))


def rrf_w(c, k=60, a=0.5):
    score, s = rrf(c, k)
    idx = c["idx"]; n, K = idx.shape
    sc, _ = hub(c, c["s"])
    key = np.where(np.isfinite(sc) & (s > 0), sc, -np.inf)
    order = np.argsort(-key, axis=1, kind="stable")
    rb = np.empty_like(order); np.put_along_axis(rb, order, np.arange(K)[None, :].repeat(n, 0), axis=1)
    f = 1.0 / (k + rb + 1) + a / (k + np.arange(K)[None, :] + 1)
    return np.where(np.isfinite(key), f, 0.0), s


V["tfidf_only nohub"] = lambda c: (lambda s: (s, s))(np.where(c["idx"] >= 0, c["cos"], -np.inf))
for w in (0.5, 0.55):
    V[f"lsa_weight={w}"] = (lambda w: lambda c: hub(c, (1 - w) * parts(c)[0] + w * parts(c)[1]))(w)
for p in (2, 4):
    V[f"0.4c+0.6l^{p}"] = (lambda p: lambda c: hub(c, 0.4 * parts(c)[0] + 0.6 * np.maximum(parts(c)[1], 0) ** p))(p)
for a in (0.25, 0.5):
    for kind in ("ratio", "diff"):
        V[f"peaked_row {kind} a={a}"] = (lambda a, kind: lambda c: peaked_row(c, a, kind))(a, kind)
for b in (0.05, 0.1, 0.2):
    V[f"boost b={b}"] = (lambda b: lambda c: boost(c, b))(b)
for a in (0.25, 0.5):
    V[f"rrf k=60 tfidf x{a}"] = (lambda a: lambda c: rrf_w(c, 60, a))(a)


if __name__ == "__main__":
    sys.exit(main())
