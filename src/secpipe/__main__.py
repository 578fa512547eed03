"""``python -m secpipe``."""

from secpipe.cli.main import entrypoint

entrypoint()
