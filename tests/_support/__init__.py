"""Helpers shared by the test folders that are not tests themselves (``tests/`` is on
``sys.path`` through its conftest, so ``from _support.raw_server import RawServer``
works from every folder)."""
