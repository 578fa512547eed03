"""Benign Keras and TensorFlow files saved by TensorFlow/Keras themselves.

Run with the TensorFlow venv's python: ``python _benign_tf.py ROOT``; prints a JSON list of
labels (path, kind, description) for gen_corpus.py to merge.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(root: Path) -> list[dict[str, str]]:
    import keras
    import numpy as np
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    out: list[dict[str, str]] = []

    def ok(rel: str, kind: str, fmt: str, desc: str) -> None:
        out.append({"path": rel, "technique": kind, "fmt": fmt, "description": desc})

    base = root / "benign"
    (base / "keras").mkdir(parents=True, exist_ok=True)
    (base / "savedmodel").mkdir(parents=True, exist_ok=True)
    dense = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dropout(0.1), keras.layers.Dense(3, "softmax")])
    dense.compile("adam", "sparse_categorical_crossentropy")
    dense.fit(np.random.rand(32, 8), np.random.randint(0, 3, 32), epochs=1, verbose=0)
    inp = keras.Input((16, 16, 3))
    h = keras.layers.Conv2D(4, 3, activation="relu")(inp)
    h = keras.layers.BatchNormalization()(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    cnn = keras.Model(inp, keras.layers.Dense(2)(h))
    rnn = keras.Sequential([keras.Input((5, 4)), keras.layers.LSTM(8), keras.layers.Dense(1)])
    for name, m in (("dense", dense), ("cnn", cnn), ("rnn", rnn)):
        m.save(base / f"keras/{name}.keras")
        ok(f"benign/keras/{name}.keras", "keras-v3", "keras", f"Keras 3 {name} model .keras")
        m.save(base / f"keras/{name}.h5")
        ok(f"benign/keras/{name}.h5", "keras-h5", "keras", f"Keras {name} model saved as HDF5")
    dense.save_weights(base / "keras/dense.weights.h5")
    ok("benign/keras/dense.weights.h5", "keras-weights", "keras", "Keras weights-only .h5")

    class Scaler(tf.Module):
        def __init__(self) -> None:
            self.w = tf.Variable(tf.ones([4]), name="w")
            self.b = tf.Variable(tf.zeros([4]), name="b")

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32)])
        def __call__(self, x: tf.Tensor) -> tf.Tensor:
            return x * self.w + self.b

    tf.saved_model.save(Scaler(), str(base / "savedmodel/scaler"))
    ok("benign/savedmodel/scaler", "tf-savedmodel", "savedmodel",
       "tf.saved_model.save of a tf.Module with variables (SaveV2/RestoreV2 ops)")
    dense.export(str(base / "savedmodel/keras_export"))
    ok("benign/savedmodel/keras_export", "tf-savedmodel", "savedmodel",
       "Keras model.export() SavedModel")
    tf.saved_model.save(cnn, str(base / "savedmodel/cnn"))
    ok("benign/savedmodel/cnn", "tf-savedmodel", "savedmodel",
       "tf.saved_model.save of a functional Keras CNN")
    with tf.Graph().as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 4], name="x")
        w = tf.compat.v1.get_variable("w", [4], initializer=tf.compat.v1.ones_initializer())
        tf.identity(x * w, name="y")
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            b = tf.compat.v1.saved_model.Builder(str(base / "savedmodel/v1_text"))
            b.add_meta_graph_and_variables(sess, ["serve"])
            b.save(as_text=True)
    ok("benign/savedmodel/v1_text", "tf-savedmodel-text", "savedmodel",
       "TF1-style SavedModel saved as text (saved_model.pbtxt) with SaveV2/RestoreV2")
    return out


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))
