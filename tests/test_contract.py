"""scikit-learn estimator contract for RelatedContent."""

from __future__ import annotations

import pickle

import numpy as np
from sklearn.base import clone

import relatedcontent
from relatedcontent import RelatedContent


def test_init_only_stores_params():
    model = RelatedContent(n_neighbors=-3, empty_text="whatever")
    assert model.get_params()["n_neighbors"] == -3
    assert not hasattr(model, "X_")


def test_clone_and_set_params(tiny_corpus):
    model = RelatedContent(title_weight=3.0).fit(tiny_corpus)
    copy = clone(model)
    assert copy.get_params() == model.get_params()
    assert not hasattr(copy, "X_")
    copy.set_params(n_neighbors=2)
    assert copy.fit(tiny_corpus).neighbors_.shape == (10, 2)


def test_fitted_model_pickles_for_joblib(tiny_corpus):
    # pickle is supported for clone/joblib in-process use, never as the saved format
    model = RelatedContent().fit(tiny_corpus)
    again = pickle.loads(pickle.dumps(model))  # noqa: S301 - our own object
    np.testing.assert_array_equal(again.neighbors_, model.neighbors_)


def test_repr_and_public_surface():
    assert repr(RelatedContent(n_neighbors=5)) == "RelatedContent(n_neighbors=5)"
    for name in relatedcontent.__all__:
        assert hasattr(relatedcontent, name)
    assert RelatedContent.__module__ == "relatedcontent"
