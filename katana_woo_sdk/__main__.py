"""``python -m katana_woo_sdk``: the same as the ``katana-woo`` command (see `cli`)."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
