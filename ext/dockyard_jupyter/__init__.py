"""dockyard_jupyter: the notebook front end of dockyard (magics, widgets, server extension).

Entry points only; heavy modules are imported lazily.
"""

__version__ = "0.1.0"
