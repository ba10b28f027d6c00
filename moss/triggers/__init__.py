"""Triggers: commands packages ask for when paths they care about change.

``tx.d`` triggers run on the new tree before it becomes active (isolated,
``/etc`` read-only); ``sys.d`` triggers run on the live system afterwards.
"""

from moss.triggers.run import run_system_triggers, run_transaction_triggers

__all__ = ["run_system_triggers", "run_transaction_triggers"]
