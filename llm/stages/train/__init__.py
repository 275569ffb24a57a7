"""Stage ``train``: CoPG / IPO / DPO / PG on the offline dataset with a ``transformers.Trainer``.

``config`` (``CoPGConfig``), ``dataset`` (the offline rows and their collator), ``trainer`` (``CoPGTrainer``,
``train``) and ``cli`` (``python -m llm train``).
"""

from llm.stages.train.cli import main, parse_config
from llm.stages.train.config import CoPGConfig
from llm.stages.train.dataset import OfflineCollator, OfflineDataset
from llm.stages.train.trainer import CoPGTrainer, train

__all__ = ["CoPGConfig", "CoPGTrainer", "OfflineCollator", "OfflineDataset", "main", "parse_config", "train"]
