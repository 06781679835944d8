"""Production deployment: the role map, the nginx template, release packaging and control.

``python -m deploy.package --out DIR`` builds a release; ``python -m deploy.control
start|stop|restart|status --host NAME --release DIR`` runs one host's share of the
role map from it. See docs/scaling.md.
"""
