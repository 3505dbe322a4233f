"""Training presets as commented TOML files (`emojigan train --preset NAME`)."""
