"""The fault suite (`make faults`): real `kpi serve` processes against loopback Slack, SMTP and databases
that fail on purpose; every scenario counts what was expected, delivered, duplicated, lost and unknown."""
