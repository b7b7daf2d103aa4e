"""Name resolution for the sandbox's hosts, which live on loopback: the Python stand-in for the
cloud description's loopback address that the Rust clients use.

The tests' own clients call `resolve_on_loopback` in-process; programs they start (the real
`az`) get it through `az_site/sitecustomize.py` and the environment it reads.
"""

import socket

_system_getaddrinfo = socket.getaddrinfo


def resolve_on_loopback(suffix, loopback):
    """Makes every host under `suffix` resolve to `loopback` ("127.0.0.1:PORT")."""
    address, port = loopback.rsplit(":", 1)

    def sandbox_getaddrinfo(host, service, *args, **kwargs):
        if isinstance(host, str) and host.endswith("." + suffix):
            return _system_getaddrinfo(address, int(port), *args, **kwargs)
        return _system_getaddrinfo(host, service, *args, **kwargs)

    socket.getaddrinfo = sandbox_getaddrinfo


def restore():
    socket.getaddrinfo = _system_getaddrinfo
