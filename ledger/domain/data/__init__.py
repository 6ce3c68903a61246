"""Data files the domain ships (read with importlib.resources): cn_workdays.json, the State Council calendars."""
