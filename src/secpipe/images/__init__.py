"""Container images read without a daemon: OCI layouts and archives, layers applied in memory.

``open_image(path)`` reads an OCI image layout folder, an ``oci-archive`` or a ``docker save``
tar (:mod:`secpipe.images.layout`); ``apply_layers(image)`` gives the final filesystem with
whiteouts applied, the files deleted in later layers and the hostile members
(:mod:`secpipe.images.layers`). Every blob is verified against its digest and size.
"""

from __future__ import annotations

from secpipe.images.layers import (
    DeletedFile,
    FileEntry,
    FileTree,
    HostileMember,
    ImageBomb,
    LayerError,
    LayerStats,
    Limits,
    SymlinkLoop,
    apply_layers,
    export_files,
)
from secpipe.images.layout import (
    BlobMismatch,
    HistoryEntry,
    Image,
    ImageConfig,
    ImageError,
    Layer,
    UnsupportedImage,
    open_image,
)

__all__ = [
    "BlobMismatch",
    "DeletedFile",
    "FileEntry",
    "FileTree",
    "HistoryEntry",
    "HostileMember",
    "Image",
    "ImageBomb",
    "ImageConfig",
    "ImageError",
    "Layer",
    "LayerError",
    "LayerStats",
    "Limits",
    "SymlinkLoop",
    "UnsupportedImage",
    "apply_layers",
    "export_files",
    "open_image",
]
