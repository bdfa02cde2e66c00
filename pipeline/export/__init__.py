"""Export of a trained network to ONNX, TensorFlow SavedModel and TFLite, with a numerical parity
check.

Importing this package is cheap; torch, onnxruntime and TensorFlow load only in the modules that
need them, which the export stage imports when it runs.
"""
