"""Debian's nginx serving dist/ for the end-to-end tests, as a process the test owns.

One foreground nginx (``daemon off; master_process off;``) with its config, pid file,
logs and temp folders in a temporary directory, on a free 127.0.0.1 port. It serves the
site both at the root and under a subpath (an ``alias``) with the site's own nginx snippet,
``_nginx.conf``, which build.py writes into the site and the README shows: the MIME types,
the precompressed siblings (gzip_static, and brotli_static where Debian's
libnginx-mod-http-brotli-static is installed), immutable caching of hashed names and the
CSP header. It takes extra ``location`` blocks for fault tests (for instance wasm served as
text/plain).

    with Nginx(dist, tmp_path) as srv:
        page.goto(srv.url)               # http://127.0.0.1:PORT/
        page.goto(srv.url_for("/articles/vit/"))
"""
from __future__ import annotations

import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

NGINX = "/usr/sbin/nginx"
MIME_TYPES = "/etc/nginx/mime.types"
SUBPATH = "/articles/vit/"
BROTLI_STATIC = Path("/usr/lib/nginx/modules/ngx_http_brotli_static_module.so")
SNIPPET = "_nginx.conf"  # written by build.py into the site


def has_brotli() -> bool:
    return BROTLI_STATIC.is_file()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def available() -> bool:
    return Path(NGINX).is_file() and Path(MIME_TYPES).is_file()


def _quote(value: str) -> str:
    if any(c in value for c in '"\\\n'):
        raise ValueError(f"cannot put {value!r} in an nginx string")
    return f'"{value}"'


class Nginx:
    """nginx over ``site``: at ``/`` and at ``SUBPATH``.

    csp_header: the Content-Security-Policy header expected (the snippet sends the site's own;
    a different one is refused, so a test never believes it checked a header it did not).
    mime_overrides: {extension: type} served with that Content-Type instead (under both
    paths), e.g. {"wasm": "text/plain"} for the wrong-MIME fault test.
    extra: raw nginx directives (usually ``location`` blocks) added to the server block
    before the two site locations, so an exact or regex location there wins; such a
    location needs its own ``root``/``alias`` (``self.site``).
    """

    def __init__(self, site: Path, workdir: Path | None = None, *, csp_header: str | None = None,
                 mime_overrides: dict[str, str] | None = None, extra: str = "", subpath: str = SUBPATH):
        self.site = Path(site).resolve()
        self._own_tmp = workdir is None
        self.dir = Path(workdir or tempfile.mkdtemp(prefix="pe-nginx-")).resolve()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.subpath = subpath
        self.url = f"http://127.0.0.1:{self.port}/"
        self.sub_url = f"http://127.0.0.1:{self.port}{subpath}"
        self.csp_header = csp_header
        self.extra = extra
        self.mime_overrides = dict(mime_overrides or {})
        self.proc: subprocess.Popen | None = None

    # ------------------------------------------------------------------ config
    def config(self) -> str:
        d = self.dir
        overrides = []
        for ext, mime in self.mime_overrides.items():
            if not re.fullmatch(r"[A-Za-z0-9]+", ext) or not re.fullmatch(r"[\w.+-]+/[\w.+-]+", mime):
                raise ValueError(f"bad MIME override {ext}: {mime}")
            sub = re.escape(self.subpath)
            overrides.append(f"location ~ ^{sub}(.+\\.{ext})$ {{ alias {self.site}/$1; types {{ }} default_type {mime}; }}")
            overrides.append(f"location ~ \\.{ext}$ {{ root {self.site}; types {{ }} default_type {mime}; }}")
        extra = "\n        ".join([*overrides, self.extra])
        snippet = self.snippet()
        (d / "mime.types").write_text(Path(MIME_TYPES).read_text())  # the snippet includes it relatively
        (d / "pe-site.conf").write_text(snippet)
        load = f"load_module {BROTLI_STATIC};" if has_brotli() else ""
        return f"""
{load}
daemon off;
master_process off;
worker_processes 1;
pid {d / 'nginx.pid'};
error_log {d / 'error.log'} warn;
events {{ worker_connections 256; }}
http {{
    include {MIME_TYPES};
    # Debian's table has no .mjs and calls .js application/javascript; the module
    # scripts accept both, but say it the modern way. .wasm must be application/wasm
    # for WebAssembly.instantiateStreaming (and the worker's HEAD check).
    types {{ text/javascript js mjs; application/wasm wasm; }}
    default_type application/octet-stream;
    access_log {d / 'access.log'};
    client_body_temp_path {d / 'client_body'};
    proxy_temp_path {d / 'proxy'};
    fastcgi_temp_path {d / 'fastcgi'};
    uwsgi_temp_path {d / 'uwsgi'};
    scgi_temp_path {d / 'scgi'};
    sendfile on;
    keepalive_timeout 5;
    server {{
        listen 127.0.0.1:{self.port};
        server_name localhost;
        include {d / 'pe-site.conf'};
        {extra}
        location = {self.subpath.rstrip('/')} {{ return 301 {self.subpath}; }}
        location {self.subpath} {{
            alias {self.site}/;
            index index.html;
        }}
        location / {{
            root {self.site};
            index index.html;
        }}
    }}
}}
"""

    def snippet(self) -> str:
        """The site's _nginx.conf, without brotli_static where the module is not installed."""
        path = self.site / SNIPPET
        if not path.is_file():
            raise RuntimeError(f"{path} is missing: build the site first")
        text = path.read_text()
        if self.csp_header is not None and f'Content-Security-Policy {_quote(self.csp_header)}' not in text:
            raise ValueError("the site's nginx snippet sends another Content-Security-Policy")
        if not has_brotli():
            text = "\n".join(line for line in text.splitlines() if not line.strip().startswith("brotli_static"))
        return text

    # ------------------------------------------------------------------ process
    def start(self) -> "Nginx":
        conf = self.dir / "nginx.conf"
        conf.write_text(self.config())
        # -e: the error log before the config is read (else /var/log/nginx/error.log).
        args = [NGINX, "-p", str(self.dir), "-c", str(conf), "-e", str(self.dir / "error.log")]
        check = subprocess.run([*args, "-t", "-q"], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"nginx rejected its config:\n{check.stderr}\n{conf.read_text()}")
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited with {self.proc.returncode}: {self.proc.stderr.read()}"
                                   f"\n{self.error_log()}")
            try:
                with urllib.request.urlopen(self.url, timeout=1) as r:
                    if r.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nginx did not answer on {self.url}\n{self.error_log()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: fast shutdown
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc and self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None
        if self._own_tmp:
            shutil.rmtree(self.dir, ignore_errors=True)

    def error_log(self) -> str:
        path = self.dir / "error.log"
        return path.read_text(errors="replace") if path.is_file() else ""

    def __enter__(self) -> "Nginx":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
