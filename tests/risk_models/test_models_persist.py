"""Fitted models survive risk_models.persist and refuse to load into other code."""

from __future__ import annotations

import numpy as np
import pytest

from risk_models import persist
from risk_models.bench import synthetic_labels
from risk_models.models import make_model_matrix
from risk_models.registry import get_model


def _meta(model, **changes):
    meta = persist.ModelMetadata(name=model.name, version=model.version,
                                 features=list(model.features),
                                 n_samples=int(model.n_labels_), n_positive=model.n_positive_,
                                 extra={"thresholds": list(model.thresholds_)})
    for key, value in changes.items():
        setattr(meta, key, value)
    return meta


@pytest.mark.parametrize("name", ["registration_fraud", "advertising", "complaint_surge"])
def test_round_trip(name, province, tmp_path):
    cols, _ = province
    model = get_model(name)
    X = make_model_matrix(model, cols)
    y = synthetic_labels(model, X, cols["_latent"], 1)
    model.fit(X, y)
    persist.save(model, tmp_path / name, _meta(model))
    loaded, meta = persist.load(tmp_path / name, name=name, version=model.version,
                                features=model.features)
    assert meta.extra["thresholds"] == list(model.thresholds_)
    np.testing.assert_array_equal(loaded.score_samples(X), model.score_samples(X))
    rows = np.flatnonzero(model.predict(X))
    a, b = model.explain(X, rows=rows), loaded.explain(X, rows=rows)
    np.testing.assert_array_equal(a.codes, b.codes)
    np.testing.assert_array_equal(a.details, b.details)


def test_mismatches_are_refused(province, tmp_path):
    cols, _ = province
    model = get_model("certification").fit(make_model_matrix(get_model("certification"), cols))
    persist.save(model, tmp_path / "old", _meta(model, version="0"))
    with pytest.raises(persist.ModelVersionError, match="version '0'"):
        persist.load(tmp_path / "old", name=model.name, version=model.version,
                     features=model.features)
    persist.save(model, tmp_path / "narrow", _meta(model, features=list(model.features[:-1])))
    with pytest.raises(persist.ModelVersionError, match="features differ"):
        persist.load(tmp_path / "narrow", name=model.name, version=model.version,
                     features=model.features)
    persist.save(model, tmp_path / "other", _meta(model))
    with pytest.raises(persist.ModelVersionError, match="model 'certification'"):
        persist.load(tmp_path / "other", name="metrology", version=model.version,
                     features=model.features)


def test_scoring_with_another_width_is_refused(province):
    cols, _ = province
    model = get_model("metrology")
    X = make_model_matrix(model, cols)
    model.fit(X)
    with pytest.raises(ValueError, match="X has 7 features, but Metrology is expecting 8"):
        model.score_samples(X[:, :-1])
