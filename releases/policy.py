"""Whether a step of a release may start now: the hook the executor asks before every step.

`may_start_step(release, step)` returns None when the step may start, or a sentence saying why
not (the executor then waits and shows it). This issue has nothing to refuse beyond what the
state machine already checks; the next issue plugs approvals and change windows (freeze
calendars) in here, so that one function stays the only place the executor asks.
"""


def may_start_step(release, step) -> str | None:
    return None
