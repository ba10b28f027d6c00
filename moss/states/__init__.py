"""Operations on states that exist: activate, recover, list, prune, verify, boot entries.

``mutating`` is how every command that changes a root begins (lock, repair,
settle a boot-time switch); ``operations`` holds the state commands.
"""
