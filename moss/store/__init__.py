"""The content-addressed store and what fills it.

``incoming`` reads and checks a package before anything is written, ``ingest``
streams its content into the store, ``assets`` is the store itself.
"""
