"""The core: errors, file-system primitives, hashing, progress, fault points, a root's paths.

Everything else in moss, and ``boot/``, builds on these modules; they import nothing
from moss outside this package.
"""
