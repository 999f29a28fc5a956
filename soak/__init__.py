"""``make soak``: a fault-injecting soak of every transport against a real server.

The server side (hypercorn serving ``SoakApp`` behind ``FaultProxy``) runs in its own
process (``python -m soak.server``) so the client process's RSS is measured alone.
"""
