"""Test-only launchers and fixtures that run kpicore's real code with a seam installed from outside."""
