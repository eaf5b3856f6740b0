"""A TF1-style model: `build` returns a live tf.compat.v1.Session with its input and output tensors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import tensorflow as tf


def build() -> tuple[Any, list[Any], list[Any]]:
    graph = tf.Graph()  # a graph of its own: nothing leaks into the next conversion
    with graph.as_default():
        signal = tf.compat.v1.placeholder(tf.float32, [1, 64], name="signal")
        w = tf.compat.v1.get_variable("w", [64, 8], initializer=tf.compat.v1.glorot_uniform_initializer(seed=1))
        b = tf.compat.v1.get_variable("b", [8], initializer=tf.compat.v1.zeros_initializer())
        scores = tf.nn.softmax(tf.matmul(signal, w) + b, name="scores")
        session = tf.compat.v1.Session(graph=graph)
        session.run(tf.compat.v1.global_variables_initializer())
    return session, [signal], [scores]


def calibration() -> Iterator[list[np.ndarray]]:
    rng = np.random.default_rng(0)
    for _ in range(50):
        yield [rng.normal(size=(1, 64)).astype(np.float32)]
