"""A saved plan is a contract (terraform semantics): what `apply CONFIG plan.json` may do.

Called by `Runner.apply` with a saved plan: `check_saved_plan` before anything is read (a refusal
is a `SavedPlanError`, exit 1) and `decide` per store and action kind once the fresh plan exists.

Refused outright, with the reason named:
* the plan was made from another config file, or the config changed since (its content hash):
  "config changed since the plan; plan again";
* the plan was applied already (its id is recorded in the state when an apply of it starts);
* the plan is older than `plans.max_age_minutes` (default a day).

Within a valid plan, every action is re-checked against fresh data:
* unchanged -> applied as saved;
* changed -> applied as re-planned only where the change cannot widen what was approved: the same
  kind of action at the same Katana location (an order's lines or a stock figure may have moved;
  a store remapped or a location re-resolved may not) -> `replanned`; otherwise dropped with the
  reason;
* gone -> dropped ("no longer needed"); new actions the plan did not contain -> skipped for the next
  plan. An order left out this way still counts as taken in the stock figures (`pending`).

`replan=True` (`--replan`) is the old behaviour for those who want it: no refusal, every changed
action applied as re-planned; the report says the plan was not enforced.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterator, Sequence

from .errors import SavedPlanError
from .plan import APPLIED, DROPPED, REPLANNED, SKIPPED, Action, Plan, StorePlan


@dataclass(frozen=True)
class Decision:
    action: Action        # the fresh action (what runs), or the saved one when dropped
    outcome: str          # applied | replanned | dropped | skipped
    note: str = ""


def check_saved_plan(plan: Plan, *, config_hash: str, config_path: str | None, applied: bool,
                     now: datetime, max_age: timedelta | None) -> None:
    """Raise `SavedPlanError` naming why `plan` may not be applied; return when it may."""
    if plan.config_path and config_path and plan.config_path != config_path:
        raise SavedPlanError("other_config", f"the plan was made from {plan.config_path}, not {config_path}; "
                                             f"apply it with the config it was made from, or plan again")
    if plan.config_hash != config_hash:
        raise SavedPlanError("config_changed", "config changed since the plan; plan again")
    if applied:
        raise SavedPlanError("already_applied", f"plan {plan.plan_id} was applied already; plan again")
    if max_age is not None and now - plan.created_at > max_age:
        age = now - plan.created_at
        raise SavedPlanError("too_old", f"the plan is {_duration(age)} old, older than the {_duration(max_age)} "
                                        f"allowed (plans.max_age_minutes); plan again")


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} days"


def widens(saved: Action, fresh: Action) -> str | None:
    """Why applying `fresh` in place of `saved` would do something the reviewer did not approve,
    or None when the change stays within it."""
    if saved.kind != fresh.kind:
        return f"it is now a {fresh.kind} action, not the {saved.kind} the plan approved"
    before = getattr(saved.payload, "location_id", None)
    after = getattr(fresh.payload, "location_id", None)
    if before is not None and after is not None and before != after:
        return f"it would now act at Katana location #{after}, not #{before} as the plan named"
    saved_mode, fresh_mode = getattr(saved.payload, "mode", None), getattr(fresh.payload, "mode", None)
    if saved.kind == "stock.initial_import" and saved_mode != fresh_mode:
        return (f"the import would now {fresh_mode} in stock, where the plan approved to "
                f"{saved_mode} it")
    return None


def decide(saved: StorePlan | None, fresh: Sequence[Action], kinds: set[str], *, replan: bool = False,
           predicted: Sequence[Action] = ()) -> Iterator[Decision]:
    """What runs of `fresh` (the actions of `kinds` planned now) given the saved store plan.

    Without a saved plan every fresh action runs (reported `replanned` where it differs from what
    this run predicted at plan time, `predicted`)."""
    if saved is None:
        predicted_by_key = {a.key: a for a in predicted}
        for a in fresh:
            was = predicted_by_key.get(a.key)
            if was is not None and was.fingerprint != a.fingerprint:
                yield Decision(a, REPLANNED, "figures changed since planning; applied as re-computed")
            else:
                yield Decision(a, APPLIED)
        return
    fresh_by_key = {a.key: a for a in fresh}
    saved_keys = set()
    for old in (a for a in saved.actions if a.kind in kinds):
        saved_keys.add(old.key)
        new = fresh_by_key.get(old.key)
        if new is None:
            yield Decision(old, DROPPED, "no longer needed (already done, or the data changed): not applied")
        elif new.fingerprint == old.fingerprint:
            yield Decision(new, APPLIED)
        elif replan:
            yield Decision(new, REPLANNED, "the data changed since the plan was made: applied as re-planned "
                                           "(--replan: the saved plan is not enforced)")
        else:
            why = widens(old, new)
            if why is not None:
                yield Decision(old, DROPPED, f"not applied: {why}; plan again to review it")
            else:
                yield Decision(new, REPLANNED, "the data changed since the plan was made: applied as re-planned "
                                               "(same action, same location)")
    for a in fresh:
        if a.key not in saved_keys:
            yield Decision(a, SKIPPED, "not in the saved plan: run plan again to include it")
