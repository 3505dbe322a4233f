"""The studio's HTTP layer (FastAPI): one static page and a small JSON/PNG API over `Studio`.

Every endpoint is a plain `def`: FastAPI runs it in its thread pool, off the event loop, so a slow encode never
stalls the others. A request's bad value is a `UserError` (studio.py) and comes back as a 4xx with
`{"error": "..."}`; the server keeps serving."""
from __future__ import annotations

import base64
from importlib import resources

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import images
from ..errors import UserError
from .studio import MAX_UPLOAD, Studio, gif_bytes, png_bytes

STATIC = ("index.html", "studio.js", "studio.css")
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
# the page may load only what this server serves: no fonts, scripts or analytics from anywhere else
CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self'; "
       "frame-ancestors 'none'")


def _static(name: str) -> bytes:
    return (resources.files("emojigan.web") / "static" / name).read_bytes()


def _png(im, filename: str | None = None) -> Response:
    headers = {"Cache-Control": "no-store"}
    if filename:
        headers["Content-Disposition"] = f'inline; filename="{filename}"'
    return Response(png_bytes(im), media_type="image/png", headers=headers)


def _data_uri(im) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(im)).decode()


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")[:40] or "emoji"


def create_app(studio: Studio) -> FastAPI:
    app = FastAPI(title="emojigan studio", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(UserError)
    async def user_error(request: Request, exc: UserError):
        return JSONResponse({"error": str(exc)}, status_code=getattr(exc, "status", 400))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()) if x not in ("query", "body"))
        return JSONResponse({"error": f"{where or 'request'}: {first.get('msg', 'invalid')}"}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception):  # a bug, not the request: said in JSON all the same
        return JSONResponse({"error": f"the studio failed on this request ({type(exc).__name__}); see its log"},
                            status_code=500)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @app.get("/", response_class=HTMLResponse)
    def page():
        return HTMLResponse(_static("index.html"))

    @app.get("/static/{name}")
    def static(name: str):
        if name not in STATIC:
            return JSONResponse({"error": f"no file '{name[:40]}'"}, status_code=404)
        return Response(_static(name), media_type=TYPES["." + name.rsplit(".", 1)[1]])

    @app.get("/api/models")
    def models():
        return {"models": studio.models_info()}

    @app.get("/api/generate")
    def generate(model: str | None = None, seed: str | None = None, n: str | None = None, label: str | None = None,
                 prompt: str | None = None):
        return _png(studio.grid(model, seed, n, label, prompt), "emojis.png")

    @app.get("/api/emoji")
    def emoji(model: str | None = None, seed: str | None = None, size: str | None = None, label: str | None = None,
              prompt: str | None = None):
        im = studio.emoji(model, seed, size, label, prompt)
        what = label or prompt or f"seed{seed or 0}"
        return _png(im, f"{_slug(what)}-{im.size[0]}.png")

    @app.get("/api/interpolate")
    def interpolate(model: str | None = None, start: str = "", end: str = "", steps: str | None = None,
                    seed: str | None = None, format: str = "png"):
        if format not in ("png", "gif"):
            raise UserError(f"format '{format[:20]}' is unknown; choose png or gif")
        frames = studio.interpolate(model, start, end, steps, seed)
        if format == "gif":
            return Response(gif_bytes(frames), media_type="image/gif",
                            headers={"Content-Disposition": 'inline; filename="interpolation.gif"'})
        return _png(images.grid(frames, nrow=len(frames), padding=0), "interpolation.png")

    @app.post("/api/encode")
    def encode(image: UploadFile = File(...), model: str | None = Form(None)):
        data = image.file.read(MAX_UPLOAD + 1)
        out = studio.encode(model, data)
        return {"input": _data_uri(out["input"]), "reconstruction": _data_uri(out["reconstruction"]),
                "ssim": round(out["ssim"], 4), "strengths": out["strengths"],
                "nearest": {"name": out["nearest"]["name"], "ssim": round(out["nearest"]["ssim"], 4),
                            "image": _data_uri(out["nearest"]["image"])},
                "edits": [{"word": e["word"], "count": e["count"], "image": _data_uri(e["image"])}
                          for e in out["edits"]]}

    return app
