"""Make models: MNIST offline (`data`), the two CNNs (`cnns`), the training loop (`train`,
`checkpoint`), their measurement (`metrics`, `plots`, `report`), own symbols (`symbols`),
calibration (`calibration`) and LiteRT export (`export`). This is the only part of the
package that imports TensorFlow.
"""
