"""Test helpers: a scriptable ASGI app and a real local server to run it on."""

from ._scenario_app import ScenarioApp
from ._server import ServerHandle, run_server

__all__ = ["ScenarioApp", "ServerHandle", "run_server"]
