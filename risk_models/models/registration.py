"""Registration fraud: graph features of entities sharing address, phone or legal
representative, then rules / LightGBM.

The graph is bipartite (entities — attribute values) and built as one sparse matrix;
its connected components (``scipy.sparse.csgraph``) are clusters of entities linked
by any shared attribute. Shell-company farms show up as large clusters of young
entities that skip annual reports and cannot be reached.

The graph is computed over the rows passed to each call, so the model must be
scored (and explained, with ``explain(X, rows=...)``) on the whole population at
once, as the server does. To train on stacked snapshots, pass ``groups`` to ``fit``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from risk_models.models._framework import Columns, LGBMDomainModel, Terms, TermsBuilder, _log1p
from risk_models.registry import register

__all__ = ["GRAPH_FEATURES", "RegistrationFraud", "shared_attribute_graph"]

#: Context features computed from the graph, in column order.
GRAPH_FEATURES = (
    "component_size",
    "shared_address",
    "shared_phone",
    "shared_legal_rep",
    "cluster_missing_report_share",
    "cluster_unreachable_share",
    "cluster_abnormal_share",
    "cluster_young_share",
)


def _codes(values: np.ndarray) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    return np.where(np.isfinite(v) & (v >= 0), v, -1).astype(np.int64)


def shared_attribute_graph(
    *attributes: np.ndarray,
    flags: dict[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Cluster entities linked by shared attribute codes.

    Parameters
    ----------
    *attributes : ndarray of shape (n,)
        Codes of shared attributes (address, phone, legal representative); equal
        codes link entities, negative or NaN means unknown.
    flags : dict of str to ndarray of shape (n,), optional
        0/1 indicators whose share among the *other* members of each entity's
        cluster is returned as ``"cluster_<name>_share"``.

    Returns
    -------
    dict of str to ndarray of shape (n,)
        ``"component"`` (cluster label), ``"component_size"`` (entities in the
        cluster), ``"shared_<i>"`` (other entities sharing attribute ``i``), and
        the cluster shares of ``flags``.

    Examples
    --------
    >>> import numpy as np
    >>> g = shared_attribute_graph(np.array([1, 1, 2, -1]), np.array([-1, 7, 7, -1]))
    >>> g["component_size"].tolist(), g["shared_0"].tolist()
    ([3, 3, 3, 1], [1, 1, 0, 0])
    """
    n = len(attributes[0])
    rows, cols, out = [], [], {}
    offset = n
    for i, values in enumerate(attributes):
        code = _codes(values)
        known = np.flatnonzero(code >= 0)
        uniq, inv = np.unique(code[known], return_inverse=True)
        shared = np.zeros(n, dtype=np.int64)
        shared[known] = np.bincount(inv, minlength=len(uniq))[inv] - 1
        out[f"shared_{i}"] = shared
        rows.append(known)
        cols.append(offset + inv)
        offset += len(uniq)
    r, c = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(len(r), dtype=np.int8), (r, c)), shape=(offset, offset)).tocsr()
    _, labels = connected_components(graph, directed=False)
    comp = labels[:n]
    _, comp = np.unique(comp, return_inverse=True)
    counts = np.bincount(comp)
    size = counts[comp]
    out["component"] = comp
    out["component_size"] = size
    others = size - 1
    for key, flag in (flags or {}).items():
        f = np.nan_to_num(np.asarray(flag, dtype=np.float64), nan=0.0)
        total = np.bincount(comp, weights=f, minlength=len(counts))[comp] - f
        out[f"cluster_{key}_share"] = np.divide(total, others, out=np.zeros(n), where=others > 0)
    return out


