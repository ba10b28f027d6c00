"""Deciding what a new state holds, before anything is fetched or written.

``request`` turns what the user asked for into packages, ``resolve`` answers
providers from the repositories' offers, ``selection`` is the set a state holds.
"""
