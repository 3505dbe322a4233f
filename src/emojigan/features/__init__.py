"""Feature spaces for evaluation: the shipped OpenMoji network (offline default) and the FID Inception network."""
from .spaces import FeatureSpace, load_feature_space

__all__ = ["FeatureSpace", "load_feature_space"]
