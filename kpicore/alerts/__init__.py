"""Alerts: ``[alerts.NAME]`` rules (``rules.py``, pure parsing) and their evaluation (``evaluate.py``)."""
