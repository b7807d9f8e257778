"""Lets `python -m pytest plugins/kpicore-teams/tests` import kpicore_teams before the pack is installed.

pytest puts this file's folder on sys.path (the default "prepend" import mode), which is all it takes.
"""
