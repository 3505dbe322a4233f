"""Bounds shared by the command line and the Python API, in a module that imports nothing (the CLI reads them
at start-up without importing torch)."""

MAX_REDRAW = 100  # --redraw R: later draws tried per seed for a sample with a stray fragment
