"""Model-file scanner: finds code hidden in serialized models, without ever loading them.

Layout: :mod:`.step` (the ``scan-models`` step kind, files from the scanner walker) drives
:mod:`.engine`, which types each file by content (:mod:`.sniff`) and dispatches to a reader:
:mod:`.pickle_vm` (a static pickle machine) with :mod:`.pickle_scan` and :mod:`.callables`
(allowlist and severity ladder); :mod:`.archives` with :mod:`.zipread` (ZIP by central directory,
tar, 7z, compressed streams); :mod:`.formats` (NumPy, safetensors, GGUF) with :mod:`.template`
(chat templates, parsed never rendered); :mod:`.tf_onnx` with :mod:`.protobuf` (ONNX, SavedModel,
no TensorFlow needed); :mod:`.keras_fmt` (Keras configs, HDF5). Findings and rules live in
:mod:`.report`.
"""
