"""Install a missing Debian package with apt-get, or say clearly why that is not possible."""

from __future__ import annotations

import os
import shutil
import subprocess

__all__ = ["AptError", "ensure_binary"]


class AptError(RuntimeError):
    """The binary is missing and apt-get could not install it."""


def _find(binary: str) -> str | None:
    found = shutil.which(binary)
    if found:
        return found
    for folder in ("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"):
        path = os.path.join(folder, binary)
        if os.access(path, os.X_OK):
            return path
    return None


def ensure_binary(binary: str, package: str, *, log: object = print) -> str:
    """The path of ``binary``, installing Debian's ``package`` first when it is missing.

    Runs ``apt-get update`` then ``apt-get install -y --no-install-recommends package``
    (as root, non-interactive, each bounded to 10 minutes). Raises ``AptError`` with a
    message that says what to do by hand when that is not possible.
    """
    found = _find(binary)
    if found:
        return found
    manual = f"install it by hand (`sudo apt-get install {package}`) or put `{binary}` on PATH"
    if shutil.which("apt-get") is None:
        raise AptError(f"`{binary}` is missing and apt-get is not available: {manual}.")
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        raise AptError(f"`{binary}` is missing and apt-get needs root: {manual}.")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    steps = (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
    )
    for command in steps:
        if callable(log):
            log(f"running: {' '.join(command)}")
        try:
            done = subprocess.run(
                command, env=env, capture_output=True, text=True, timeout=600, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise AptError(f"`{' '.join(command)}` failed ({exc}): {manual}.") from exc
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
            raise AptError(
                f"`{' '.join(command)}` exited {done.returncode}: {' | '.join(tail)}; {manual}."
            )
    found = _find(binary)
    if not found:
        raise AptError(f"apt-get installed {package} but `{binary}` is still missing: {manual}.")
    return found
