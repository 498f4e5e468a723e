"""The steps that bring each domain up to date for the demo workspace, in order.

Each entry is ``"module:function"`` naming a function ``fn(ctx: AppContext, workspace_id: int)
-> None`` that ingests everything the workspace's channels have to offer and computes what
that domain derives from it, through the domain's own services and jobs (the same code the
worker runs). ``dialogo demo`` calls them after the simulated history has been published.
A domain adds its line here; the demo imports them lazily so a missing domain fails loudly.
"""

from __future__ import annotations

DEMO_STEPS: list[str] = [
    "dialogo.analytics.demo:demo_step",
    "dialogo.influence.refresh:demo_step",
    "dialogo.inbox.demo:demo_step",
    "dialogo.listening.demo:demo_step",
    "dialogo.audience.demo:demo_step",
]
