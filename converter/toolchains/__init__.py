"""Toolchains: the Python environments that convert kinds of source TensorFlow's cannot.

``environments`` makes one on first use (locked, never half-made) and says what
it holds. Imports only ``converter``'s face: no TensorFlow, no torch, no jax here;
those live in the environments this room makes.
"""
