"""dockyard: a container engine, image builder and OCI registry in Python.

This package is the engine; it imports nothing from Jupyter (see
``dockyard_jupyter`` for the notebook front end).
"""

__version__ = "0.1.0"
API_VERSION = "1.45"
"""The Engine API version the daemon speaks; clients may negotiate down to MIN_API_VERSION."""
MIN_API_VERSION = "1.24"
