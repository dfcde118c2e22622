"""Double-random sampling: draws with known inclusion probabilities, verifiable seeds,
inspector assignment, and Horvitz–Thompson estimation. Pure numpy/scipy.
"""

from sampling.assign import REASONS, Assignment, assign_inspectors
from sampling.draw import (
    DrawResult,
    exponential_keys,
    pps_inclusion_probabilities,
    pps_sample,
    stratified_sample,
    weighted_sample,
)
from sampling.estimators import (
    Estimate,
    horvitz_thompson,
    two_proportion_test,
    wilson_interval,
    wilson_intervals,
)
from sampling.seed import commit, new_seed, pool_digest, rng_from_seed, verify

__all__ = [
    "REASONS",
    "Assignment",
    "DrawResult",
    "Estimate",
    "assign_inspectors",
    "commit",
    "exponential_keys",
    "horvitz_thompson",
    "new_seed",
    "pool_digest",
    "pps_inclusion_probabilities",
    "pps_sample",
    "rng_from_seed",
    "stratified_sample",
    "two_proportion_test",
    "verify",
    "weighted_sample",
    "wilson_interval",
    "wilson_intervals",
]
