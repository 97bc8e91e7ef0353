"""Data: label maps, the EMNIST and UNIPEN files, datasets and splits, the cache, the sketchpad's brush and
preprocessing (any image -> the 28x28 a model reads). Numpy only: nothing here imports Keras."""
