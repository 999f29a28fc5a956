"""``make bench``: this project's clients against httpx, httpx2, aiohttp, urllib3 and requests.

Run ``python benchmarks/run.py --help``. Nothing here is part of ``make test``.
"""
