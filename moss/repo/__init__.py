"""Repositories: configuration, index fetch and verification, and the download cache."""
