"""CSS and scripts of the web pages, served at /static (a package only so that setuptools ships them)."""
