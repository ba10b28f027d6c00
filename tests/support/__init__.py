"""Helpers the tests share: real artefacts fetched once and cached on the machine."""
