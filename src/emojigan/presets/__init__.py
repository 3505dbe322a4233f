"""Presets: TOML files of settings, each field commented. dcgan64 and cdcgan128 are the seed report's models
with its hyperparameters; faces64 and cond128 are the recipes' first stages (recipes/ rebuilds the shipped
models)."""
from importlib import resources


def preset_names() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files(__name__).iterdir() if p.name.endswith(".toml"))


def preset_text(name: str) -> str:
    return (resources.files(__name__) / f"{name}.toml").read_text(encoding="utf-8")
