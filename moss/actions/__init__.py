"""What the commands do, as library calls: transactions, queries, subscription changes.

The top of the library: these modules may import any layer below; only
:mod:`moss.cli` imports them.
"""
