"""Container networking: drivers none/host/bridge, IPAM, NAT, published ports, /etc files.

::

    manager.py   NetworkManager (engine.networks): networks API + validate/setup/teardown hooks
    state.py     networks, endpoints (IPAM allocations), sandboxes — persisted JSON
    ipam.py      subnets, addresses, MACs (pure)
    netlink.py   bridge, veth, pinned netns (pyroute2)
    nat.py       iptables MASQUERADE/FORWARD per network
    proxy.py     userland port proxy (asyncio, one thread)
    ports.py     PortBindings/ExposedPorts ↔ NetworkSettings.Ports
    files.py     /etc/hosts, /etc/resolv.conf, /etc/hostname
    views.py     Engine API JSON shapes
"""
