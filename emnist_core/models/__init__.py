"""Models: the architectures as plain data and their Keras builders, saved models (store), confidence
calibration and how a model is scored. Keras is imported only where a model is built or loaded."""
