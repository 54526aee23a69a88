"""``manage.py demo_setup``: the whole demo against the bundled shop simulator."""

from django.core.management import call_command

from catalog.models import Product, Store


def test_demo_setup_creates_the_admin_and_the_imported_demo_store(db, shop_simulator, client, capsys):
    call_command("demo_setup", "--shop-url", shop_simulator.url, "--api-key", shop_simulator.api_key)
    out = capsys.readouterr().out
    password = out.split("password: ")[1].split()[0]
    store = Store.objects.get(code="demo")
    assert Product.objects.filter(store=store).count() == 25
    assert client.login(username="admin", password=password)
    assert shop_simulator.api_key not in out
