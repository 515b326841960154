"""The runner's state: SQLite beside the config (the default), or PostgreSQL shared by many machines.

Callers: `runner` (lock, mapping history, cursors, conditions, run log), `locks` (the per-store locks
in the state's database), the engines (order ledger, last-pushed stock, initial-import records),
`cli_state` (``katana-woo state migrate``) and people in notebooks inspecting what happened::

    with State.from_config(config.state) as state, state.lock(owner="katana-woo apply"):
        run_id = state.start_run("apply", config_hash)
        ...

What lives here is *memory*, never *truth*. Everything that must not happen twice (a sales order per
Woo order, an initial stock adjustment per store and location) is keyed in Katana by a natural key
and looked up there before it is created; the ledger and import records only let the engines skip
that lookup. Deleting the state therefore costs speed (lookups, a full stock push, lost history),
never correctness. What the state adds is *exclusion*: its locks keep two runners off one store.

Nothing secret is stored: no method takes a credential, holder info beside the locks names a pid, a
host and a command without its arguments, and dataclasses logged as before/after are serialised
from their repr-visible fields only, the fields the project already guarantees are safe to show.
A PostgreSQL password is passed apart from the URL and never shown.

This package is the public face: `State` (`_core`), its records (`records`), `Lease` (`lease`),
the migrations (`migrations`: one versioned, forward-only list that both backends run on first use)
and `copy_state` (`transfer`). Behind `State`, one backend per store: `sqlite` (stdlib sqlite3, WAL,
OS file locks on one machine) and `postgres` (psycopg 3, advisory locks across machines). Names are
re-exported here, so `katana_woo_sdk.state` stays the one import path.
"""
from __future__ import annotations

from ..errors import StateError, StateLockedError
from ._core import State
from ._inbox import INBOX_STATUSES, InboxAdded, InboxEntry
from ._lifecycle import LIFECYCLE_STATES, LifecycleRecord
from .lease import Lease
from .migrations import MIGRATIONS, SCHEMA_VERSION
from .records import (ACTION_OUTCOMES, CONDITION_STATUSES, LEDGER_STATUSES, ActionRecord, Condition,
                      InitialImportRecord, LedgerEntry, LockHolder, MappingRecord, PushedRecord, RunRecord)
from .transfer import CopyReport, copy_state

__all__ = [
    "State", "MappingRecord", "LedgerEntry", "PushedRecord", "InitialImportRecord", "Condition",
    "RunRecord", "ActionRecord", "LockHolder", "Lease", "MIGRATIONS", "SCHEMA_VERSION",
    "LEDGER_STATUSES", "CONDITION_STATUSES", "ACTION_OUTCOMES", "copy_state", "CopyReport",
    "InboxEntry", "InboxAdded", "INBOX_STATUSES", "LifecycleRecord", "LIFECYCLE_STATES",
]

# State.lock() raises it, and it was importable from here before the state became a package.
_REEXPORTED = (StateError, StateLockedError)
