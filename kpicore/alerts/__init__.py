"""Alerts: ``[alerts.NAME]`` rules (``rules``, pure parsing), their schedule (``schedule``), their check at
start-up (``check``), their evaluation (``evaluate``) and their text (``message``). ``kpi serve`` sends them
(``kpicore.serve.alerts``)."""
