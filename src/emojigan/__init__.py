"""emojigan: learn the distribution of OpenMoji emoji artwork and generate new emojis.

    import emojigan
    g = emojigan.load_generator("runs/dcgan64")      # a run folder or an exported .safetensors
    images = g.sample(16, seed=0)                     # PIL images; image k depends on seed k only
"""
__version__ = "0.1.0"

from .config import Config, load_preset, resolve  # noqa: E402
from .data import build_dataset, load_images, select  # noqa: E402
from .errors import UserError  # noqa: E402
from .inference import EmojiGenerator, load_generator  # noqa: E402
from .latent.directions import direction, edit, label_direction, vocabulary  # noqa: E402
from .latent.encoder import load_encoder, train_encoder  # noqa: E402
from .latent.inputs import load_inputs  # noqa: E402
from .latent.invert import Codes, decode, encode  # noqa: E402
from .training.loop import train  # noqa: E402

__all__ = ["__version__", "Config", "load_preset", "resolve", "build_dataset", "load_images", "select",
           "UserError", "EmojiGenerator", "load_generator", "train", "load_inputs", "encode", "decode", "Codes", "vocabulary", "direction",
           "label_direction", "edit", "load_encoder", "train_encoder"]
