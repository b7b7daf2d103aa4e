"""Loaded by every Python program the tests start with this folder on PYTHONPATH (the real
`az`): resolves the sandbox's hosts to its loopback address, as an /etc/hosts entry would,
without changing the program itself."""

import os

import sandbox_names

if os.environ.get("HUBSETUP_SANDBOX_LOOPBACK"):
    sandbox_names.resolve_on_loopback(
        os.environ["HUBSETUP_SANDBOX_SUFFIX"], os.environ["HUBSETUP_SANDBOX_LOOPBACK"]
    )
