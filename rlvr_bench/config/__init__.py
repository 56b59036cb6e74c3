"""Recipe configuration: dataclass sections, YAML loading, overrides and strict validation.

Depends only on the layers below it (docs/architecture.md): the method registry, errors and, lazily at validation time, the algorithm registries.
"""

from rlvr_bench.config.loader import (
    ConfigError,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    field_help,
    load_config,
    save_config,
)
from rlvr_bench.config.schema import (
    METHODS,
    AlgorithmConfig,
    DataConfig,
    DistillConfig,
    EvaluationConfig,
    LoggingConfig,
    LoraConfig,
    ModelConfig,
    RecipeConfig,
    RewardConfig,
    RLConfig,
    RolloutConfig,
    SFTConfig,
    TrainerConfig,
)

__all__ = [
    "METHODS",
    "AlgorithmConfig",
    "ConfigError",
    "DataConfig",
    "DistillConfig",
    "EvaluationConfig",
    "LoggingConfig",
    "LoraConfig",
    "ModelConfig",
    "RLConfig",
    "RecipeConfig",
    "RewardConfig",
    "RolloutConfig",
    "SFTConfig",
    "TrainerConfig",
    "apply_overrides",
    "config_from_dict",
    "config_to_dict",
    "field_help",
    "load_config",
    "save_config",
]
