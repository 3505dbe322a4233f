"""Data: the OpenMoji catalog, SVG rendering and dataset building, and loading image folders as tensors."""
from .catalog import Emoji, load_catalog, select, subset_counts, SUBSETS
from .dataset import ImageSet, cache_dir, load_dataset, load_images
from .render import build_dataset, render_emoji

__all__ = ["Emoji", "load_catalog", "select", "subset_counts", "SUBSETS", "ImageSet", "cache_dir", "load_dataset",
           "load_images", "build_dataset", "render_emoji"]
