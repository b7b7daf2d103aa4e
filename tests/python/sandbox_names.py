"""Name resolution for the sandbox's hosts, which live on loopback: the Python stand-in for the
cloud description's loopback address (and its loopback ports) that the Rust clients use.

The tests' own clients call `resolve_on_loopback` in-process; programs they start (the real
`az`) get it through `az_site/sitecustomize.py` and the environment it reads.
"""

import socket

_system_getaddrinfo = socket.getaddrinfo


def resolve_on_loopback(suffix, loopback, ports=None):
    """Makes every host under `suffix` resolve to `loopback` ("127.0.0.1:PORT"), and Azure's
    other ports (`ports`: {"5671": PORT}) to the sandbox's ports for them."""
    address, port = loopback.rsplit(":", 1)
    ports = {int(azure): int(local) for azure, local in (ports or {}).items()}

    def sandbox_getaddrinfo(host, service, *args, **kwargs):
        if isinstance(host, str) and host.endswith("." + suffix):
            try:
                wanted = int(service)
            except (TypeError, ValueError):
                wanted = None
            local = ports.get(wanted, int(port))
            return _system_getaddrinfo(address, local, *args, **kwargs)
        return _system_getaddrinfo(host, service, *args, **kwargs)

    socket.getaddrinfo = sandbox_getaddrinfo


def restore():
    socket.getaddrinfo = _system_getaddrinfo
