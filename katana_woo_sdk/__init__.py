"""katana_woo_sdk: connect WooCommerce stores to Katana MRP locations.

Layers (imports flow one way, top to bottom):

    errors, models          plain data and the error tree
    _http, ratelimit        one requests.Session per client, retries, throttle, paginators
    katana, woo             one client per external system
    config, state           the YAML file and the local SQLite state
    mapping                 store -> Katana location resolution
    engines/                order import, initial stock import, stock sync
    plan, runner, report    plan (reads) -> apply (writes) -> report
    cli                     the `katana-woo` command

`sandbox` holds the local emulators of both systems; it imports nothing above.
"""

# The one place the version is written: setup.cfg reads it (`attr:`), `katana-woo --version` shows it,
# and CHANGELOG.md has a section for each released value.
__version__ = "0.1.0"
