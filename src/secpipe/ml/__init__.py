"""Training and evaluation steps of the MLSecOps pipeline (stages 5 and 6).

* :mod:`secpipe.ml.train_step` (``train``) runs the project's training code in a subprocess,
  never in the secpipe process: either secpipe's own stratified k-fold cross-validation with early
  stopping around an estimator the project builds (:mod:`secpipe.ml.worker`,
  :mod:`secpipe.ml.cv`), or the project's own command, which must write a metrics file in the
  schema of :mod:`secpipe.ml.schema`. The model is saved with skops (a format that cannot carry
  code); pickle only on request. It can hold a seeded, stratified share of the table out
  (:func:`secpipe.ml.data.split_file`) and run under the project's own interpreter
  (:mod:`secpipe.ml.interpreter`).
* :mod:`secpipe.ml.evaluate_step` (``evaluate``) loads the model safely (skops with a
  trusted-types check), scores a held-out set (:mod:`secpipe.ml.scoring`), perturbs it
  (:mod:`secpipe.ml.perturb`), compares with the last passed run (:mod:`secpipe.ml.history`),
  draws SVG plots (:mod:`secpipe.ml.svg`) and writes a model card (:mod:`secpipe.ml.card`).

Every number lands in ``StepResult.metrics`` so a gate can bound it (``accuracy >= 0.8``); the
names each step can produce are declared in :mod:`secpipe.ml.names` (``produces_metrics``), so a
bound no step of a pipeline can produce is refused when the pipeline is planned.
"""
