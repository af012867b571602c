"""Run a model file: model files and their sidecars (`modelfile`), the LiteRT and Keras
runners (`runners`), TensorFlow's quiet import (`backend`, `quiet`) and the not-a-digit
detector (`ood`). Nothing here knows about images or the command line.
"""
