"""What ``secpipe init`` learns about a project, and the ``secpipe.yaml`` it writes from it.

The project is read, never run: :func:`scan_project` walks it with bounds (links never followed;
version control, virtual environments, ``node_modules`` and secpipe's state skipped; at most
:data:`~secpipe.project_scan.walk.MAX_FILES` files listed and
:data:`~secpipe.project_scan.walk.MAX_BYTES` bytes read, each file only up to its head) and
classifies files by name and content: model files (magic bytes where cheap; nothing is
unpickled or imported), training scripts, notebooks, data tables, requirement and lock files,
container files and infrastructure as code (Kubernetes YAML read with the safe loader).

- :mod:`.model` — the result types (:class:`ProjectScan` and what it lists);
- :mod:`.walk` — the bounded walk and head reads;
- :mod:`.classify` — one file to one finding of what it is;
- :mod:`.choose` — the wiring choices (:class:`Choices`: which model to sign, whether to train);
- :mod:`.render` — the commented ``secpipe.yaml`` text;
- :mod:`.gitignore` — adding ``.secpipe/`` to the project's ``.gitignore`` once.

Nothing here prints: ``secpipe init`` (``cli/init_cmd.py``) asks the questions and renders.
"""

from secpipe.project_scan.choose import Choices, default_choices, training_plan
from secpipe.project_scan.model import DataFile, ModelFile, ProjectScan, TrainingScript
from secpipe.project_scan.render import render_config
from secpipe.project_scan.scan import scan_project

__all__ = ["Choices", "DataFile", "ModelFile", "ProjectScan", "TrainingScript",
           "default_choices", "render_config", "scan_project", "training_plan"]
