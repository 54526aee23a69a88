"""What the simulated shop sells: deterministic demo records (from a seeded
random generator) and product images drawn with Pillow."""

from __future__ import annotations

import hashlib
import io
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from PIL import Image, ImageDraw

DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
EPOCH = datetime(2024, 1, 1, 8, 0, 0)
FIRST_NAMES = ("Ada", "Bruno", "Chiara", "Dewi", "Elodie", "Farid", "Giulia", "Hugo", "Intan", "Jules")
LAST_NAMES = ("Rossi", "Martin", "Santoso", "Bernard", "Bianchi", "Wijaya", "Dubois", "Ferrari")
IMAGE_SIZE = (200, 200)


def now_text() -> str:
    """The current time as the shop writes it: naive UTC ``YYYY-MM-DD HH:MM:SS``."""
    return datetime.now(UTC).strftime(DATETIME_FORMAT)


def hash_password(password: str) -> str:
    return "$sim$" + hashlib.sha256(password.encode()).hexdigest()


def dates(n: int, rng: random.Random) -> dict[str, str]:
    """Creation and modification dates in the past, distinct per record."""
    added = EPOCH + timedelta(minutes=5 * n)
    updated = added + timedelta(seconds=rng.randint(0, 30 * 86400))
    return {"date_add": added.strftime(DATETIME_FORMAT), "date_upd": updated.strftime(DATETIME_FORMAT)}


def product_values(pid: int, rng: random.Random) -> dict[str, Any]:
    return dates(pid, rng) | {
        "id_manufacturer": "1",
        "id_category_default": "2",
        "id_tax_rules_group": "1",
        "reference": f"REF{pid:05d}",
        "price": f"{rng.uniform(1, 500):.6f}",
        "state": "1",
        "wholesale_price": "0.000000",
        "weight": "0.000000",
        "active": "1" if rng.random() > 0.05 else "0",
        "name": {1: f"Product {pid}", 2: f"Produit {pid}"},
        "link_rewrite": {1: f"product-{pid}", 2: f"produit-{pid}"},
        "description": {1: f"<p>Description of product {pid}.</p>", 2: f"<p>Description du produit {pid}.</p>"},
    }


def stock_values(pid: int, quantity: int) -> dict[str, str]:
    """A product's own stock row (``id_product_attribute`` 0)."""
    return {
        "id_product": str(pid),
        "id_product_attribute": "0",
        "id_shop": "1",
        "id_shop_group": "0",
        "quantity": str(quantity),
        "depends_on_stock": "0",
        "out_of_stock": "2",
    }


def customer_values(cid: int, rng: random.Random) -> dict[str, Any]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    return dates(cid, rng) | {
        "id_default_group": "3",
        "id_lang": "1",
        "secure_key": f"{rng.getrandbits(128):032x}",
        "deleted": "0",
        "passwd": hash_password(f"secret{cid}"),
        "lastname": last,
        "firstname": first,
        "email": f"{first}.{last}{cid}@example.com".lower(),
        "id_gender": str(rng.randint(1, 2)),
        "active": "1",
        "is_guest": "0",
        "id_shop": "1",
    }


def order_values(oid: int, rng: random.Random, customers: int, products: int) -> tuple[dict[str, Any], list[dict]]:
    """An order and its rows (``associations.order_rows``)."""
    rows = []
    for row_id in range(1, rng.randint(1, 3) + 1):
        pid = rng.randint(1, max(products, 1))
        rows.append(
            {
                "id": str(oid * 10 + row_id),
                "product_id": str(pid),
                "product_attribute_id": "0",
                "product_quantity": str(rng.randint(1, 4)),
                "product_name": f"Product {pid}",
                "product_reference": f"REF{pid:05d}",
                "product_price": f"{rng.uniform(1, 500):.6f}",
            }
        )
    total = f"{sum(Decimal(r['product_price']) * int(r['product_quantity']) for r in rows):.6f}"
    order = dates(oid, rng) | {
        "id_customer": str(rng.randint(1, customers)) if customers else "0",
        "id_currency": "1",
        "id_lang": "1",
        "current_state": str(rng.randint(1, 12)),
        "module": "ps_checkpayment",
        "valid": "1",
        "payment": "Payment by check",
        "reference": "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZ", k=9)),
        "total_paid": total,
        "total_paid_tax_incl": total,
        "total_paid_real": total,
        "total_products_wt": total,
        "conversion_rate": "1.000000",
    }
    return order, rows


def render_image(product_id: int, image_id: int, version: int) -> tuple[bytes, str]:
    """A gradient with the ids drawn on it: JPEG for even image ids, PNG for odd ones.

    The same arguments always give the same bytes; a new ``version`` gives new ones.
    """
    rng = random.Random(f"{product_id}:{image_id}:{version}")
    gradient = Image.linear_gradient("L").resize(IMAGE_SIZE)
    red, green = (gradient.point([(v + shift) % 256 for v in range(256)]) for shift in rng.sample(range(256), 2))
    image = Image.merge("RGB", (red, green.rotate(90), Image.new("L", IMAGE_SIZE, rng.randrange(256))))
    ImageDraw.Draw(image).text((12, 12), f"product {product_id}\nimage {image_id} v{version}", fill=(255, 255, 255))
    image_format = "PNG" if image_id % 2 else "JPEG"
    buffer = io.BytesIO()
    image.save(buffer, image_format)
    return buffer.getvalue(), f"image/{image_format.lower()}"
