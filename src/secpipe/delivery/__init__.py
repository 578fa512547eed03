"""Delivery of the project's container image: a daemonless, reproducible build with buildah
(:mod:`secpipe.delivery.build_step`, the ``build-image`` step), its base image taken from a local
OCI layout (:mod:`secpipe.delivery.base_image`) and never pulled from a public registry.

See ``docs/build-image.md``.
"""
