"""From a selection's layout to a ``/usr`` tree of hard links into the store.

``plan`` turns layout entries into the tree to build (and refuses escapes),
``blit`` builds it with directory file descriptors.
"""
