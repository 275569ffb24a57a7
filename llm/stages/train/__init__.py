"""Stage ``train``: CoPG / IPO / DPO / PG on an offline dataset with a ``transformers.Trainer``.

``config`` (``CoPGConfig``), ``dataset`` (user datasets → offline rows, the collator), ``trainer`` (``CoPGTrainer``,
the library: no run directory), ``stage`` (``train``: the lab's stage on a run directory) and ``cli``
(``python -m llm train``).
"""

from llm.stages.train.cli import main, parse_config
from llm.stages.train.config import CoPGConfig
from llm.stages.train.dataset import OfflineCollator, OfflineDataset
from llm.stages.train.stage import train
from llm.stages.train.trainer import CoPGTrainer

__all__ = ["CoPGConfig", "CoPGTrainer", "OfflineCollator", "OfflineDataset", "main", "parse_config", "train"]
