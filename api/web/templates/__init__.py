"""Jinja2 templates of the web pages (a package only so that setuptools ships the files)."""
