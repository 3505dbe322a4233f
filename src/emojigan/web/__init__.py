"""The browser studio (`emojigan serve`): studio.py does the work over the same API as the CLI, app.py is its HTTP
layer (FastAPI, the optional extra `emojigan[web]`), static/ the one page it serves."""
