"""Side-by-side benchmarks of dockyard against the peers found on this machine.

``python3 -m bench [names…] [--quick]`` from the repository root runs them and prints a table.
"""
