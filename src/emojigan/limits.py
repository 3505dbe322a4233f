"""Names and bounds shared by the command line and the Python API, in a module that imports nothing (the CLI
builds its parser from them without importing torch)."""

SIZES = (32, 64, 128, 256)                          # image sides a dataset and a model can have
BACKGROUNDS = ("black", "white", "transparent")     # transparent keeps RGBA
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("fp32", "bf16", "auto")
MAX_REDRAW = 100  # --redraw R: later draws tried per seed for a sample with a stray fragment
MAX_SAMPLES = 10_000  # images one generate call draws
