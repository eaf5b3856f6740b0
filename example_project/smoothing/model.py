"""A tf.function model: a moving-average filter with a gain, its weights kept in a tf.Module.

The entry point returns the module's tf.function; its input signature fixes the
shape. A tf.function holds its module only weakly, so the module is kept in a
module-level variable for as long as the conversion needs it.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf


class Smoother(tf.Module):
    def __init__(self, width: int = 5) -> None:
        super().__init__()
        self.kernel = tf.Variable(tf.fill([width, 1, 1], 1.0 / width), name="kernel")
        self.gain = tf.Variable(2.0, name="gain")

    @tf.function(input_signature=[tf.TensorSpec([1, 256, 1], tf.float32, name="signal")])
    def smooth(self, signal: tf.Tensor) -> tf.Tensor:
        return self.gain * tf.nn.conv1d(signal, self.kernel, stride=1, padding="SAME")


_module: Smoother | None = None


def build() -> Any:
    global _module
    _module = Smoother()
    return _module.smooth
