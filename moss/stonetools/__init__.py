"""Tools for ``.stone`` files themselves: pack a tree, extract a package, write an index.

They use the format (:mod:`moss.stone`) and the core, never a root's databases.
"""
