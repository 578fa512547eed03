import sys

import tensorflow as tf


def convert(src: str, dst: str) -> None:
    model = tf.keras.models.load_model(src, safe_mode=True, compile=False)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    with open(dst, "wb") as fh:
        fh.write(converter.convert())


if __name__ == "__main__":
    convert(sys.argv[1], sys.argv[2])
