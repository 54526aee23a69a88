"""``python -m shopsim --port 8090 --products 500``: run the shop simulator in the foreground."""

from shopsim import main

main()
