"""`emojigan serve`: the studio (web/) on this machine, with the models loaded once."""
from __future__ import annotations

import socket
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

    check_address(a.host, a.port)  # before the models load: a taken port is one line, not uvicorn's exit 3
    specs = list(a.model) + list(a.runs)
    studio = Studio(specs, device=a.device, workers=a.workers)
    names = ", ".join(f"{m.name} ({m.kind})" for m in studio.models.values())
    print(f"emojigan studio: http://{a.host}:{a.port}/ serving {names}; Ctrl-C stops it", file=sys.stderr, flush=True)
    config = uvicorn.Config(create_app(studio), host=a.host, port=a.port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    try:
        server.run()
    except SystemExit:  # uvicorn's own exit when it could not start (the port taken since the check)
        raise UserError(f"cannot listen on {a.host}:{a.port} (is another server using it? try --port)") from None
    return 0


def check_address(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            raise UserError(f"cannot listen on {host}:{port}: {e.strerror or e} (another server? try --port)") from None