class RegistrationFraud(LGBMDomainModel):
    """Shell / fraudulent registration: shared attributes, cluster behaviour."""

    name = "registration_fraud"
    description = "虚假登记风险预警"
    domain = "registration_fraud"
    kind = "graph+lightgbm"
    features = (
        "age_years",
        "capital_log",
        "is_individual",
        "address_id",
        "phone_id",
        "legal_rep_id",
        "annual_report_missing",
        "address_unreachable",
        "on_abnormal_list",
        "closure_signal",
        "activity_signals_90d",
    )
    business_types = None
    legal_basis = (("市场主体登记管理条例", 40), ("市场主体登记管理条例", 17))
    rule_articles: ClassVar[dict[str, tuple[str, int]]] = {
        code: ("市场主体登记管理条例", 40) for code in (*GRAPH_FEATURES, "cluster_misconduct_share")
    }
    reason_labels: ClassVar[dict[str, str]] = {
        "component_size": "关联企业群规模(共用住所、电话或法定代表人)",
        "shared_address": "同一登记住所的其他企业数",
        "shared_phone": "同一联系电话的其他企业数",
        "shared_legal_rep": "同一法定代表人的其他企业数",
        "cluster_missing_report_share": "关联企业中未报年报的比例",
        "cluster_unreachable_share": "关联企业中无法联系的比例",
        "cluster_abnormal_share": "关联企业中列入经营异常名录的比例",
        "cluster_young_share": "关联企业中成立不满一年的比例",
        "cluster_misconduct_share": "关联企业中未报年报、无法联系、列入异常名录的平均比例",
        "recently_registered": "成立不满一年",
    }
    derived_monotone: ClassVar[dict[str, int]] = {code: 1 for code in GRAPH_FEATURES}
    default_volume = (0.0015, 0.0005, 0.00015)

    def _context(self, C: Columns) -> dict[str, np.ndarray]:
        g = shared_attribute_graph(
            C.num("address_id"), C.num("phone_id"), C.num("legal_rep_id"),
            flags={
                "missing_report": C.flag("annual_report_missing"),
                "unreachable": C.flag("address_unreachable"),
                "abnormal": C.flag("on_abnormal_list"),
                "young": (C.num("age_years") < 1.0).astype(np.float64),
            },
        )
        return {
            "component_size": g["component_size"].astype(np.float64),
            "shared_address": g["shared_0"].astype(np.float64),
            "shared_phone": g["shared_1"].astype(np.float64),
            "shared_legal_rep": g["shared_2"].astype(np.float64),
            "cluster_missing_report_share": g["cluster_missing_report_share"],
            "cluster_unreachable_share": g["cluster_unreachable_share"],
            "cluster_abnormal_share": g["cluster_abnormal_share"],
            "cluster_young_share": g["cluster_young_share"],
        }

    def _derived(self, C: Columns, ctx: dict[str, np.ndarray]) -> tuple[list[str], np.ndarray]:
        return list(GRAPH_FEATURES), np.column_stack([ctx[k] for k in GRAPH_FEATURES])

    def _terms(self, C: Columns, ctx: dict[str, np.ndarray]) -> Terms:
        b = TermsBuilder(len(C), bias=-5.2)
        for key, weight in (("shared_address", 0.6), ("shared_phone", 0.7),
                            ("shared_legal_rep", 0.5)):
            b.add(key, _log1p(ctx[key]), weight, ctx[key])
        b.add("component_size", _log1p(ctx["component_size"] - 1.0), 0.2, ctx["component_size"])
        bad = (ctx["cluster_missing_report_share"] + ctx["cluster_unreachable_share"]
               + ctx["cluster_abnormal_share"]) / 3.0
        b.add("cluster_misconduct_share", bad, 2.5)
        b.add("cluster_young_share", ctx["cluster_young_share"], 1.0)
        b.add("recently_registered", (C.num("age_years") < 1.0).astype(np.float64), 0.6,
              C.num("age_years"))
        b.feature(C, "address_unreachable", 1.2, how="flag")
        b.feature(C, "annual_report_missing", 0.6, how="flag")
        return b.build()


register(RegistrationFraud)
