from secpipe.cli.main import entrypoint
entrypoint()
