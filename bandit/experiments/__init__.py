"""The bandit experiments: one module per figure (a typed config and a ``run_*`` function returning a JSON-ready
record), plus :mod:`bandit.experiments.common` (config base class, the registry :data:`EXPERIMENTS`,
:func:`make_record`, :func:`run_experiment`).

``python -m bandit <name>`` (see ``bandit/__main__.py``) runs one, writes ``<out>/<file>.json`` and
``<out>/<file>.png`` through :mod:`bandit.records`, so ``python -m bandit plot <file>.json`` redraws it without
retraining. File names use underscores, CLI names dashes:

==================  ===================  ==============================================================
CLI name            module / files       question
==================  ===================  ==============================================================
``paper-fig1``      ``paper_fig1``       the paper's Sec. 5 bandit: regret vs epoch per method (Fig. 1)
``offpolicy-sweep`` ``offpolicy_sweep``  final regret vs how off-policy the data are (μ_α family)
``beta-sweep``      ``beta_sweep``       final regret and KL(π‖π_ref) vs β
``data-size``       ``data_size``        CoPG's finite-sample error vs number of pairs (log–log)
``support``         ``support``          μ1, μ2 missing an arm: what each method learns
``simplex``         ``simplex``          3-arm trajectories on the probability simplex
``loss-family``     ``loss_family``      CoPG under other names: each variant's exact fixed-point regret vs α
==================  ===================  ==============================================================
"""

from __future__ import annotations

from bandit.experiments.common import (
    DEFER_VALIDATION,
    EXPERIMENTS,
    ExperimentConfig,
    file_stem,
    make_record,
    register,
    run_experiment,
)

# Importing each experiment module registers it (registry order = CLI order = `python -m bandit all` order).
from bandit.experiments.paper_fig1 import PaperFig1Config, run_paper_fig1  # isort: skip
from bandit.experiments.offpolicy_sweep import OffPolicySweepConfig, run_offpolicy_sweep  # isort: skip
from bandit.experiments.beta_sweep import BetaSweepConfig, run_beta_sweep  # isort: skip
from bandit.experiments.data_size import DataSizeConfig, empirical_copg_optimum, run_data_size  # isort: skip
from bandit.experiments.support import SupportConfig, run_support  # isort: skip
from bandit.experiments.simplex import SimplexConfig, run_simplex, simplex_trajectory  # isort: skip
from bandit.experiments.loss_family import LossFamilyConfig, family_rows, run_loss_family  # isort: skip

__all__ = [
    "DEFER_VALIDATION",
    "EXPERIMENTS",
    "BetaSweepConfig",
    "DataSizeConfig",
    "ExperimentConfig",
    "LossFamilyConfig",
    "OffPolicySweepConfig",
    "PaperFig1Config",
    "SimplexConfig",
    "SupportConfig",
    "empirical_copg_optimum",
    "family_rows",
    "file_stem",
    "make_record",
    "register",
    "run_beta_sweep",
    "run_data_size",
    "run_experiment",
    "run_loss_family",
    "run_offpolicy_sweep",
    "run_paper_fig1",
    "run_simplex",
    "run_support",
    "simplex_trajectory",
]
