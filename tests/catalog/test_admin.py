"""The catalogue's admin forms apply the models' field rules, the ones the API and the store sync apply."""

from decimal import Decimal

import pytest

from catalog.models import Order, Product

pytestmark = pytest.mark.django_db


def test_the_product_form_refuses_a_negative_price_or_stock(console, store):
    product = Product.objects.create(store=store, sku="A-1", name="Apple", price=Decimal("1.50"), inventory=4)
    form = {"store": store.pk, "sku": "A-1", "name": "Apple", "price": "-1", "inventory": "-5", "status": "active"}
    response = console.post(f"/admin/catalog/product/{product.pk}/change/", form)
    assert response.status_code == 200  # the form again, with its errors
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"price", "inventory"}, errors
    product.refresh_from_db()
    assert (product.price, product.inventory) == (Decimal("1.50"), 4)


def test_the_order_form_refuses_a_negative_total(console, store):
    order = Order.objects.create(store=store, reference="R-1", status="paid", total=Decimal("9.90"))
    form = {"store": store.pk, "reference": "R-1", "status": "paid", "total": "-9.90", "customer_info": "{}"}
    response = console.post(f"/admin/catalog/order/{order.pk}/change/", form)
    assert response.status_code == 200
    assert set(response.context["adminform"].form.errors) == {"total"}
    order.refresh_from_db()
    assert order.total == Decimal("9.90")
