"""quality.py's relatedcontent row at several LSA dimensions (n_jobs=1), for robustness checks.

    python benchmarks/quality_dims.py --dims 40,50,60 --corpora bbc,bbcsport,20ng,bbc-snippets,20ng-threads
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quality as Q  # noqa: E402
from relatedcontent import RelatedContent  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dims", default="40,50,60")
    parser.add_argument("--corpora", default=",".join(Q.CORPORA))
    parser.add_argument("--param", action="append", default=[], help="name=value (python literal)")
    args = parser.parse_args(argv)
    import ast
    extra = {k: ast.literal_eval(v) for k, v in (p.split("=", 1) for p in args.param)}
    for name in args.corpora.split(","):
        articles, labels, rows = Q.load_corpus(name, Q.DATA)
        X_ref = Q.tuned_matrix(Q.texts(articles))
        for d in (int(x) for x in args.dims.split(",")):
            model = RelatedContent(n_neighbors=Q.K, n_jobs=1, lsa_components=d, **extra)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(articles)
            m = Q.score(np.asarray(model.neighbors_), labels, rows, X_ref)
            print(json.dumps({"corpus": name, "d": d, "variant": "relatedcontent " + json.dumps(extra),
                              **{k: round(v, 4) for k, v in m.items()}}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
