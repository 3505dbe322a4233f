"""`emojigan serve`: the studio (web/) on this machine, with the models loaded once."""
from __future__ import annotations

import sys

from ..errors import UserError

INSTALL = 'pip install "emojigan[web]"'


def cmd_serve(a) -> int:
    try:
        import uvicorn

        from ..web.app import create_app
    except ImportError:
        raise UserError(f"the studio needs FastAPI and uvicorn, which are not installed: {INSTALL}") from None
    from ..web.studio import Studio

    specs = list(a.model) + list(a.runs)
    studio = Studio(specs, device=a.device, workers=a.workers)
    names = ", ".join(f"{m.name} ({m.kind})" for m in studio.models.values())
    print(f"emojigan studio: http://{a.host}:{a.port}/ serving {names}; Ctrl-C stops it", file=sys.stderr, flush=True)
    config = uvicorn.Config(create_app(studio), host=a.host, port=a.port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    try:
        server.run()
    except OSError as e:  # the port is taken, or the address is not this machine's
        raise UserError(f"cannot listen on {a.host}:{a.port}: {e.strerror or e}") from None
    if not server.started:
        raise UserError(f"cannot listen on {a.host}:{a.port} (is another server using it? try --port)")
    return 0
