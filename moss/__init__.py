"""moss: the Serpent OS package manager.

Every change is a transaction that builds a complete new ``/usr`` from a
content-addressed store and swaps it in atomically; every transaction is a
numbered state that can be re-activated later, from the running system or from
the boot menu.
"""

__version__ = "0.1.0"
