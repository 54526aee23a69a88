"""A PrestaShop-compatible shop over real HTTP, for the demo, tests and benchmarks.

It speaks the PrestaShop webservice as PrestaShop documents it
(XML by default, JSON on request, the error envelopes, the 401/404 quirks,
PUT wiping omitted fields, images with ``Content-Sha1``) and adds a JSON
control API under ``/_sim/`` (no auth) to count requests and inject trouble:

* ``GET /_sim/stats`` (requests by kind: ``product_get``, ``product_put``, ``product_patch``,
  ``product_write`` for either, ``products_list``...), ``POST /_sim/reset_stats``
* ``GET|POST /_sim/config`` ``{"latency_ms", "failure_rate", "api_key", "version" (the
  ``PSWS-Version`` it sends: 8.0 or later takes PATCH, an older one answers 405),
  "fail_next": {"count", "status", "body": "error|html|empty", "retry_after", "method",
  "code": the PrestaShop error code of the envelope}}``
* ``POST /_sim/mutate`` ``{"products": [ids] | "count": n, "fields": {...}}``
* ``POST /_sim/products/<id>/image`` ``{"mode": "normal|corrupt|html|huge|huge_chunked|missing|change|add",
  "image_id": optional, the cover by default}``
* ``POST /_sim/products/<id>/delete_image`` ``{"image_id": optional}``
* ``GET /_sim/<products|customers|orders|stock_availables>/<id>``: a record's raw state

Run it with ``python -m shopsim --port 8090 --products 500``. It imports nothing from Django or
the hub, so tests, benchmarks, the demo and the ops scripts all use the same shop.
"""

from __future__ import annotations

import argparse
import threading
from dataclasses import dataclass
from typing import Any

from shopsim.server import SimulatorServer
from shopsim.state import DEFAULT_VERSION, DEMO_API_KEY, ShopSimulator

__all__ = ["DEMO_API_KEY", "ShopSimulator", "SimulatorHandle", "SimulatorServer", "main", "run_in_thread"]


@dataclass
class SimulatorHandle:
    """A simulator serving in a background thread."""

    server: SimulatorServer
    thread: threading.Thread
    url: str  # the shop's base URL; the webservice is under ``/api/``

    @property
    def shop(self) -> ShopSimulator:
        return self.server.shop

    @property
    def api_key(self) -> str:
        return self.shop.api_key

    def shutdown(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def run_in_thread(host: str = "127.0.0.1", port: int = 0, **options: Any) -> SimulatorHandle:
    """Start a simulator (``options`` go to :class:`ShopSimulator`); port 0 picks a free port."""
    server = SimulatorServer((host, port), ShopSimulator(**options))
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="shop-simulator", daemon=True
    )
    thread.start()
    return SimulatorHandle(server, thread, f"http://{host}:{server.server_port}")


def _mutate_periodically(shop: ShopSimulator, every: float, stop: threading.Event) -> None:
    while not stop.wait(every):
        shop.mutate(None, count=max(1, len(shop.records["products"]) // 100), fields={})


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m shopsim", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--products", type=int, default=500)
    parser.add_argument("--customers", type=int, default=50)
    parser.add_argument("--orders", type=int, default=50)
    parser.add_argument("--languages", type=int, default=2, help="number of shop languages (ids 1..n)")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--failure-rate", type=float, default=0.0, help="share of requests answered 503")
    parser.add_argument("--no-image-ratio", type=float, default=0.1, help="share of products without images")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--api-key", default=DEMO_API_KEY, help="32 characters, as PrestaShop requires")
    parser.add_argument(
        "--ps-version", default=DEFAULT_VERSION, help="the PrestaShop version it answers as (PATCH from 8.0 on)"
    )
    parser.add_argument(
        "--mutate-every",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="change 1%% of the products (new price, new date_upd) this often",
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if len(args.api_key) != 32:
        raise SystemExit("--api-key must be 32 characters long")
    shop = ShopSimulator(
        products=args.products,
        customers=args.customers,
        orders=args.orders,
        seed=args.seed,
        no_image_ratio=args.no_image_ratio,
        languages=args.languages,
        api_key=args.api_key,
        latency_ms=args.latency_ms,
        failure_rate=args.failure_rate,
        version=args.ps_version,
    )
    server = SimulatorServer((args.host, args.port), shop)
    stop = threading.Event()
    if args.mutate_every > 0:
        threading.Thread(target=_mutate_periodically, args=(shop, args.mutate_every, stop), daemon=True).start()
    print(
        f"PrestaShop simulator on http://{args.host}:{server.server_port}/api/ "
        f"(key {args.api_key}, {args.products} products); Ctrl-C to stop",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.server_close()
